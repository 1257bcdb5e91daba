package jobspec

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// A flat block has only scalar arguments (update, restart, logs, ...).
// Decoding one yields a patch: the setters for the arguments the block
// spells out. Applying patches in order onto Nomad's defaults gives the
// merge Nomad does (defaults, then job, then group, then task), and a
// block is decoded once however many groups it applies to.
type patch[T any] []func(*T)

func (p patch[T]) apply(base T) T {
	for _, set := range p {
		set(&base)
	}
	return base
}

// named pairs an argument's name with where its value goes, for decoders
// that read a few arguments of one kind in a loop.
type named[T any] struct {
	name string
	dst  *T
}

type field[T any] struct {
	name   string
	decode func(ev *evaluator, a *hclsyntax.Attribute) (func(*T), hcl.Diagnostics)
}

type flatSpec[T any] struct {
	spec   *bodySpec
	fields []field[T]
}

func newFlat[T any](what string, nomad map[string]string, fields ...field[T]) *flatSpec[T] {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return &flatSpec[T]{spec: newSpec(what, specOpts{attrs: names, nomad: nomad}), fields: fields}
}

func (fs *flatSpec[T]) decode(ev *evaluator, b *hclsyntax.Block) (patch[T], hcl.Diagnostics) {
	diags := fs.spec.check(b.Body, b.DefRange())
	var p patch[T]
	for _, f := range fs.fields {
		a := b.Body.Attributes[f.name]
		if a == nil {
			continue
		}
		set, ds := f.decode(ev, a)
		diags = append(diags, ds...)
		if set != nil {
			p = append(p, set)
		}
	}
	return p, diags
}

func intField[T any](name string, lo, hi int, set func(*T, int)) field[T] {
	return field[T]{name, func(ev *evaluator, a *hclsyntax.Attribute) (func(*T), hcl.Diagnostics) {
		v, ok, diags := ev.integer(a, lo, hi)
		if !ok {
			return nil, diags
		}
		return func(t *T) { set(t, v) }, diags
	}}
}

func boolField[T any](name string, set func(*T, bool)) field[T] {
	return field[T]{name, func(ev *evaluator, a *hclsyntax.Attribute) (func(*T), hcl.Diagnostics) {
		v, ok, diags := ev.boolean(a)
		if !ok {
			return nil, diags
		}
		return func(t *T) { set(t, v) }, diags
	}}
}

func durField[T any](name string, set func(*T, time.Duration)) field[T] {
	return field[T]{name, func(ev *evaluator, a *hclsyntax.Attribute) (func(*T), hcl.Diagnostics) {
		v, ok, diags := ev.duration(a)
		if !ok {
			return nil, diags
		}
		return func(t *T) { set(t, v) }, diags
	}}
}

// enumField accepts one of the given strings.
func enumField[T any](name string, set func(*T, string), allowed ...string) field[T] {
	return field[T]{name, func(ev *evaluator, a *hclsyntax.Attribute) (func(*T), hcl.Diagnostics) {
		v, ok, diags := ev.str(a)
		if !ok {
			return nil, diags
		}
		if diags = append(diags, checkEnum(a, v, allowed)...); diags.HasErrors() {
			return nil, diags
		}
		return func(t *T) { set(t, v) }, diags
	}}
}

func checkEnum(a *hclsyntax.Attribute, v string, allowed []string) hcl.Diagnostics {
	for _, s := range allowed {
		if v == s {
			return nil
		}
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid value for %q", a.Name),
		Detail:   fmt.Sprintf("%q is not one of %s.", v, quoteList(allowed)),
		Subject:  a.Expr.Range().Ptr(),
		Context:  a.SrcRange.Ptr(),
	}}
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

const maxInt32 = 1<<31 - 1

var updateFlat = newFlat("update", nil,
	durField("stagger", func(u *UpdateStrategy, d time.Duration) { u.Stagger = d }),
	intField("max_parallel", 0, maxInt32, func(u *UpdateStrategy, n int) { u.MaxParallel = n }),
	enumField("health_check", func(u *UpdateStrategy, s string) { u.HealthCheck = s }, "checks", "task_states", "manual"),
	durField("min_healthy_time", func(u *UpdateStrategy, d time.Duration) { u.MinHealthyTime = d }),
	durField("healthy_deadline", func(u *UpdateStrategy, d time.Duration) { u.HealthyDeadline = d }),
	durField("progress_deadline", func(u *UpdateStrategy, d time.Duration) { u.ProgressDeadline = d }),
	intField("canary", 0, maxInt32, func(u *UpdateStrategy, n int) { u.Canary = n }),
	boolField("auto_revert", func(u *UpdateStrategy, b bool) { u.AutoRevert = b }),
	boolField("auto_promote", func(u *UpdateStrategy, b bool) { u.AutoPromote = b }),
)

var migrateFlat = newFlat("migrate", nil,
	intField("max_parallel", 0, maxInt32, func(m *Migrate, n int) { m.MaxParallel = n }),
	enumField("health_check", func(m *Migrate, s string) { m.HealthCheck = s }, "checks", "task_states"),
	durField("min_healthy_time", func(m *Migrate, d time.Duration) { m.MinHealthyTime = d }),
	durField("healthy_deadline", func(m *Migrate, d time.Duration) { m.HealthyDeadline = d }),
)

var restartFlat = newFlat("restart", nil,
	intField("attempts", 0, maxInt32, func(r *RestartPolicy, n int) { r.Attempts = n }),
	durField("interval", func(r *RestartPolicy, d time.Duration) { r.Interval = d }),
	durField("delay", func(r *RestartPolicy, d time.Duration) { r.Delay = d }),
	enumField("mode", func(r *RestartPolicy, s string) { r.Mode = s }, "fail", "delay"),
	boolField("render_templates", func(r *RestartPolicy, b bool) { r.RenderTemplates = b }),
)

var rescheduleFlat = newFlat("reschedule", nil,
	intField("attempts", 0, maxInt32, func(r *ReschedulePolicy, n int) { r.Attempts = n }),
	durField("interval", func(r *ReschedulePolicy, d time.Duration) { r.Interval = d }),
	durField("delay", func(r *ReschedulePolicy, d time.Duration) { r.Delay = d }),
	enumField("delay_function", func(r *ReschedulePolicy, s string) { r.DelayFunction = s }, "constant", "exponential", "fibonacci"),
	durField("max_delay", func(r *ReschedulePolicy, d time.Duration) { r.MaxDelay = d }),
	boolField("unlimited", func(r *ReschedulePolicy, b bool) { r.Unlimited = b }),
)

var diskFlat = newFlat("ephemeral_disk", nil,
	intField("size", 1, maxInt32, func(e *EphemeralDisk, n int) { e.SizeMB = n }),
	boolField("sticky", func(e *EphemeralDisk, b bool) { e.Sticky = b }),
	boolField("migrate", func(e *EphemeralDisk, b bool) { e.Migrate = b }),
)

var logsFlat = newFlat("logs", nil,
	intField("max_files", 1, maxInt32, func(l *Logs, n int) { l.MaxFiles = n }),
	intField("max_file_size", 1, maxInt32, func(l *Logs, n int) { l.MaxFileSizeMB = n }),
	boolField("disabled", func(l *Logs, b bool) { l.Disabled = b }),
	// Nomad 1.6's enabled, deprecated for disabled in 1.7: the opposite.
	boolField("enabled", func(l *Logs, b bool) { l.Disabled = !b }),
)

var resourcesFlat = &flatSpec[Resources]{spec: resourcesSpec, fields: []field[Resources]{
	intField("cpu", 1, maxInt32, func(r *Resources, n int) { r.CPU = n }),
	intField("cores", 0, maxInt32, func(r *Resources, n int) { r.Cores = n }),
	intField("memory", 10, maxInt32, func(r *Resources, n int) { r.MemoryMB = n }),
	// -1: no limit above memory (Nomad's "unlimited").
	intField("memory_max", -1, maxInt32, func(r *Resources, n int) { r.MemoryMaxMB = n }),
}}

var checkRestartFlat = newFlat("check_restart", nil,
	intField("limit", 0, maxInt32, func(c *CheckRestart, n int) { c.Limit = n }),
	durField("grace", func(c *CheckRestart, d time.Duration) { c.Grace = d }),
	boolField("ignore_warnings", func(c *CheckRestart, b bool) { c.IgnoreWarnings = b }),
)

var portFlat = &flatSpec[Port]{spec: portSpec, fields: []field[Port]{
	intField("static", 0, 65535, func(p *Port, n int) { p.Static = n }),
	// Nomad documents to = -1 as "same as the host port"; 0 means the same.
	intField("to", -1, 65535, func(p *Port, n int) { p.To = max(n, 0) }),
	field[Port]{"host_network", func(ev *evaluator, a *hclsyntax.Attribute) (func(*Port), hcl.Diagnostics) {
		s, ok, diags := ev.str(a)
		if !ok {
			return nil, diags
		}
		return func(p *Port) { p.HostNetwork = s }, diags
	}},
}}

var lifecycleFlat = &flatSpec[Lifecycle]{spec: lifecycleSpec, fields: []field[Lifecycle]{
	enumField("hook", func(l *Lifecycle, s string) { l.Hook = s }, "prestart", "poststart", "poststop"),
	boolField("sidecar", func(l *Lifecycle, b bool) { l.Sidecar = b }),
}}
