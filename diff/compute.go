package diff

import (
	"runtime"
	"sort"
	"sync"

	"github.com/droverhq/drover/jobspec"
)

// Options tunes Compute.
type Options struct {
	// Sensitive lists extra env/template key globs (case-insensitive, e.g.
	// "DB_DSN", "*_URL") to mask, from drover.hcl.
	Sensitive []string
}

// Compute returns the plan that takes the jobs of old to the jobs of new.
// Both maps are keyed by job ID; a nil job counts as absent. Jobs are
// compared with a cheap structural equality first, so the cost of a plan
// grows with the number of changed jobs, not with the size of the states.
// Compute only reads its arguments, from several goroutines at once.
func Compute(old, new map[string]*jobspec.Job, opts Options) *Plan {
	s := newSecrets(opts.Sensitive)
	ids := make([]string, 0, len(new)+len(old)/16)
	for id, j := range new {
		if j != nil {
			ids = append(ids, id)
		}
	}
	for id, j := range old {
		if j == nil {
			continue
		}
		if n := new[id]; n == nil {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)

	// Comparing jobs is memory-bound pointer chasing; spread it over the
	// CPUs. Each worker writes only its own elements of diffs.
	diffs := make([]*JobDiff, len(ids))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(ids)/parallelThreshold))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(ids); i += workers {
				id := ids[i]
				a, b := old[id], new[id]
				if a != nil && b != nil && jobEqual(a, b) {
					continue
				}
				diffs[i] = diffJob(id, a, b, s)
			}
		})
	}
	wg.Wait()

	p := &Plan{}
	for _, d := range diffs {
		if d != nil {
			p.Jobs = append(p.Jobs, d)
		}
	}
	p.Unchanged = len(ids) - len(p.Jobs)
	return p
}

// parallelThreshold is the number of jobs below which a second goroutine
// costs more than it saves.
const parallelThreshold = 256

// diffJob diffs one job; a or b is nil when the job is created or stopped.
// It returns nil when the jobs differ in no field that the plan shows.
func diffJob(id string, a, b *jobspec.Job, s secrets) *JobDiff {
	d := &JobDiff{Type: presence(a != nil, b != nil), ID: id}
	edited := d.Type == DiffTypeEdited
	d.Fields = diffAttrs("", jobAttrs(a), jobAttrs(b), edited)
	d.Objects = diffNodes("", jobNodes(a, s), jobNodes(b, s), edited)

	// Job-level changes reach every allocation: the job is part of each.
	jobChanged := len(d.Fields) > 0 || len(d.Objects) > 0
	var jobReasons []Reason
	collectReasons(ScopeJob, "", d.Fields, d.Objects, &jobReasons)

	groupChanged := false
	for _, name := range groupNames(a, b) {
		g := diffGroup(d.Type, lookupGroup(a, name), lookupGroup(b, name), jobChanged, jobReasons, s)
		if g.Type != DiffTypeNone {
			groupChanged = true
		}
		d.Groups = append(d.Groups, g)
	}
	if edited && !jobChanged && !groupChanged {
		return nil
	}
	return d
}

// diffGroup diffs one group and decides what happens to its allocations.
func diffGroup(jobType DiffType, a, b *jobspec.Group, jobChanged bool, jobReasons []Reason, s secrets) *GroupDiff {
	g := &GroupDiff{Type: presence(a != nil, b != nil)}
	edited := g.Type == DiffTypeEdited
	var oldCount, newCount int
	if a != nil {
		g.Name, oldCount = a.Name, a.Count
	}
	if b != nil {
		g.Name, newCount = b.Name, b.Count
	}

	if oldCount != newCount {
		f := &FieldDiff{Type: DiffTypeEdited, Name: "Count", Path: "count", Old: fmtInt(oldCount), New: fmtInt(newCount)}
		switch {
		case a == nil:
			f.Type, f.Old = DiffTypeAdded, ""
		case b == nil:
			f.Type, f.New = DiffTypeDeleted, ""
		case newCount > oldCount:
			f.Annotations = []string{AnnotationForcesCreate}
		default:
			f.Annotations = []string{AnnotationForcesDestroy}
		}
		g.Fields = append(g.Fields, f)
	}
	// Most groups of a changed job are unchanged: skip building their trees.
	same := edited && groupEqual(a, b)
	if !same {
		g.Objects = diffNodes("", groupNodes(a, s), groupNodes(b, s), edited)
	}
	for _, name := range taskNames(a, b) {
		ta, tb := lookupTask(a, name), lookupTask(b, name)
		if same {
			g.Tasks = append(g.Tasks, &TaskDiff{Type: DiffTypeNone, Name: name})
			continue
		}
		g.Tasks = append(g.Tasks, diffTask(g.Type, ta, tb, s))
	}

	// Anything but the count changed: the allocations that stay must at
	// least be updated in place.
	otherChange := len(g.Objects) > 0
	for _, t := range g.Tasks {
		if t.Type != DiffTypeNone {
			otherChange = true
		}
	}
	if edited && oldCount == newCount && !otherChange {
		g.Type = DiffTypeNone
	}

	switch g.Type {
	case DiffTypeAdded:
		g.Updates.Create = newCount
		return g
	case DiffTypeDeleted:
		g.Updates.Destroy = oldCount
		return g
	}

	keep := min(oldCount, newCount)
	g.Updates.Create = newCount - keep
	g.Updates.Destroy = oldCount - keep
	if keep == 0 {
		return g
	}
	g.Reasons = append(g.Reasons, jobReasons...)
	collectReasons(ScopeGroup, g.Name, g.Fields, g.Objects, &g.Reasons)
	for _, t := range g.Tasks {
		switch t.Type {
		case DiffTypeAdded, DiffTypeDeleted:
			g.Reasons = append(g.Reasons, Reason{Scope: ScopeTask, Name: t.Name, Change: t.Type})
		case DiffTypeEdited:
			collectReasons(ScopeTask, t.Name, t.Fields, t.Objects, &g.Reasons)
		}
	}
	switch {
	case len(g.Reasons) > 0:
		g.Updates.Destructive = keep
	case otherChange || jobChanged:
		g.Updates.InPlace = keep
	default:
		// Only the count changed: the allocations that stay run the same
		// tasks and need nothing.
		g.Updates.Ignore = keep
	}
	return g
}

// diffTask diffs one task of a group whose own diff type is groupType.
func diffTask(groupType DiffType, a, b *jobspec.Task, s secrets) *TaskDiff {
	t := &TaskDiff{Type: presence(a != nil, b != nil)}
	if a != nil {
		t.Name = a.Name
	} else {
		t.Name = b.Name
	}
	edited := t.Type == DiffTypeEdited
	if edited && taskEqual(a, b) {
		t.Type = DiffTypeNone
		return t
	}
	t.Fields = diffAttrs("", taskAttrs(a), taskAttrs(b), edited)
	t.Objects = diffNodes("", taskNodes(a, s), taskNodes(b, s), edited)

	switch {
	case edited && len(t.Fields) == 0 && len(t.Objects) == 0:
		t.Type = DiffTypeNone
	case groupType == DiffTypeAdded:
		t.Annotations = []string{AnnotationForcesCreate}
	case groupType == DiffTypeDeleted:
		t.Annotations = []string{AnnotationForcesDestroy}
	case !edited:
		// A task added to or removed from a running group replaces
		// every allocation of the group.
		t.Annotations = []string{AnnotationForcesDestructiveUpdate}
	default:
		var rs []Reason
		collectReasons(ScopeTask, t.Name, t.Fields, t.Objects, &rs)
		if len(rs) > 0 {
			t.Annotations = []string{AnnotationForcesDestructiveUpdate}
		} else {
			t.Annotations = []string{AnnotationForcesInplaceUpdate}
		}
	}
	return t
}

// collectReasons appends a Reason for every field and object that is
// annotated as forcing a create/destroy update.
func collectReasons(scope, name string, fields []*FieldDiff, objects []*ObjectDiff, out *[]Reason) {
	for _, f := range fields {
		if hasAnnotation(f.Annotations, AnnotationForcesDestructiveUpdate) {
			*out = append(*out, Reason{Scope: scope, Name: name, Path: f.Path, Change: f.Type})
		}
	}
	for _, o := range objects {
		if hasAnnotation(o.Annotations, AnnotationForcesDestructiveUpdate) {
			*out = append(*out, Reason{Scope: scope, Name: name, Path: o.Path, Change: o.Type})
		}
		collectReasons(scope, name, o.Fields, o.Objects, out)
	}
}

func hasAnnotation(as []string, want string) bool {
	for _, a := range as {
		if a == want {
			return true
		}
	}
	return false
}

func presence(inOld, inNew bool) DiffType {
	switch {
	case !inOld:
		return DiffTypeAdded
	case !inNew:
		return DiffTypeDeleted
	}
	return DiffTypeEdited
}

// lookupGroup and lookupTask skip nil elements, which a job built in Go
// rather than parsed may hold; jobspec's own lookups do not.
func lookupGroup(j *jobspec.Job, name string) *jobspec.Group {
	if j == nil {
		return nil
	}
	for _, g := range j.Groups {
		if g != nil && g.Name == name {
			return g
		}
	}
	return nil
}

func lookupTask(g *jobspec.Group, name string) *jobspec.Task {
	if g == nil {
		return nil
	}
	for _, t := range g.Tasks {
		if t != nil && t.Name == name {
			return t
		}
	}
	return nil
}

func groupNames(a, b *jobspec.Job) []string {
	var names []string
	for _, j := range []*jobspec.Job{a, b} {
		if j == nil {
			continue
		}
		for _, g := range j.Groups {
			if g != nil {
				names = append(names, g.Name)
			}
		}
	}
	return sortedUnique(names)
}

func taskNames(a, b *jobspec.Group) []string {
	var names []string
	for _, g := range []*jobspec.Group{a, b} {
		if g == nil {
			continue
		}
		for _, t := range g.Tasks {
			if t != nil {
				names = append(names, t.Name)
			}
		}
	}
	return sortedUnique(names)
}

func sortedUnique(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
