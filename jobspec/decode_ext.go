package jobspec

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Decoders of the blocks added for issue 15: the job's ui and node_pool,
// group volumes, scaling and disconnect, and task volume mounts, dispatch
// payloads, identities and actions. Validation follows Nomad's
// (nomad/structs) so that a file Nomad accepts is accepted here and one
// Nomad refuses is refused with a position.

var uiSpec = newSpec("ui", specOpts{
	attrs:  []string{"description"},
	blocks: map[string]int{"link": 0},
})

var uiLinkSpec = newSpec("link", specOpts{
	attrs:    []string{"label", "url"},
	required: []string{"label", "url"},
})

var volumeSpec = newSpec("volume", specOpts{
	attrs: []string{"type", "source", "read_only", "per_alloc", "sticky", "access_mode", "attachment_mode"},
	nomad: map[string]string{"mount_options": hintCSI},
})

var volumeMountSpec = newSpec("volume_mount", specOpts{
	attrs:    []string{"volume", "destination", "read_only", "propagation_mode"},
	required: []string{"volume", "destination"},
	nomad: map[string]string{
		"selinux_label": "Drover does not relabel volumes; label the host directory yourself (chcon -Rt container_file_t).",
	},
})

var scalingSpec = newSpec("scaling", specOpts{
	attrs:  []string{"min", "max", "enabled", "type"},
	blocks: map[string]int{"policy": 0},
	single: []string{"policy"},
})

var disconnectSpec = newSpec("disconnect", specOpts{
	attrs: []string{"lost_after", "stop_on_client_after", "replace", "reconcile"},
})

var dispatchPayloadSpec = newSpec("dispatch_payload", specOpts{
	attrs:    []string{"file"},
	required: []string{"file"},
})

var identitySpec = newSpec("identity", specOpts{
	attrs: []string{"name", "aud", "env", "file", "ttl", "change_mode", "change_signal"},
	nomad: map[string]string{
		"filepath":     "Drover writes the token to secrets/nomad_<name>.jwt; read it from there.",
		"service_name": "Service identities are for Consul and Vault. " + hintConsul,
	},
})

var actionSpec = newSpec("action", specOpts{
	attrs:    []string{"command", "args"},
	required: []string{"command"},
})

var templateWaitSpec = newSpec("wait", specOpts{
	attrs: []string{"min", "max"},
})

var changeScriptSpec = newSpec("change_script", specOpts{
	attrs:    []string{"command", "args", "timeout", "fail_on_error"},
	required: []string{"command"},
})

// nodePoolName is Nomad's rule for node pool names (structs.validNodePoolName).
var nodePoolName = regexp.MustCompile(`^[a-zA-Z0-9-_]{1,128}$`)

// reconcileOptions are Nomad's disconnect.reconcile values.
var reconcileOptions = []string{"best_score", "keep_original", "keep_replacement", "longest_running"}

// decodeNodePool reads the job's node_pool. "default" is stored as ""
// (JobNodePool reads it back as "default") so that spelling out the
// default is not a change of the job.
func decodeNodePool(ev *evaluator, body *hclsyntax.Body) (string, hcl.Diagnostics) {
	a := body.Attributes["node_pool"]
	if a == nil {
		return "", nil
	}
	s, ok, diags := ev.str(a)
	if !ok {
		return "", diags
	}
	if !nodePoolName.MatchString(s) {
		return "", append(diags, typeErr(a, "a node pool name of 1 to 128 letters, digits, dashes and underscores", nil)...)
	}
	if s == DefaultNodePool {
		return "", diags
	}
	return s, diags
}

func decodeUI(ev *evaluator, b *hclsyntax.Block) (*JobUI, hcl.Diagnostics) {
	diags := uiSpec.check(b.Body, b.DefRange())
	ui := &JobUI{}
	diags = append(diags, setStr(ev, b.Body, "description", &ui.Description)...)
	for _, lb := range b.Body.Blocks {
		if lb.Type != "link" || !usable(lb, 0) {
			continue
		}
		diags = append(diags, uiLinkSpec.check(lb.Body, lb.DefRange())...)
		var l UILink
		diags = append(diags, setStr(ev, lb.Body, "label", &l.Label)...)
		diags = append(diags, setStr(ev, lb.Body, "url", &l.URL)...)
		ui.Links = append(ui.Links, l)
	}
	return ui, diags
}

func decodeVolume(ev *evaluator, b *hclsyntax.Block) (*VolumeRequest, hcl.Diagnostics) {
	body := b.Body
	diags := volumeSpec.check(body, b.DefRange())
	v := &VolumeRequest{Name: b.Labels[0], Type: "host"}
	diags = append(diags, checkName("volume name", v.Name, b.LabelRanges[0], false)...)
	if a := body.Attributes["type"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			switch s {
			case "host":
			case "csi":
				diags = append(diags, unsupportedValue("type", s, hintCSI, a.Expr.Range()))
			default:
				diags = append(diags, checkEnum(a, s, []string{"host"})...)
			}
			v.Type = s
		}
	}
	if a := body.Attributes["source"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok && s == "" {
			diags = append(diags, typeErr(a, "the name of a host_volume of the agents' configuration", nil)...)
		}
		v.Source = s
	} else {
		diags = append(diags, missingArg(b, "source", "host volume"))
	}
	for _, f := range []named[bool]{{"read_only", &v.ReadOnly}, {"per_alloc", &v.PerAlloc}, {"sticky", &v.Sticky}} {
		diags = append(diags, setBool(ev, body, f.name, f.dst)...)
	}
	// Dynamic host volumes (Nomad 1.10) take access and attachment modes
	// to pick a volume; a static host volume is a directory that every
	// allocation of the node shares, so the modes change nothing here.
	for _, name := range []string{"access_mode", "attachment_mode"} {
		if a := body.Attributes[name]; a != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  fmt.Sprintf("%s is ignored", name),
				Detail:   fmt.Sprintf("Drover's host volumes are directories configured on the agent (host_volume); %s selects among dynamic or CSI volumes, which Drover does not have, and is ignored.", name),
				Subject:  a.NameRange.Ptr(),
			})
		}
	}
	return v, diags
}

var propagationModes = []string{"private", "host-to-task", "bidirectional"}

func decodeVolumeMount(ev *evaluator, b *hclsyntax.Block, volumes map[string]bool) (*VolumeMount, hcl.Diagnostics) {
	body := b.Body
	diags := volumeMountSpec.check(body, b.DefRange())
	m := &VolumeMount{}
	if a := body.Attributes["volume"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			m.Volume = s
			if !volumes[s] {
				detail := fmt.Sprintf("The group has no volume %q.", s)
				if sug := suggest(s, volumes); sug != "" {
					detail += fmt.Sprintf(" Did you mean %q?", sug)
				} else {
					detail += fmt.Sprintf(` Declare it in the group: volume %q { type = "host" source = "..." }.`, s)
				}
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Unknown volume",
					Detail:   detail,
					Subject:  a.Expr.Range().Ptr(),
					Context:  a.SrcRange.Ptr(),
				})
			}
		}
	}
	if a := body.Attributes["destination"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			if p := pathProblem(s); p != "" {
				diags = append(diags, typeErr(a, "a path inside the task", fmt.Errorf("%s", p))...)
			}
			m.Destination = cleanPath(s)
		}
	}
	diags = append(diags, setBool(ev, body, "read_only", &m.ReadOnly)...)
	if a := body.Attributes["propagation_mode"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			diags = append(diags, checkEnum(a, s, propagationModes)...)
			// "private" is Nomad's default; store it as unset so that
			// spelling it out does not change the job.
			if s != "private" {
				m.PropagationMode = s
			}
		}
	}
	return m, diags
}

// pathProblem says what is wrong with a path inside a task, or "": empty,
// a NUL byte, or a ".." element that would climb out of its root.
func pathProblem(p string) string {
	switch {
	case p == "":
		return "it is empty"
	case strings.ContainsRune(p, 0):
		return "it contains a NUL byte"
	}
	for _, e := range strings.Split(p, "/") {
		if e == ".." {
			return `it contains ".."`
		}
	}
	return ""
}

// cleanPath cleans p, keeping "" as "".
func cleanPath(p string) string {
	if p == "" {
		return ""
	}
	return path.Clean(p)
}

func decodeScaling(ev *evaluator, b *hclsyntax.Block) (*Scaling, bool, hcl.Diagnostics) {
	body := b.Body
	diags := scalingSpec.check(body, b.DefRange())
	s := &Scaling{Enabled: true}
	minSet := false
	if a := body.Attributes["min"]; a != nil {
		n, ok, ds := ev.integer(a, 0, maxInt32)
		diags = append(diags, ds...)
		if ok {
			s.Min, minSet = n, true
		}
	}
	if a := body.Attributes["max"]; a != nil {
		n, ok, ds := ev.integer(a, 0, maxInt32)
		diags = append(diags, ds...)
		if ok {
			s.Max = n
			if minSet && n < s.Min {
				diags = append(diags, typeErr(a, fmt.Sprintf("at least min (%d)", s.Min), nil)...)
			}
		}
	} else {
		diags = append(diags, missingArg(b, "max", "scaling block"))
	}
	if a := body.Attributes["type"]; a != nil {
		t, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok && t != "horizontal" {
			if strings.HasPrefix(t, "vertical") {
				diags = append(diags, unsupportedValue("type", t, hintDAS, a.Expr.Range()))
			} else {
				diags = append(diags, checkEnum(a, t, []string{"horizontal"})...)
			}
		}
	}
	diags = append(diags, setBool(ev, body, "enabled", &s.Enabled)...)
	for _, pb := range body.Blocks {
		if pb.Type == "policy" && usable(pb, 0) {
			p, ds := decodeConfig(ev, pb.Body)
			diags = append(diags, ds...)
			if len(p) > 0 {
				s.Policy = p
			}
		}
	}
	return s, minSet, diags
}

// checkScalingCount is Nomad's rule that a group's count lies within its
// scaling block's bounds.
func checkScalingCount(g *Group, countAttr *hclsyntax.Attribute, blk *hclsyntax.Block) hcl.Diagnostics {
	s := g.Scaling
	if s == nil || (g.Count >= s.Min && g.Count <= s.Max) {
		return nil
	}
	subject := blk.DefRange()
	if countAttr != nil {
		subject = countAttr.Expr.Range()
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Count outside the scaling bounds",
		Detail:   fmt.Sprintf("Group %q has count = %d, outside its scaling block's [min %d, max %d]; set a count within them.", g.Name, g.Count, s.Min, s.Max),
		Subject:  subject.Ptr(),
	}}
}

// legacyDisconnect holds the group arguments Nomad 1.8 replaced by the
// disconnect block.
type legacyDisconnect struct {
	maxClient, stopAfter, preventLost *hclsyntax.Attribute
}

func (l legacyDisconnect) first() *hclsyntax.Attribute {
	for _, a := range []*hclsyntax.Attribute{l.maxClient, l.stopAfter, l.preventLost} {
		if a != nil {
			return a
		}
	}
	return nil
}

// decodeDisconnect builds the group's Disconnect from either the
// disconnect block or the older arguments, then validates it as Nomad's
// DisconnectStrategy.Validate does. stopSet says whether stop_on_client_after
// (or stop_after_client_disconnect) was written at all, which Nomad tells
// apart from 0.
func decodeDisconnect(ev *evaluator, blk *hclsyntax.Block, body *hclsyntax.Body, typ JobType) (*Disconnect, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	legacy := legacyDisconnect{
		maxClient:   body.Attributes["max_client_disconnect"],
		stopAfter:   body.Attributes["stop_after_client_disconnect"],
		preventLost: body.Attributes["prevent_reschedule_on_lost"],
	}
	if blk == nil && legacy.first() == nil {
		return nil, nil
	}
	if blk != nil && legacy.first() != nil {
		a := legacy.first()
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Conflicting disconnect settings",
			Detail:   fmt.Sprintf("%s is the older form of the disconnect block; use only the disconnect block (lost_after, stop_on_client_after, replace, reconcile).", a.Name),
			Subject:  a.NameRange.Ptr(),
			Context:  hcl.RangeBetween(a.SrcRange, blk.DefRange()).Ptr(),
		}}
	}
	d := &Disconnect{}
	var lostAttr, stopAttr, reconcileAttr *hclsyntax.Attribute
	var replace *bool
	if blk != nil {
		diags = append(diags, disconnectSpec.check(blk.Body, blk.DefRange())...)
		lostAttr, stopAttr = blk.Body.Attributes["lost_after"], blk.Body.Attributes["stop_on_client_after"]
		if a := blk.Body.Attributes["replace"]; a != nil {
			v, ok, ds := ev.boolean(a)
			diags = append(diags, ds...)
			if ok {
				replace = &v
			}
		}
		reconcileAttr = blk.Body.Attributes["reconcile"]
	} else {
		lostAttr, stopAttr = legacy.maxClient, legacy.stopAfter
		if a := legacy.preventLost; a != nil {
			v, ok, ds := ev.boolean(a)
			diags = append(diags, ds...)
			if ok {
				r := !v
				replace = &r
			}
		}
	}
	if lostAttr != nil {
		v, ok, ds := ev.duration(lostAttr)
		diags = append(diags, ds...)
		if ok {
			d.LostAfter = v
		}
	}
	if stopAttr != nil {
		v, ok, ds := ev.duration(stopAttr)
		diags = append(diags, ds...)
		if ok {
			d.StopOnClientAfter = v
		}
		if typ != JobTypeService && typ != JobTypeBatch {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Job type %q does not allow %s", typ, stopAttr.Name),
				Detail:   fmt.Sprintf("%s only applies to service and batch jobs, as in Nomad.", stopAttr.Name),
				Subject:  stopAttr.NameRange.Ptr(),
			})
		}
		if lostAttr != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Conflicting disconnect settings",
				Detail:   fmt.Sprintf("Set either %s or %s, not both (Nomad refuses both too): the allocations either wait as unknown for the node or are stopped on it.", lostAttr.Name, stopAttr.Name),
				Subject:  stopAttr.NameRange.Ptr(),
			})
		}
	}
	// Replace defaults to true: store only a false, so that writing the
	// default does not change the job.
	if replace != nil && !*replace {
		d.Replace = replace
	}
	if a := reconcileAttr; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			diags = append(diags, checkEnum(a, s, reconcileOptions)...)
			d.Reconcile = s
		}
	}
	if d.Reconcile == "" {
		d.Reconcile = "best_score"
	}
	return d, diags
}

// decodeMaxRunDuration reads max_run_duration, which Nomad allows in
// batch and sysbatch jobs only.
func decodeMaxRunDuration(ev *evaluator, body *hclsyntax.Body, typ JobType) (time.Duration, hcl.Diagnostics) {
	a := body.Attributes["max_run_duration"]
	if a == nil {
		return 0, nil
	}
	d, ok, diags := ev.duration(a)
	if typ != JobTypeBatch && typ != JobTypeSysBatch {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Job type %q does not allow max_run_duration", typ),
			Detail:   "max_run_duration only applies to batch and sysbatch jobs, as in Nomad; a service runs until it is stopped.",
			Subject:  a.NameRange.Ptr(),
		})
	}
	if !ok {
		return 0, diags
	}
	return d, diags
}

func decodeDispatchPayload(ev *evaluator, b *hclsyntax.Block, parameterized bool) (*DispatchPayload, hcl.Diagnostics) {
	diags := dispatchPayloadSpec.check(b.Body, b.DefRange())
	p := &DispatchPayload{}
	if !parameterized {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "dispatch_payload outside a parameterized job",
			Detail:   "Only a dispatched job has a payload; add a parameterized block to the job, or remove dispatch_payload.",
			Subject:  b.DefRange().Ptr(),
		})
	}
	if a := b.Body.Attributes["file"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			if prob := pathProblem(s); prob != "" {
				diags = append(diags, typeErr(a, "a path relative to the task's local/ directory", fmt.Errorf("%s", prob))...)
			} else if path.IsAbs(s) {
				diags = append(diags, typeErr(a, "a path relative to the task's local/ directory", fmt.Errorf("it is absolute"))...)
			}
			p.File = cleanPath(s)
		}
	}
	return p, diags
}

var identityChangeModes = []string{"noop", "restart", "signal"}

// decodeIdentity reads an identity block. Nomad names it with a name
// argument; a label is accepted too. Unnamed is the "default" identity.
func decodeIdentity(ev *evaluator, b *hclsyntax.Block) (*WorkloadIdentity, hcl.Diagnostics) {
	body := b.Body
	diags := identitySpec.check(body, b.DefRange())
	id := &WorkloadIdentity{Name: "default"}
	if len(b.Labels) == 1 {
		id.Name = b.Labels[0]
	}
	if a := body.Attributes["name"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			if len(b.Labels) == 1 && s != b.Labels[0] {
				diags = append(diags, typeErr(a, fmt.Sprintf("the block's label %q, or left out", b.Labels[0]), nil)...)
			}
			id.Name = s
		}
	}
	if !hclsyntax.ValidIdentifier(id.Name) {
		rng := b.DefRange()
		if a := body.Attributes["name"]; a != nil {
			rng = a.Expr.Range()
		} else if len(b.Labels) == 1 {
			rng = b.LabelRanges[0]
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid identity name",
			Detail:   fmt.Sprintf("Identity name %q must be made of letters, digits, underscores and dashes, as it becomes part of NOMAD_TOKEN_<name>.", id.Name),
			Subject:  rng.Ptr(),
		})
	}
	if a := body.Attributes["aud"]; a != nil {
		l, ok, ds := ev.strList(a)
		diags = append(diags, ds...)
		if ok && len(l) > 0 {
			id.Audience = l
		}
	}
	diags = append(diags, setBool(ev, body, "env", &id.Env)...)
	diags = append(diags, setBool(ev, body, "file", &id.File)...)
	if a := body.Attributes["ttl"]; a != nil {
		d, ok, ds := ev.duration(a)
		diags = append(diags, ds...)
		if ok {
			id.TTL = d
		}
	}
	if a := body.Attributes["change_mode"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			diags = append(diags, checkEnum(a, s, identityChangeModes)...)
			id.ChangeMode = s
		}
	}
	diags = append(diags, setStr(ev, body, "change_signal", &id.ChangeSignal)...)
	id.ChangeSignal = strings.ToUpper(id.ChangeSignal)
	if id.ChangeMode == "signal" && id.ChangeSignal == "" {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing change_signal",
			Detail:   `change_mode = "signal" needs change_signal.`,
			Subject:  b.DefRange().Ptr(),
		})
	}
	if id.ChangeMode == "noop" {
		id.ChangeMode = "" // Nomad's default
	}
	return id, diags
}

func decodeAction(ev *evaluator, b *hclsyntax.Block) (*Action, hcl.Diagnostics) {
	body := b.Body
	diags := actionSpec.check(body, b.DefRange())
	act := &Action{Name: b.Labels[0]}
	diags = append(diags, checkName("action name", act.Name, b.LabelRanges[0], true)...)
	diags = append(diags, nonEmpty(ev, body, "command", &act.Command)...)
	if a := body.Attributes["args"]; a != nil {
		l, ok, ds := ev.strList(a)
		diags = append(diags, ds...)
		if ok && len(l) > 0 {
			act.Args = l
		}
	}
	return act, diags
}

func decodeTemplateWait(ev *evaluator, b *hclsyntax.Block) (*TemplateWait, hcl.Diagnostics) {
	diags := templateWaitSpec.check(b.Body, b.DefRange())
	w := &TemplateWait{}
	for _, f := range []named[time.Duration]{{"min", &w.Min}, {"max", &w.Max}} {
		if a := b.Body.Attributes[f.name]; a != nil {
			d, ok, ds := ev.duration(a)
			diags = append(diags, ds...)
			if ok {
				*f.dst = d
			}
		}
	}
	if a := b.Body.Attributes["max"]; a != nil && w.Max != 0 && w.Max < w.Min {
		diags = append(diags, typeErr(a, fmt.Sprintf("at least min (%s)", w.Min), nil)...)
	}
	return w, diags
}

func decodeChangeScript(ev *evaluator, b *hclsyntax.Block) (*ChangeScript, hcl.Diagnostics) {
	body := b.Body
	diags := changeScriptSpec.check(body, b.DefRange())
	c := &ChangeScript{}
	diags = append(diags, nonEmpty(ev, body, "command", &c.Command)...)
	if a := body.Attributes["args"]; a != nil {
		l, ok, ds := ev.strList(a)
		diags = append(diags, ds...)
		if ok && len(l) > 0 {
			c.Args = l
		}
	}
	if a := body.Attributes["timeout"]; a != nil {
		d, ok, ds := ev.duration(a)
		diags = append(diags, ds...)
		if ok {
			c.Timeout = d
		}
	}
	diags = append(diags, setBool(ev, body, "fail_on_error", &c.FailOnError)...)
	return c, diags
}

// Nomad's address modes: a service may let Nomad pick ("auto"); a check
// names where it connects.
var (
	serviceAddressModes = []string{"auto", "host", "alloc", "driver"}
	checkAddressModes   = []string{"host", "alloc", "driver"}
	onUpdateModes       = []string{"require_healthy", "ignore_warnings", "ignore"}
)

// decodeAddressModeOnUpdate reads address_mode and on_update of a service
// or check.
func decodeAddressModeOnUpdate(ev *evaluator, body *hclsyntax.Body, modes []string, addressMode, onUpdate *string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if a := body.Attributes["address_mode"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			if s == "auto" && len(modes) == len(checkAddressModes) {
				diags = append(diags, typeErr(a, `"host", "alloc" or "driver"; "auto" is only valid for a service, as in Nomad`, nil)...)
			} else {
				diags = append(diags, checkEnum(a, s, modes)...)
			}
			*addressMode = s
		}
	}
	if a := body.Attributes["on_update"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			diags = append(diags, checkEnum(a, s, onUpdateModes)...)
			*onUpdate = s
		}
	}
	return diags
}

func setBool(ev *evaluator, body *hclsyntax.Body, name string, dst *bool) hcl.Diagnostics {
	a := body.Attributes[name]
	if a == nil {
		return nil
	}
	v, ok, diags := ev.boolean(a)
	if ok {
		*dst = v
	}
	return diags
}

func setInt(ev *evaluator, body *hclsyntax.Body, name string, lo, hi int, dst **int) hcl.Diagnostics {
	a := body.Attributes[name]
	if a == nil {
		return nil
	}
	v, ok, diags := ev.integer(a, lo, hi)
	if ok {
		*dst = &v
	}
	return diags
}

// nonEmpty reads a string argument that must not be empty. A value that
// could not be evaluated (an unset variable) is reported once, where it
// failed, and not again as empty.
func nonEmpty(ev *evaluator, body *hclsyntax.Body, name string, dst *string) hcl.Diagnostics {
	a := body.Attributes[name]
	if a == nil {
		return nil
	}
	s, ok, diags := ev.str(a)
	if !ok {
		return diags
	}
	*dst = s
	if s == "" {
		diags = append(diags, typeErr(a, "a non-empty "+name, nil)...)
	}
	return diags
}

// hasUnknown says whether diags hold a "value not known" error: something
// the checks that follow would only report again.
func hasUnknown(diags hcl.Diagnostics) bool {
	for _, d := range diags {
		if _, ok := d.Extra.(unknownMarker); ok {
			return true
		}
	}
	return false
}
