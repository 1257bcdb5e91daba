package jobspec

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// groupScope is what a task inherits from its group.
type groupScope struct {
	job     *jobScope
	group   string
	restart patch[RestartPolicy]
	ports   map[string]bool // labels of the group network's ports
}

// portRef is a service or check argument that names a port, checked once
// the group's network is known.
type portRef struct {
	attr  *hclsyntax.Attribute
	label string
}

func decodeGroup(ev *evaluator, b *hclsyntax.Block, job *jobScope) (*Group, hcl.Diagnostics) {
	body := b.Body
	diags := groupSpec.check(body, b.DefRange())
	g := &Group{Name: b.Labels[0], Count: 1}
	diags = append(diags, checkName("group name", g.Name, b.LabelRanges[0], false)...)
	if a := body.Attributes["count"]; a != nil {
		n, ok, ds := ev.integer(a, 0, maxInt32)
		diags = append(diags, ds...)
		if ok {
			g.Count = n
		}
	}
	var ds hcl.Diagnostics
	g.Meta, ds = decodeFreeMap(ev, body, "meta")
	diags = append(diags, ds...)

	scope := &groupScope{job: job, group: g.Name, ports: map[string]bool{}}
	update, reschedule, migrate := job.update, job.reschedule, job.migrate
	var updateBlk *hclsyntax.Block
	disk := defaultDisk()
	var services, tasks []*hclsyntax.Block
	for _, blk := range body.Blocks {
		var ds hcl.Diagnostics
		switch blk.Type {
		case "constraint":
			var c *Constraint
			if c, ds = decodeConstraint(ev, blk); c != nil {
				g.Constraints = append(g.Constraints, *c)
			}
		case "affinity":
			var a *Affinity
			if a, ds = decodeAffinity(ev, blk); a != nil {
				g.Affinities = append(g.Affinities, *a)
			}
		case "spread":
			var s *Spread
			if s, ds = decodeSpread(ev, blk); s != nil {
				g.Spreads = append(g.Spreads, *s)
			}
		case "update":
			var p patch[UpdateStrategy]
			p, ds = updateFlat.decode(ev, blk)
			update = append(update[:len(update):len(update)], p...)
			updateBlk = blk
			if !hasDeployments(job.typ) {
				ds = append(ds, updateNotForType(blk, job.typ))
			}
		case "reschedule":
			var p patch[ReschedulePolicy]
			p, ds = rescheduleFlat.decode(ev, blk)
			reschedule = append(reschedule[:len(reschedule):len(reschedule)], p...)
			if defaultReschedule(job.typ) == nil {
				ds = append(ds, notForType(blk, job.typ, "service and batch"))
			}
		case "migrate":
			var p patch[Migrate]
			p, ds = migrateFlat.decode(ev, blk)
			migrate = append(migrate[:len(migrate):len(migrate)], p...)
			if job.typ != JobTypeService {
				ds = append(ds, notForType(blk, job.typ, "service"))
			}
		case "rollout":
			if g.Rollout == nil {
				g.Rollout, ds = decodeRollout(ev, blk, job.typ)
			}
		case "restart":
			scope.restart, ds = restartFlat.decode(ev, blk)
		case "ephemeral_disk":
			var p patch[EphemeralDisk]
			p, ds = diskFlat.decode(ev, blk)
			disk = p.apply(disk)
		case "network":
			var n *Network
			if n, ds = decodeNetwork(ev, blk); n != nil {
				g.Networks = []Network{*n}
				for _, p := range n.Ports {
					scope.ports[p.Label] = true
				}
			}
		case "service":
			services = append(services, blk)
		case "task":
			if usable(blk, 1) {
				tasks = append(tasks, blk)
			}
		}
		diags = append(diags, ds...)
	}
	g.EphemeralDisk = &disk
	if hasDeployments(job.typ) {
		u := update.apply(defaultUpdate())
		g.Update = &u
		for _, d := range checkUpdate(&u, g.Name, updateBlk, job.updateBlk) {
			key := d.Summary + "@" + d.Subject.String()
			if job.updateSeen[key] {
				continue
			}
			if job.updateSeen == nil {
				job.updateSeen = map[string]bool{}
			}
			job.updateSeen[key] = true
			diags = append(diags, d)
		}
	}
	if def := defaultReschedule(job.typ); def != nil {
		r := reschedule.apply(*def)
		g.Reschedule = &r
	}
	if job.typ == JobTypeService {
		m := migrate.apply(defaultMigrate())
		g.Migrate = &m
	}

	var refs []portRef
	taskNames := map[string]bool{}
	if len(tasks) == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing task",
			Detail:   fmt.Sprintf("Group %q has no task; a group needs at least one.", g.Name),
			Subject:  b.DefRange().Ptr(),
		})
	}
	var leader *hclsyntax.Block
	seen := map[string]hcl.Range{}
	for _, tb := range tasks {
		name := tb.Labels[0]
		if prev, dup := seen[name]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate task",
				Detail:   fmt.Sprintf("Task %q is already defined in group %q at %s.", name, g.Name, prev),
				Subject:  tb.LabelRanges[0].Ptr(),
			})
			continue
		}
		seen[name] = tb.LabelRanges[0]
		taskNames[name] = true
		t, tRefs, ds := decodeTask(ev, tb, scope)
		diags = append(diags, ds...)
		refs = append(refs, tRefs...)
		if t.Leader {
			if leader != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "More than one leader task",
					Detail:   fmt.Sprintf("Only one task of group %q may set leader = true; task %q already does.", g.Name, leader.Labels[0]),
					Subject:  tb.Body.Attributes["leader"].SrcRange.Ptr(),
				})
			} else {
				leader = tb
			}
		}
		g.Tasks = append(g.Tasks, t)
	}

	for _, sb := range services {
		s, sRefs, ds := decodeService(ev, sb, job.id+"-"+g.Name, true)
		diags = append(diags, ds...)
		if s == nil {
			continue
		}
		refs = append(refs, sRefs...)
		if a := sb.Body.Attributes["task"]; a != nil && s.Task != "" && !taskNames[s.Task] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown task",
				Detail:   fmt.Sprintf("Group %q has no task %q.", g.Name, s.Task),
				Subject:  a.Expr.Range().Ptr(),
			})
		}
		g.Services = append(g.Services, *s)
	}

	// Nomad rejects services whose port label the group's network does not
	// define; a number is a literal port and needs no label.
	for _, r := range refs {
		if scope.ports[r.label] || isNumber(r.label) {
			continue
		}
		detail := fmt.Sprintf("Group %q has no network port labelled %q.", g.Name, r.label)
		if len(scope.ports) > 0 {
			if s := suggest(r.label, scope.ports); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			}
		} else {
			detail += ` Declare it in the group: network { port "` + r.label + `" {} }.`
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unknown port label",
			Detail:   detail,
			Subject:  r.attr.Expr.Range().Ptr(),
		})
	}
	return g, diags
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func decodeNetwork(ev *evaluator, b *hclsyntax.Block) (*Network, hcl.Diagnostics) {
	body := b.Body
	diags := networkSpec.check(body, b.DefRange())
	n := &Network{Mode: defaultNetworkMode}
	if a := body.Attributes["mode"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			diags = append(diags, checkEnum(a, s, []string{"host", "bridge", "none"})...)
			n.Mode = s
		}
	}
	seen := map[string]hcl.Range{}
	statics := map[int]hcl.Range{}
	for _, pb := range body.Blocks {
		if pb.Type != "port" || !usable(pb, 1) {
			continue
		}
		label := pb.Labels[0]
		if prev, dup := seen[label]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate port label",
				Detail:   fmt.Sprintf("Port %q is already defined at %s.", label, prev),
				Subject:  pb.LabelRanges[0].Ptr(),
			})
			continue
		}
		seen[label] = pb.LabelRanges[0]
		if !hclsyntax.ValidIdentifier(label) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid port label",
				Detail:   fmt.Sprintf("Port label %q must be made of letters, digits, underscores and dashes, as it becomes part of NOMAD_PORT_<label>.", label),
				Subject:  pb.LabelRanges[0].Ptr(),
			})
		}
		p, ds := portFlat.decode(ev, pb)
		diags = append(diags, ds...)
		port := p.apply(Port{Label: label})
		if port.Static != 0 {
			if prev, dup := statics[port.Static]; dup {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate static port",
					Detail:   fmt.Sprintf("Static port %d is already reserved at %s.", port.Static, prev),
					Subject:  pb.Body.Attributes["static"].Expr.Range().Ptr(),
				})
			}
			statics[port.Static] = pb.LabelRanges[0]
		}
		n.Ports = append(n.Ports, port)
	}
	return n, diags
}
