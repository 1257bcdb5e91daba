package jobspec

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// groupScope is what a task inherits from its group.
type groupScope struct {
	job     *jobScope
	group   string
	restart patch[RestartPolicy]
	ports   map[string]bool // labels of the group network's ports
	volumes map[string]bool // names of the group's volumes
	// diskMB sums the tasks' deprecated resources { disk }; diskAttr is
	// the first of them, for positions.
	diskMB   int
	diskAttr *hclsyntax.Attribute
	// taskPorts are the ports of the tasks' deprecated resources {
	// network } blocks, lifted into the group's network; taskNet is the
	// first such block, for positions.
	taskPorts []Port
	taskNet   *hclsyntax.Block
}

// taskNetwork lifts a task's resources { network } (Nomad before 0.12)
// into the group: Drover has only group networks, so its ports join the
// group's, under the same labels the task's config and services use.
func (g *groupScope) taskNetwork(ev *evaluator, b *hclsyntax.Block) hcl.Diagnostics {
	n, diags := decodeNetwork(ev, b)
	if n == nil {
		return diags
	}
	if n.Mode != defaultNetworkMode {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Task network mode",
			Detail:   "A network in a task's resources has no mode of its own; declare a bridge network in the group.",
			Subject:  b.DefRange().Ptr(),
		})
	}
	for _, p := range n.Ports {
		if g.ports[p.Label] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate port label",
				Detail:   fmt.Sprintf("Port %q is declared by another network of group %q; port labels are per group in Drover, so rename one.", p.Label, g.group),
				Subject:  b.DefRange().Ptr(),
			})
			continue
		}
		g.ports[p.Label] = true
		g.taskPorts = append(g.taskPorts, p)
	}
	if g.taskNet == nil {
		g.taskNet = b
	}
	return diags
}

// taskDisk records a task's resources { disk }, which Nomad deprecated in
// favour of the group's ephemeral_disk: the group's disk becomes the sum
// of its tasks' disks unless the group has an ephemeral_disk block.
func (g *groupScope) taskDisk(ev *evaluator, a *hclsyntax.Attribute) hcl.Diagnostics {
	if a == nil {
		return nil
	}
	n, ok, diags := ev.integer(a, 0, maxInt32)
	if !ok {
		return diags
	}
	g.diskMB = min(g.diskMB+n, maxInt32)
	if g.diskAttr == nil {
		g.diskAttr = a
	}
	return diags
}

// portRef is a service or check argument that names a port, checked once
// the group's network is known.
type portRef struct {
	attr  *hclsyntax.Attribute
	label string
}

func decodeGroup(ev *evaluator, b *hclsyntax.Block, job *jobScope) (g *Group, diags hcl.Diagnostics) {
	body := b.Body
	diags = groupSpec.check(body, b.DefRange())
	g = &Group{Name: b.Labels[0], Count: 1}
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

	scope := &groupScope{job: job, group: g.Name, ports: map[string]bool{}, volumes: map[string]bool{}}
	var scalingBlk, disconnectBlk, diskBlk *hclsyntax.Block
	scalingMinSet := false
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
			diskBlk = blk
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
		case "volume":
			if !usable(blk, 1) {
				break
			}
			name := blk.Labels[0]
			if scope.volumes[name] {
				ds = append(ds, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate volume",
					Detail:   fmt.Sprintf("Group %q already has a volume %q.", g.Name, name),
					Subject:  blk.LabelRanges[0].Ptr(),
				})
				break
			}
			scope.volumes[name] = true
			var v *VolumeRequest
			v, ds = decodeVolume(ev, blk)
			if g.Volumes == nil {
				g.Volumes = map[string]*VolumeRequest{}
			}
			g.Volumes[name] = v
		case "scaling":
			if usable(blk, 0) && g.Scaling == nil {
				g.Scaling, scalingMinSet, ds = decodeScaling(ev, blk)
				scalingBlk = blk
			}
		case "disconnect":
			disconnectBlk = blk
		case "task":
			if usable(blk, 1) {
				tasks = append(tasks, blk)
			}
		}
		diags = append(diags, ds...)
	}
	g.EphemeralDisk = &disk
	if g.Scaling != nil {
		// Nomad: a group with a scaling block and no count starts at min;
		// a scaling block without min has min = count.
		if body.Attributes["count"] == nil && scalingMinSet {
			g.Count = g.Scaling.Min
		}
		if !scalingMinSet {
			g.Scaling.Min = g.Count
		}
		if !hasUnknown(diags) {
			diags = append(diags, checkScalingCount(g, body.Attributes["count"], scalingBlk)...)
		}
	}
	g.Disconnect, ds = decodeDisconnect(ev, disconnectBlk, body, job.typ)
	diags = append(diags, ds...)
	g.MaxRunDuration, ds = decodeMaxRunDuration(ev, body, job.typ)
	diags = append(diags, ds...)
	// The group's shutdown_delay (the wait between deregistering its
	// services and stopping its tasks) becomes the delay of each task
	// that sets none: Drover deregisters a task's services and waits per
	// task, so the tasks wait as long as the group would.
	var groupShutdown time.Duration
	if a := body.Attributes["shutdown_delay"]; a != nil {
		d, ok, ds := ev.duration(a)
		diags = append(diags, ds...)
		if ok {
			groupShutdown = d
		}
	}
	defer func() {
		for _, t := range g.Tasks {
			if t.ShutdownDelay == 0 {
				t.ShutdownDelay = groupShutdown
			}
		}
	}()
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
	defer func() {
		// After the tasks: lift their resources { network } ports into
		// the group's network.
		if scope.taskNet == nil {
			return
		}
		if len(g.Networks) == 0 {
			g.Networks = []Network{{Mode: defaultNetworkMode}}
		} else if g.Networks[0].Mode != defaultNetworkMode {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Task network in a bridge group",
				Detail:   fmt.Sprintf("Group %q has a %s network; declare the task's ports there instead of in its resources.", g.Name, g.Networks[0].Mode),
				Subject:  scope.taskNet.DefRange().Ptr(),
			})
			return
		}
		g.Networks[0].Ports = append(g.Networks[0].Ports, scope.taskPorts...)
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Task-level network is deprecated",
			Detail:   fmt.Sprintf("Nomad deprecated networks in a task's resources in 0.12; Drover adds their ports to group %q's network. Move the network block to the group.", g.Name),
			Subject:  scope.taskNet.DefRange().Ptr(),
		})
	}()
	defer func() {
		// After the tasks: map their resources { disk } onto the group.
		if scope.diskAttr == nil {
			return
		}
		detail := fmt.Sprintf("resources { disk } is deprecated in Nomad; Drover sets group %q's ephemeral_disk size to the tasks' total (%d MB). Move it to the group: ephemeral_disk { size = %d }.", g.Name, scope.diskMB, scope.diskMB)
		if diskBlk != nil {
			detail = fmt.Sprintf("resources { disk } is deprecated in Nomad and group %q has an ephemeral_disk block, which wins; remove disk from the task.", g.Name)
		} else if scope.diskMB > 0 {
			g.EphemeralDisk.SizeMB = scope.diskMB
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "resources { disk } is deprecated",
			Detail:   detail,
			Subject:  scope.diskAttr.NameRange.Ptr(),
		})
	}()
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
		if m := portVarRef.FindStringSubmatch(r.label); m != nil {
			// ${NOMAD_PORT_api} is a port's value on the node; a service
			// names the port by its label.
			detail = fmt.Sprintf("A service or check names its port by label: write %s = %q instead of %q.", r.attr.Name, m[2], r.label)
			if !scope.ports[m[2]] {
				detail += fmt.Sprintf(` Declare it in the group too: network { port "%s" {} }.`, m[2])
			}
		} else if len(scope.ports) > 0 {
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

// portVarRef matches a port written as the runtime variable that holds
// it, ${NOMAD_PORT_api} and its kin.
var portVarRef = regexp.MustCompile(`^\$\{NOMAD_(PORT|HOST_PORT|ALLOC_PORT|ADDR|HOST_ADDR|ALLOC_ADDR|IP|HOST_IP)_([A-Za-z0-9_-]+)\}$`)

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
			if strings.HasPrefix(s, "cni/") {
				diags = append(diags, unsupportedValue("mode", s, hintCNI, a.Expr.Range()))
			} else {
				diags = append(diags, checkEnum(a, s, []string{"host", "bridge", "none"})...)
			}
			n.Mode = s
		}
	}
	if a := body.Attributes["mbits"]; a != nil {
		// Nomad ignores mbits since 1.0 (bandwidth is not scheduled);
		// accept old files with a warning.
		if _, ok, ds := ev.integer(a, 0, maxInt32); !ok {
			diags = append(diags, ds...)
		} else {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "mbits is ignored",
				Detail:   "Nomad ignores network bandwidth since 1.0, and so does Drover; remove mbits.",
				Subject:  a.NameRange.Ptr(),
			})
		}
	}
	if a := body.Attributes["hostname"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			if len(s) > 253 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '/' || r > '~' }) {
				diags = append(diags, typeErr(a, "a host name of at most 253 characters without spaces or slashes", nil)...)
			}
			n.Hostname = s
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
