package jobspec

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func decodeTask(ev *evaluator, b *hclsyntax.Block, g *groupScope) (*Task, []portRef, hcl.Diagnostics) {
	body := b.Body
	diags := taskSpec.check(body, b.DefRange())
	t := &Task{
		Name:        b.Labels[0],
		Resources:   defaultResources(),
		KillTimeout: defaultKillTimeout,
		Logs:        defaultLogs(),
	}
	diags = append(diags, checkName("task name", t.Name, b.LabelRanges[0], false)...)
	if a := body.Attributes["driver"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			t.Driver = s
			if !driverSupported(s) {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  fmt.Sprintf("Unsupported driver %q", s),
					Detail:   fmt.Sprintf("Drover does not support the %q task driver; the supported drivers are %s.", s, strings.Join(supportedDrivers, ", ")),
					Subject:  a.Expr.Range().Ptr(),
					Context:  a.SrcRange.Ptr(),
				})
			}
		}
	}
	diags = append(diags, setStr(ev, body, "user", &t.User)...)
	diags = append(diags, setStr(ev, body, "kill_signal", &t.KillSignal)...)
	for _, f := range []named[time.Duration]{{"kill_timeout", &t.KillTimeout}, {"shutdown_delay", &t.ShutdownDelay}} {
		name, dst := f.name, f.dst
		if a := body.Attributes[name]; a != nil {
			d, ok, ds := ev.duration(a)
			diags = append(diags, ds...)
			if ok {
				*dst = d
			}
		}
	}
	if a := body.Attributes["leader"]; a != nil {
		v, ok, ds := ev.boolean(a)
		diags = append(diags, ds...)
		if ok {
			t.Leader = v
		}
	}
	var ds hcl.Diagnostics
	t.Env, ds = decodeFreeMap(ev, body, "env")
	diags = append(diags, ds...)
	t.Meta, ds = decodeFreeMap(ev, body, "meta")
	diags = append(diags, ds...)

	t.MaxRunDuration, ds = decodeMaxRunDuration(ev, body, g.job.typ)
	diags = append(diags, ds...)

	restart := g.restart
	var refs []portRef
	identities := map[string]hcl.Range{}
	actions := map[string]hcl.Range{}
	for _, blk := range body.Blocks {
		var ds hcl.Diagnostics
		switch blk.Type {
		case "volume_mount":
			if usable(blk, 0) {
				var m *VolumeMount
				m, ds = decodeVolumeMount(ev, blk, g.volumes)
				t.VolumeMounts = append(t.VolumeMounts, *m)
			}
		case "dispatch_payload":
			if usable(blk, 0) {
				t.DispatchPayload, ds = decodeDispatchPayload(ev, blk, g.job.parameterized)
			}
		case "identity":
			if !usable(blk, optLabel) {
				break
			}
			var id *WorkloadIdentity
			id, ds = decodeIdentity(ev, blk)
			if prev, dup := identities[id.Name]; dup {
				ds = append(ds, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate identity",
					Detail:   fmt.Sprintf("Task %q already has an identity named %q at %s; give each identity its own name.", t.Name, id.Name, prev),
					Subject:  blk.DefRange().Ptr(),
				})
				break
			}
			identities[id.Name] = blk.DefRange()
			t.Identities = append(t.Identities, *id)
		case "action":
			if !usable(blk, 1) {
				break
			}
			var act *Action
			act, ds = decodeAction(ev, blk)
			if prev, dup := actions[act.Name]; dup {
				ds = append(ds, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate action",
					Detail:   fmt.Sprintf("Task %q already has an action %q at %s.", t.Name, act.Name, prev),
					Subject:  blk.LabelRanges[0].Ptr(),
				})
				break
			}
			actions[act.Name] = blk.LabelRanges[0]
			t.Actions = append(t.Actions, *act)
		case "config":
			t.Config, ds = decodeConfig(ev, blk.Body)
			if !ds.HasErrors() && ev.checkConfig != nil && driverSupported(t.Driver) {
				ds = append(ds, configProblems(blk, t.Driver, ev.checkConfig(t.Driver, t.Config))...)
			}
		case "resources":
			var p patch[Resources]
			p, ds = resourcesFlat.decode(ev, blk)
			t.Resources = p.apply(t.Resources)
			ds = append(ds, g.taskDisk(ev, blk.Body.Attributes["disk"])...)
			for _, nb := range blk.Body.Blocks {
				if nb.Type == "network" && usable(nb, 0) {
					ds = append(ds, g.taskNetwork(ev, nb)...)
				}
			}
			// memory_max = -1 is Nomad's "no limit above memory".
			if r, a := t.Resources, blk.Body.Attributes["memory_max"]; a != nil && r.MemoryMaxMB > 0 && r.MemoryMaxMB < r.MemoryMB {
				ds = append(ds, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid memory_max",
					Detail:   fmt.Sprintf("memory_max (%d) must be at least memory (%d).", r.MemoryMaxMB, r.MemoryMB),
					Subject:  a.Expr.Range().Ptr(),
				})
			}
		case "restart":
			var p patch[RestartPolicy]
			p, ds = restartFlat.decode(ev, blk)
			restart = append(restart[:len(restart):len(restart)], p...)
		case "lifecycle":
			var p patch[Lifecycle]
			p, ds = lifecycleFlat.decode(ev, blk)
			l := p.apply(Lifecycle{})
			t.Lifecycle = &l
		case "template":
			var tmpl *Template
			if tmpl, ds = decodeTemplate(ev, blk); tmpl != nil {
				t.Templates = append(t.Templates, *tmpl)
			}
		case "logs":
			var p patch[Logs]
			p, ds = logsFlat.decode(ev, blk)
			t.Logs = p.apply(t.Logs)
		case "service":
			var s *Service
			var r []portRef
			if s, r, ds = decodeService(ev, blk, g.job.id+"-"+g.group+"-"+t.Name, false); s != nil {
				t.Services = append(t.Services, *s)
				refs = append(refs, r...)
			}
		case "constraint":
			var c *Constraint
			if c, ds = decodeConstraint(ev, blk); c != nil {
				t.Constraints = append(t.Constraints, *c)
			}
		case "affinity":
			var a *Affinity
			if a, ds = decodeAffinity(ev, blk); a != nil {
				t.Affinities = append(t.Affinities, *a)
			}
		}
		diags = append(diags, ds...)
	}
	r := restart.apply(defaultRestart(g.job.typ))
	t.Restart = &r
	return t, refs, diags
}

func decodeTemplate(ev *evaluator, b *hclsyntax.Block) (*Template, hcl.Diagnostics) {
	body := b.Body
	diags := templateSpec.check(body, b.DefRange())
	t := defaultTemplate()
	for _, f := range []named[string]{
		{"data", &t.Data}, {"source", &t.Source}, {"destination", &t.Destination},
		{"change_signal", &t.ChangeSignal}, {"left_delimiter", &t.LeftDelim}, {"right_delimiter", &t.RightDelim},
	} {
		name, dst := f.name, f.dst
		diags = append(diags, setStr(ev, body, name, dst)...)
	}
	if a := body.Attributes["env"]; a != nil {
		v, ok, ds := ev.boolean(a)
		diags = append(diags, ds...)
		if ok {
			t.Env = v
		}
	}
	if a := body.Attributes["change_mode"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			diags = append(diags, checkEnum(a, s, []string{"restart", "signal", "noop", "script"})...)
			t.ChangeMode = s
		}
	}
	if a := body.Attributes["splay"]; a != nil {
		d, ok, ds := ev.duration(a)
		diags = append(diags, ds...)
		if ok {
			t.Splay = d
		}
	}
	diags = append(diags, setInt(ev, body, "uid", -1, maxInt32, &t.UID)...)
	diags = append(diags, setInt(ev, body, "gid", -1, maxInt32, &t.GID)...)
	diags = append(diags, setBool(ev, body, "once", &t.Once)...)
	diags = append(diags, setBool(ev, body, "error_on_missing_key", &t.ErrorOnMissingKey)...)
	for _, blk := range body.Blocks {
		var ds hcl.Diagnostics
		switch {
		case blk.Type == "wait" && usable(blk, 0):
			t.Wait, ds = decodeTemplateWait(ev, blk)
		case blk.Type == "change_script" && usable(blk, 0):
			t.ChangeScript, ds = decodeChangeScript(ev, blk)
		}
		diags = append(diags, ds...)
	}
	if t.ChangeMode == "script" && t.ChangeScript == nil && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing change_script",
			Detail:   `change_mode = "script" needs a change_script { command = "..." } block.`,
			Subject:  b.DefRange().Ptr(),
		})
	}
	if a := body.Attributes["perms"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			if _, err := strconv.ParseUint(s, 8, 12); err != nil {
				diags = append(diags, typeErr(a, `an octal file mode such as "0644"`, nil)...)
			}
			t.Perms = s
		}
	}
	// Nomad upper-cases signals; doing the same keeps "sighup" and
	// "SIGHUP" the same job.
	t.ChangeSignal = strings.ToUpper(t.ChangeSignal)
	if t.ChangeMode == "signal" && t.ChangeSignal == "" {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing change_signal",
			Detail:   `change_mode = "signal" needs change_signal.`,
			Subject:  b.DefRange().Ptr(),
		})
	}
	if t.Data == "" && t.Source == "" && body.Attributes["data"] == nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing template content",
			Detail:   `A template needs "data" or "source".`,
			Subject:  b.DefRange().Ptr(),
		})
	}
	if t.Data != "" && t.Source != "" {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Conflicting template content",
			Detail:   `Set either "data" or "source", not both.`,
			Subject:  body.Attributes["source"].NameRange.Ptr(),
		})
	}
	if body.Attributes["destination"] != nil && t.Destination == "" && !hasUnknown(diags) {
		diags = append(diags, typeErr(body.Attributes["destination"], "a non-empty path", nil)...)
	}
	return &t, diags
}
