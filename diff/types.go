package diff

import (
	"fmt"
	"strings"
)

// DiffType says how one node of the diff tree changed.
type DiffType string

// The diff types, spelled as Nomad spells them.
const (
	DiffTypeNone    DiffType = "None"
	DiffTypeAdded   DiffType = "Added"
	DiffTypeDeleted DiffType = "Deleted"
	DiffTypeEdited  DiffType = "Edited"
)

// Marker is the symbol `nomad job plan` prints in front of a changed line:
// "+", "-", "+/-", or "" for an unchanged one.
func (t DiffType) Marker() string {
	switch t {
	case DiffTypeAdded:
		return "+"
	case DiffTypeDeleted:
		return "-"
	case DiffTypeEdited:
		return "+/-"
	}
	return ""
}

// Annotations attached to fields, objects and tasks, with Nomad's wording.
const (
	AnnotationForcesCreate            = "forces create"
	AnnotationForcesDestroy           = "forces destroy"
	AnnotationForcesInplaceUpdate     = "forces in-place update"
	AnnotationForcesDestructiveUpdate = "forces create/destroy update"
)

// SensitiveValue replaces every value that looks secret.
const SensitiveValue = "(sensitive value)"

// Plan is the difference between two desired states. Jobs holds only the
// jobs that changed, sorted by ID.
type Plan struct {
	Jobs []*JobDiff
	// Unchanged counts the jobs present and equal on both sides.
	Unchanged int
	// Waves is the rollout order that drover.hcl's depends_on gives the
	// created and updated jobs; nil when they all start at once.
	Waves []Wave
}

// Summary counts jobs by what the plan does to them.
type Summary struct {
	Create, Update, Stop int
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool {
	return p != nil && len(p.Jobs) > 0
}

// Summary counts the plan's jobs to create, update and stop.
func (p *Plan) Summary() Summary {
	var s Summary
	if p == nil {
		return s
	}
	for _, j := range p.Jobs {
		switch j.Type {
		case DiffTypeAdded:
			s.Create++
		case DiffTypeDeleted:
			s.Stop++
		case DiffTypeEdited:
			s.Update++
		}
	}
	return s
}

// JobDiff is the difference of one job. Type is Added for a job to create,
// Deleted for a job to stop and Edited for a job to update.
type JobDiff struct {
	Type    DiffType
	ID      string
	Fields  []*FieldDiff
	Objects []*ObjectDiff
	// Groups holds every group of either side, sorted by name, so that an
	// unchanged group still shows what happens to its allocations.
	Groups []*GroupDiff
}

// Action names what the plan does to the job: "create", "update" or "stop".
func (j *JobDiff) Action() string {
	switch j.Type {
	case DiffTypeAdded:
		return "create"
	case DiffTypeDeleted:
		return "stop"
	}
	return "update"
}

// Updates sums the allocation changes of all the job's groups.
func (j *JobDiff) Updates() Updates {
	var u Updates
	for _, g := range j.Groups {
		u.Create += g.Updates.Create
		u.Destroy += g.Updates.Destroy
		u.InPlace += g.Updates.InPlace
		u.Destructive += g.Updates.Destructive
		u.Ignore += g.Updates.Ignore
	}
	return u
}

// GroupDiff is the difference of one task group and what it does to the
// group's allocations.
type GroupDiff struct {
	Type    DiffType
	Name    string
	Fields  []*FieldDiff
	Objects []*ObjectDiff
	// Tasks holds every task of either side, sorted by name.
	Tasks   []*TaskDiff
	Updates Updates
	// Reasons lists every change that forces a create/destroy update of
	// the group's existing allocations, including job-level ones.
	Reasons []Reason
}

// TaskDiff is the difference of one task.
type TaskDiff struct {
	Type        DiffType
	Name        string
	Fields      []*FieldDiff
	Objects     []*ObjectDiff
	Annotations []string
}

// ObjectDiff is the difference of a block: a map such as Env or Config, a
// singleton such as Resources, or one element of a list such as a Service.
type ObjectDiff struct {
	Type DiffType
	// Name is the kind of block as Nomad prints it: "Config", "Service".
	Name string
	// Key identifies the element among its siblings of the same Name: a
	// service name, a template destination, a port label, or the content of
	// a constraint. Empty for singletons.
	Key string
	// Path locates the block in its job, group or task, in HCL terms:
	// `service[api].check[alive]`.
	Path        string
	Fields      []*FieldDiff
	Objects     []*ObjectDiff
	Annotations []string
}

// FieldDiff is the difference of one primitive value. Old and New are
// formatted for humans (durations as "10s"); an empty string means unset.
type FieldDiff struct {
	Type DiffType
	Name string
	// Path locates the field in its job, group or task: `config.image`.
	Path     string
	Old, New string
	// Sensitive is set when Old and New were replaced by SensitiveValue.
	Sensitive   bool
	Annotations []string
}

// Updates counts what a plan does to a group's allocations.
type Updates struct {
	Create      int
	Destroy     int
	InPlace     int
	Destructive int
	Ignore      int
}

// UpdateCount is one kind of allocation change and how many allocations it
// touches.
type UpdateCount struct {
	Kind  string
	Count int
}

// Update kinds, with Nomad's wording.
const (
	UpdateCreate      = "create"
	UpdateDestroy     = "destroy"
	UpdateInPlace     = "in-place update"
	UpdateDestructive = "create/destroy update"
	UpdateIgnore      = "ignore"
)

// List returns the non-zero counts sorted by kind, the order in which
// `nomad job plan` prints them.
func (u Updates) List() []UpdateCount {
	all := []UpdateCount{
		{UpdateCreate, u.Create},
		{UpdateDestructive, u.Destructive},
		{UpdateDestroy, u.Destroy},
		{UpdateIgnore, u.Ignore},
		{UpdateInPlace, u.InPlace},
	}
	out := all[:0]
	for _, c := range all {
		if c.Count > 0 {
			out = append(out, c)
		}
	}
	return out
}

// String formats the counts as Nomad does: "1 create, 2 create/destroy update".
func (u Updates) String() string {
	var parts []string
	for _, c := range u.List() {
		parts = append(parts, fmt.Sprintf("%d %s", c.Count, c.Kind))
	}
	return strings.Join(parts, ", ")
}

// Scopes of a Reason.
const (
	ScopeJob   = "job"
	ScopeGroup = "group"
	ScopeTask  = "task"
)

// Reason is one change that forces a create/destroy update.
type Reason struct {
	Scope string // ScopeJob, ScopeGroup or ScopeTask
	// Name is the group or task the path is relative to; empty for the job.
	Name string
	// Path is the changed field or block, relative to the scope; empty when
	// the task itself was added or removed.
	Path   string
	Change DiffType
}

// Subject is what the reason is about: `job`, `group "web"`, `task "server"`.
func (r Reason) Subject() string {
	if r.Name == "" {
		return r.Scope
	}
	return fmt.Sprintf("%s %q", r.Scope, r.Name)
}

// Detail is what happened to it: "config.image changed", or "added" when
// the subject itself was added.
func (r Reason) Detail() string {
	verb := "changed"
	switch r.Change {
	case DiffTypeAdded:
		verb = "added"
	case DiffTypeDeleted:
		verb = "removed"
	}
	if r.Path == "" {
		return verb
	}
	return r.Path + " " + verb
}

// String explains the reason in one line: `task "web": config.image changed`.
func (r Reason) String() string {
	if r.Path == "" {
		return r.Subject() + " " + r.Detail()
	}
	return r.Subject() + ": " + r.Detail()
}
