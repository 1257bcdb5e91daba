package diff

import (
	"github.com/droverhq/drover/jobspec"
)

// This file is the fast path of Compute: most jobs of a state are
// unchanged, and comparing them field by field costs far less than
// encoding them (Job.Hash) or building a diff tree. A nil map or slice
// equals an empty one, as in the canonical encoding.
//
// TestEqualCoversEveryField mutates every field of a job by reflection, so
// a field added to jobspec without being compared here fails the tests.

func jobEqual(a, b *jobspec.Job) bool {
	if a == b {
		return true
	}
	if a.ID != b.ID || a.Name != b.Name || a.Type != b.Type || a.Region != b.Region ||
		a.Namespace != b.Namespace || a.Priority != b.Priority ||
		!stringsEqual(a.Datacenters, b.Datacenters) || !stringMapEqual(a.Meta, b.Meta) ||
		!constraintsEqual(a.Constraints, b.Constraints) || !affinitiesEqual(a.Affinities, b.Affinities) ||
		!spreadsEqual(a.Spreads, b.Spreads) || !ptrEqual(a.Update, b.Update) ||
		!periodicEqual(a.Periodic, b.Periodic) || !parameterizedEqual(a.Parameterized, b.Parameterized) ||
		!jobExtEqual(a, b) || len(a.Groups) != len(b.Groups) {
		return false
	}
	for i := range a.Groups {
		if !groupEqual(a.Groups[i], b.Groups[i]) {
			return false
		}
	}
	return true
}

func groupEqual(a, b *jobspec.Group) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	if a.Name != b.Name || a.Count != b.Count || !stringMapEqual(a.Meta, b.Meta) ||
		!constraintsEqual(a.Constraints, b.Constraints) || !affinitiesEqual(a.Affinities, b.Affinities) ||
		!spreadsEqual(a.Spreads, b.Spreads) || !ptrEqual(a.Update, b.Update) ||
		!ptrEqual(a.Migrate, b.Migrate) || !ptrEqual(a.Reschedule, b.Reschedule) || !rolloutEqual(a.Rollout, b.Rollout) ||
		!networksEqual(a.Networks, b.Networks) || !servicesEqual(a.Services, b.Services) ||
		!ptrEqual(a.EphemeralDisk, b.EphemeralDisk) || !volumesEqual(a.Volumes, b.Volumes) || !groupExtEqual(a, b) || len(a.Tasks) != len(b.Tasks) {
		return false
	}
	for i := range a.Tasks {
		if !taskEqual(a.Tasks[i], b.Tasks[i]) {
			return false
		}
	}
	return true
}

func taskEqual(a, b *jobspec.Task) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	return a.Name == b.Name && a.Driver == b.Driver && a.User == b.User &&
		anyMapEqual(a.Config, b.Config) && stringMapEqual(a.Env, b.Env) &&
		stringMapEqual(a.Meta, b.Meta) && a.Resources == b.Resources &&
		servicesEqual(a.Services, b.Services) && ptrEqual(a.Restart, b.Restart) &&
		a.KillTimeout == b.KillTimeout && a.KillSignal == b.KillSignal &&
		a.ShutdownDelay == b.ShutdownDelay && a.Leader == b.Leader &&
		ptrEqual(a.Lifecycle, b.Lifecycle) && taskExtEqual(a, b) &&
		a.Logs == b.Logs && constraintsEqual(a.Constraints, b.Constraints) &&
		affinitiesEqual(a.Affinities, b.Affinities) && sliceEqual(a.VolumeMounts, b.VolumeMounts)
}

// ptrEqual compares two pointers to comparable structs by value.
func ptrEqual[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func sliceEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func stringsEqual(a, b []string) bool                 { return sliceEqual(a, b) }
func constraintsEqual(a, b []jobspec.Constraint) bool { return sliceEqual(a, b) }
func affinitiesEqual(a, b []jobspec.Affinity) bool    { return sliceEqual(a, b) }

func stringMapEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		if vb, ok := b[k]; !ok || va != vb {
			return false
		}
	}
	return true
}

func spreadsEqual(a, b []jobspec.Spread) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Attribute != b[i].Attribute || a[i].Weight != b[i].Weight ||
			!sliceEqual(a[i].Targets, b[i].Targets) {
			return false
		}
	}
	return true
}

// rolloutEqual ignores Pos: where the block was written is not part of
// the job.
func rolloutEqual(a, b *jobspec.Rollout) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.OrderBy == b.OrderBy && stringsEqual(a.Order, b.Order)
}

func periodicEqual(a, b *jobspec.Periodic) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.ProhibitOverlap == b.ProhibitOverlap && a.TimeZone == b.TimeZone &&
		a.Enabled == b.Enabled && stringsEqual(a.Crons, b.Crons)
}

func parameterizedEqual(a, b *jobspec.Parameterized) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Payload == b.Payload && stringsEqual(a.MetaRequired, b.MetaRequired) &&
		stringsEqual(a.MetaOptional, b.MetaOptional)
}

func networksEqual(a, b []jobspec.Network) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Mode != b[i].Mode || a[i].Hostname != b[i].Hostname || !sliceEqual(a[i].Ports, b[i].Ports) {
			return false
		}
	}
	return true
}

func servicesEqual(a, b []jobspec.Service) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if x.Name != y.Name || x.Port != y.Port || x.Provider != y.Provider || x.Task != y.Task ||
			!stringsEqual(x.Tags, y.Tags) || !stringsEqual(x.CanaryTags, y.CanaryTags) ||
			!stringMapEqual(x.Meta, y.Meta) || x.AddressMode != y.AddressMode || x.OnUpdate != y.OnUpdate ||
			!ptrEqual(x.CheckRestart, y.CheckRestart) || len(x.Checks) != len(y.Checks) {
			return false
		}
		for j := range x.Checks {
			if !checkEqual(&x.Checks[j], &y.Checks[j]) {
				return false
			}
		}
	}
	return true
}

func checkEqual(a, b *jobspec.Check) bool {
	if a.Name != b.Name || a.Type != b.Type || a.Path != b.Path || a.Method != b.Method ||
		a.Protocol != b.Protocol || a.Port != b.Port || a.Command != b.Command ||
		!stringsEqual(a.Args, b.Args) || a.Task != b.Task || a.Interval != b.Interval ||
		a.Timeout != b.Timeout || a.InitialStatus != b.InitialStatus ||
		a.AddressMode != b.AddressMode || a.OnUpdate != b.OnUpdate ||
		!ptrEqual(a.CheckRestart, b.CheckRestart) || len(a.Header) != len(b.Header) {
		return false
	}
	for k, va := range a.Header {
		vb, ok := b.Header[k]
		if !ok || !stringsEqual(va, vb) {
			return false
		}
	}
	return true
}

// anyMapEqual compares driver configs: trees of plain JSON values.
func anyMapEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || !anyEqual(va, vb) {
			return false
		}
	}
	return true
}

func anyEqual(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case map[string]any:
		y, ok := b.(map[string]any)
		return ok && anyMapEqual(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !anyEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case float64, bool, nil, float32, int, int64:
		return a == b
	}
	// Values outside the JSON model: compare what the plan would show.
	return flatEqual(a, b)
}

func flatEqual(a, b any) bool {
	var fa, fb []attr
	flatten("", a, false, secrets{}, &fa)
	flatten("", b, false, secrets{}, &fb)
	return sliceEqual(fa, fb)
}
