package diff

import (
	"sort"
	"strconv"
	"strings"

	"github.com/droverhq/drover/jobspec"
)

// This file converts jobspec values into nodes. Display names are the
// jobspec Go field names (as Nomad prints its own struct fields); path
// segments are the HCL names that users write. Each value's force follows
// Nomad's scheduler: see the package tests for the full table.

// attrs builds an attribute list.
type attrs []attr

func (as *attrs) add(name, seg, value string, f force) {
	*as = append(*as, attr{name: name, seg: seg, value: value, force: f})
}

func newNode(name, seg string, f force, as attrs, kids ...*node) *node {
	var ks []*node
	for _, k := range kids {
		if k != nil {
			ks = append(ks, k)
		}
	}
	return &node{name: name, seg: seg, attrs: as, kids: ks, force: f}
}

// mapNode is a map block (Meta, Env, Header): one attribute per key.
func mapNode(name, seg string, m map[string]string, f force, s secrets) *node {
	if len(m) == 0 {
		return nil
	}
	as := make(attrs, 0, len(m))
	for k, v := range m {
		as = append(as, attr{name: k, seg: k, value: v, secret: s.key(k) || s.value(v), force: f})
	}
	sort.Slice(as, func(i, j int) bool { return as[i].seg < as[j].seg })
	return &node{name: name, seg: seg, attrs: as, force: f}
}

// setNode is a list of strings whose order does not matter (datacenters,
// tags): members are added or deleted, never edited.
func setNode(name, seg string, vals []string, f force) *node {
	if len(vals) == 0 {
		return nil
	}
	as := make(attrs, 0, len(vals))
	for _, v := range vals {
		as = append(as, attr{name: name, seg: "[" + v + "]", value: v, force: f})
	}
	return &node{name: name, seg: seg, attrs: as, force: f}
}

func jobAttrs(j *jobspec.Job) []attr {
	if j == nil {
		return nil
	}
	var as attrs
	as.add("ID", "id", j.ID, inPlace)
	as.add("Name", "name", j.Name, inPlace)
	as.add("Type", "type", string(j.Type), inPlace)
	// Moving a job to another region or namespace makes it another job
	// there: its allocations are replaced, not updated.
	as.add("Region", "region", j.Region, destructive)
	as.add("Namespace", "namespace", j.Namespace, destructive)
	as.add("Priority", "priority", fmtInt(j.Priority), inPlace)
	// Like datacenters: the scheduler replaces only the allocations on
	// nodes outside the new pool.
	as.add("NodePool", "node_pool", j.NodePool, inPlace)
	return as
}

func jobNodes(j *jobspec.Job, s secrets) []*node {
	if j == nil {
		return nil
	}
	ns := []*node{
		setNode("Datacenters", "datacenters", j.Datacenters, inPlace),
		// Tasks see job, group and task meta as environment.
		mapNode("Meta", "meta", j.Meta, destructive, s),
		updateNode(j.Update),
		periodicNode(j.Periodic),
		parameterizedNode(j.Parameterized),
	}
	ns = append(ns, constraintNodes(j.Constraints)...)
	ns = append(ns, affinityNodes(j.Affinities)...)
	ns = append(ns, spreadNodes(j.Spreads)...)
	ns = append(ns, jobExtNodes(j)...)
	return compact(ns)
}

// groupNodes has no attribute list: a group's only attribute, Count, is
// diffed by diffGroup itself because it forces creates and destroys, never
// an update.
func groupNodes(g *jobspec.Group, s secrets) []*node {
	if g == nil {
		return nil
	}
	ns := []*node{
		mapNode("Meta", "meta", g.Meta, destructive, s),
		updateNode(g.Update),
		migrateNode(g.Migrate),
		rescheduleNode(g.Reschedule),
		rolloutNode(g.Rollout),
		ephemeralDiskNode(g.EphemeralDisk),
	}
	ns = append(ns, constraintNodes(g.Constraints)...)
	ns = append(ns, affinityNodes(g.Affinities)...)
	ns = append(ns, spreadNodes(g.Spreads)...)
	ns = append(ns, networkNodes(g.Networks)...)
	ns = append(ns, serviceNodes(g.Services, s)...)
	ns = append(ns, volumeNodes(g.Volumes)...)
	ns = append(ns, groupExtNodes(g, s)...)
	return compact(ns)
}

func taskAttrs(t *jobspec.Task) []attr {
	if t == nil {
		return nil
	}
	var as attrs
	as.add("Driver", "driver", t.Driver, destructive)
	as.add("User", "user", t.User, destructive)
	as.add("KillTimeout", "kill_timeout", fmtDur(t.KillTimeout), inPlace)
	as.add("KillSignal", "kill_signal", t.KillSignal, inPlace)
	as.add("ShutdownDelay", "shutdown_delay", fmtDur(t.ShutdownDelay), inPlace)
	as.add("Leader", "leader", fmtBool(t.Leader), inPlace)
	return append(as, taskExtAttrs(t)...)
}

func taskNodes(t *jobspec.Task, s secrets) []*node {
	if t == nil {
		return nil
	}
	var cfg *node
	if as := configAttrs(t.Config, s); len(as) > 0 {
		cfg = &node{name: "Config", seg: "config", attrs: as, force: destructive}
	}
	ns := []*node{
		cfg,
		mapNode("Env", "env", t.Env, destructive, s),
		mapNode("Meta", "meta", t.Meta, destructive, s),
		resourcesNode(t.Resources),
		restartNode(t.Restart),
		lifecycleNode(t.Lifecycle),
		logsNode(t.Logs),
	}
	ns = append(ns, templateNodes(t.Templates, s)...)
	ns = append(ns, serviceNodes(t.Services, s)...)
	ns = append(ns, constraintNodes(t.Constraints)...)
	ns = append(ns, affinityNodes(t.Affinities)...)
	ns = append(ns, volumeMountNodes(t.VolumeMounts)...)
	ns = append(ns, taskExtNodes(t)...)
	return compact(ns)
}

func compact(ns []*node) []*node {
	out := ns[:0]
	for _, n := range ns {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}

func resourcesNode(r jobspec.Resources) *node {
	var as attrs
	as.add("CPU", "cpu", fmtInt(r.CPU), destructive)
	as.add("Cores", "cores", fmtInt(r.Cores), destructive)
	as.add("MemoryMB", "memory", fmtInt(r.MemoryMB), destructive)
	as.add("MemoryMaxMB", "memory_max", fmtInt(r.MemoryMaxMB), destructive)
	return newNode("Resources", "resources", destructive, as)
}

func restartNode(r *jobspec.RestartPolicy) *node {
	if r == nil {
		return nil
	}
	var as attrs
	as.add("Attempts", "attempts", fmtInt(r.Attempts), inPlace)
	as.add("Interval", "interval", fmtDur(r.Interval), inPlace)
	as.add("Delay", "delay", fmtDur(r.Delay), inPlace)
	as.add("Mode", "mode", r.Mode, inPlace)
	// The template hook reads render_templates only when the task starts.
	as.add("RenderTemplates", "render_templates", fmtBool(r.RenderTemplates), destructive)
	return newNode("Restart", "restart", inPlace, as)
}

func lifecycleNode(l *jobspec.Lifecycle) *node {
	if l == nil {
		return nil
	}
	var as attrs
	as.add("Hook", "hook", l.Hook, inPlace)
	as.add("Sidecar", "sidecar", fmtBool(l.Sidecar), inPlace)
	return newNode("Lifecycle", "lifecycle", inPlace, as)
}

func logsNode(l jobspec.Logs) *node {
	var as attrs
	as.add("MaxFiles", "max_files", fmtInt(l.MaxFiles), inPlace)
	as.add("MaxFileSizeMB", "max_file_size", fmtInt(l.MaxFileSizeMB), inPlace)
	// Turning log collection on or off rewires the task's stdout/stderr.
	as.add("Disabled", "disabled", fmtBool(l.Disabled), destructive)
	return newNode("Logs", "logs", inPlace, as)
}

func templateNodes(ts []jobspec.Template, s secrets) []*node {
	ns := make([]*node, 0, len(ts))
	for _, t := range ts {
		var as attrs
		as.add("Destination", "destination", t.Destination, destructive)
		as = append(as, attr{name: "Data", seg: "data", value: t.Data, secret: s.template(t.Env, t.Destination), force: destructive})
		as.add("Source", "source", t.Source, destructive)
		as.add("Env", "env", fmtBool(t.Env), destructive)
		as.add("ChangeMode", "change_mode", t.ChangeMode, destructive)
		as.add("ChangeSignal", "change_signal", t.ChangeSignal, destructive)
		as.add("Perms", "perms", t.Perms, destructive)
		as.add("LeftDelim", "left_delimiter", t.LeftDelim, destructive)
		as.add("RightDelim", "right_delimiter", t.RightDelim, destructive)
		as = append(as, templateExtAttrs(&t)...)
		n := newNode("Template", listSeg("template", t.Destination), destructive, as)
		n.key = t.Destination
		ns = append(ns, n)
	}
	return uniqueKeys(ns)
}

func serviceNodes(svcs []jobspec.Service, s secrets) []*node {
	ns := make([]*node, 0, len(svcs))
	for _, sv := range svcs {
		var as attrs
		as.add("Name", "name", sv.Name, inPlace)
		as.add("Port", "port", sv.Port, inPlace)
		as.add("Provider", "provider", sv.Provider, inPlace)
		as.add("Task", "task", sv.Task, inPlace)
		as.add("AddressMode", "address_mode", sv.AddressMode, inPlace)
		as.add("OnUpdate", "on_update", sv.OnUpdate, inPlace)
		kids := []*node{
			setNode("Tags", "tags", sv.Tags, inPlace),
			setNode("CanaryTags", "canary_tags", sv.CanaryTags, inPlace),
			mapNode("Meta", "meta", sv.Meta, inPlace, s),
			checkRestartNode(sv.CheckRestart),
		}
		kids = append(kids, checkNodes(sv.Checks, s)...)
		n := newNode("Service", listSeg("service", sv.Name), inPlace, as, kids...)
		n.key = sv.Name
		ns = append(ns, n)
	}
	return uniqueKeys(ns)
}

// checkRestartNode is a check's or a service's check_restart block, nil
// without one.
func checkRestartNode(r *jobspec.CheckRestart) *node {
	if r == nil {
		return nil
	}
	var ras attrs
	ras.add("Limit", "limit", fmtInt(r.Limit), inPlace)
	ras.add("Grace", "grace", fmtDur(r.Grace), inPlace)
	ras.add("IgnoreWarnings", "ignore_warnings", fmtBool(r.IgnoreWarnings), inPlace)
	return newNode("CheckRestart", "check_restart", inPlace, ras)
}

func checkNodes(cs []jobspec.Check, s secrets) []*node {
	ns := make([]*node, 0, len(cs))
	for _, c := range cs {
		var as attrs
		as.add("Name", "name", c.Name, inPlace)
		as.add("Type", "type", c.Type, inPlace)
		as.add("Path", "path", c.Path, inPlace)
		as.add("Method", "method", c.Method, inPlace)
		as.add("Protocol", "protocol", c.Protocol, inPlace)
		as.add("Port", "port", c.Port, inPlace)
		as.add("Command", "command", c.Command, inPlace)
		for i, a := range c.Args {
			as.add("Args["+strconv.Itoa(i)+"]", "args["+strconv.Itoa(i)+"]", a, inPlace)
		}
		as.add("Task", "task", c.Task, inPlace)
		as.add("Interval", "interval", fmtDur(c.Interval), inPlace)
		as.add("Timeout", "timeout", fmtDur(c.Timeout), inPlace)
		as.add("InitialStatus", "initial_status", c.InitialStatus, inPlace)
		as.add("AddressMode", "address_mode", c.AddressMode, inPlace)
		as.add("OnUpdate", "on_update", c.OnUpdate, inPlace)
		var header *node
		if len(c.Header) > 0 {
			flat := make(map[string]string, len(c.Header))
			for k, v := range c.Header {
				flat[k] = strings.Join(v, ", ")
			}
			header = mapNode("Header", "header", flat, inPlace, s)
		}
		cr := checkRestartNode(c.CheckRestart)
		// Unnamed checks are told apart by what they probe.
		key := c.Name
		if key == "" {
			key = strings.TrimSpace(strings.Join([]string{c.Type, c.Port, c.Path, c.Command}, " "))
		}
		n := newNode("Check", listSeg("check", key), inPlace, as, header, cr)
		n.key = key
		ns = append(ns, n)
	}
	return uniqueKeys(ns)
}

// Constraints and affinities have no name: like Nomad, they are identified
// by their content, so an edit shows as one deleted and one added.
func constraintNodes(cs []jobspec.Constraint) []*node {
	ns := make([]*node, 0, len(cs))
	for _, c := range cs {
		var as attrs
		as.add("Attribute", "attribute", c.Attribute, inPlace)
		as.add("Operator", "operator", c.Operator, inPlace)
		as.add("Value", "value", c.Value, inPlace)
		key := strings.TrimSpace(strings.Join([]string{c.Attribute, c.Operator, c.Value}, " "))
		n := newNode("Constraint", listSeg("constraint", key), inPlace, as)
		n.key = key
		ns = append(ns, n)
	}
	return uniqueKeys(ns)
}

func affinityNodes(afs []jobspec.Affinity) []*node {
	ns := make([]*node, 0, len(afs))
	for _, a := range afs {
		var as attrs
		as.add("Attribute", "attribute", a.Attribute, destructive)
		as.add("Operator", "operator", a.Operator, destructive)
		as.add("Value", "value", a.Value, destructive)
		as.add("Weight", "weight", fmtInt(a.Weight), destructive)
		key := strings.TrimSpace(strings.Join([]string{a.Attribute, a.Operator, a.Value, "weight=" + fmtInt(a.Weight)}, " "))
		n := newNode("Affinity", listSeg("affinity", key), destructive, as)
		n.key = key
		ns = append(ns, n)
	}
	return uniqueKeys(ns)
}

func spreadNodes(ss []jobspec.Spread) []*node {
	ns := make([]*node, 0, len(ss))
	for _, sp := range ss {
		var as attrs
		as.add("Attribute", "attribute", sp.Attribute, destructive)
		as.add("Weight", "weight", fmtInt(sp.Weight), destructive)
		var kids []*node
		for _, t := range sp.Targets {
			var tas attrs
			tas.add("Value", "value", t.Value, destructive)
			tas.add("Percent", "percent", fmtInt(t.Percent), destructive)
			k := newNode("Target", listSeg("target", t.Value), destructive, tas)
			k.key = t.Value
			kids = append(kids, k)
		}
		n := newNode("Spread", listSeg("spread", sp.Attribute), destructive, as, uniqueKeys(kids)...)
		n.key = sp.Attribute
		ns = append(ns, n)
	}
	return uniqueKeys(ns)
}

// Networks and their ports are destructive: allocated ports cannot change
// under a running allocation.
func networkNodes(nets []jobspec.Network) []*node {
	ns := make([]*node, 0, len(nets))
	for i, nw := range nets {
		var as attrs
		as.add("Mode", "mode", nw.Mode, destructive)
		as.add("Hostname", "hostname", nw.Hostname, destructive)
		var kids []*node
		for _, p := range nw.Ports {
			var pas attrs
			pas.add("Label", "label", p.Label, destructive)
			pas.add("Static", "static", fmtInt(p.Static), destructive)
			pas.add("To", "to", fmtInt(p.To), destructive)
			pas.add("HostNetwork", "host_network", p.HostNetwork, destructive)
			k := newNode("Port", listSeg("port", p.Label), destructive, pas)
			k.key = p.Label
			kids = append(kids, k)
		}
		n := newNode("Network", "network", destructive, as, uniqueKeys(kids)...)
		if len(nets) > 1 {
			n.key = strconv.Itoa(i)
			n.seg = listSeg("network", n.key)
		}
		ns = append(ns, n)
	}
	return ns
}

func ephemeralDiskNode(d *jobspec.EphemeralDisk) *node {
	if d == nil {
		return nil
	}
	var as attrs
	as.add("SizeMB", "size", fmtInt(d.SizeMB), destructive)
	as.add("Sticky", "sticky", fmtBool(d.Sticky), destructive)
	as.add("Migrate", "migrate", fmtBool(d.Migrate), destructive)
	return newNode("EphemeralDisk", "ephemeral_disk", destructive, as)
}

func updateNode(u *jobspec.UpdateStrategy) *node {
	if u == nil {
		return nil
	}
	var as attrs
	as.add("Stagger", "stagger", fmtDur(u.Stagger), inPlace)
	as.add("MaxParallel", "max_parallel", fmtInt(u.MaxParallel), inPlace)
	as.add("HealthCheck", "health_check", u.HealthCheck, inPlace)
	as.add("MinHealthyTime", "min_healthy_time", fmtDur(u.MinHealthyTime), inPlace)
	as.add("HealthyDeadline", "healthy_deadline", fmtDur(u.HealthyDeadline), inPlace)
	as.add("ProgressDeadline", "progress_deadline", fmtDur(u.ProgressDeadline), inPlace)
	as.add("Canary", "canary", fmtInt(u.Canary), inPlace)
	as.add("AutoRevert", "auto_revert", fmtBool(u.AutoRevert), inPlace)
	as.add("AutoPromote", "auto_promote", fmtBool(u.AutoPromote), inPlace)
	return newNode("Update", "update", inPlace, as)
}

// rolloutNode is in place: the order only decides which allocations the
// scheduler replaces first. Order is one attribute, its values joined,
// because their order matters: ["a", "b"] and ["b", "a"] differ.
func rolloutNode(r *jobspec.Rollout) *node {
	if r == nil {
		return nil
	}
	var as attrs
	as.add("OrderBy", "order_by", r.OrderBy, inPlace)
	as.add("Order", "order", strings.Join(r.Order, ", "), inPlace)
	return newNode("Rollout", "rollout", inPlace, as)
}

func migrateNode(m *jobspec.Migrate) *node {
	if m == nil {
		return nil
	}
	var as attrs
	as.add("MaxParallel", "max_parallel", fmtInt(m.MaxParallel), inPlace)
	as.add("HealthCheck", "health_check", m.HealthCheck, inPlace)
	as.add("MinHealthyTime", "min_healthy_time", fmtDur(m.MinHealthyTime), inPlace)
	as.add("HealthyDeadline", "healthy_deadline", fmtDur(m.HealthyDeadline), inPlace)
	return newNode("Migrate", "migrate", inPlace, as)
}

func rescheduleNode(r *jobspec.ReschedulePolicy) *node {
	if r == nil {
		return nil
	}
	var as attrs
	as.add("Attempts", "attempts", fmtInt(r.Attempts), inPlace)
	as.add("Interval", "interval", fmtDur(r.Interval), inPlace)
	as.add("Delay", "delay", fmtDur(r.Delay), inPlace)
	as.add("DelayFunction", "delay_function", r.DelayFunction, inPlace)
	as.add("MaxDelay", "max_delay", fmtDur(r.MaxDelay), inPlace)
	as.add("Unlimited", "unlimited", fmtBool(r.Unlimited), inPlace)
	return newNode("Reschedule", "reschedule", inPlace, as)
}

func periodicNode(p *jobspec.Periodic) *node {
	if p == nil {
		return nil
	}
	var as attrs
	as.add("ProhibitOverlap", "prohibit_overlap", fmtBool(p.ProhibitOverlap), inPlace)
	as.add("TimeZone", "time_zone", p.TimeZone, inPlace)
	as.add("Enabled", "enabled", fmtBool(p.Enabled), inPlace)
	return newNode("Periodic", "periodic", inPlace, as, setNode("Crons", "crons", p.Crons, inPlace))
}

func parameterizedNode(p *jobspec.Parameterized) *node {
	if p == nil {
		return nil
	}
	var as attrs
	as.add("Payload", "payload", p.Payload, inPlace)
	return newNode("Parameterized", "parameterized", inPlace, as,
		setNode("MetaRequired", "meta_required", p.MetaRequired, inPlace),
		setNode("MetaOptional", "meta_optional", p.MetaOptional, inPlace))
}
