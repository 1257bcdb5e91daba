package diff_test

import (
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/diff/difftest"
	"github.com/droverhq/drover/jobspec"
)

func TestGroupUpdate(t *testing.T) {
	tests := []struct {
		name        string
		mutate      func(*jobspec.Job)
		group       string
		destructive bool
		reason      string // one of the reasons, when destructive
	}{
		{"unchanged", func(*jobspec.Job) {}, "web", false, ""},
		{"count only", func(j *jobspec.Job) { j.Groups[0].Count = 7 }, "web", false, ""},
		{"kill timeout in place", func(j *jobspec.Job) { task(j).KillTimeout = time.Minute }, "web", false, ""},
		{"group constraint in place", func(j *jobspec.Job) {
			j.Groups[0].Constraints = []jobspec.Constraint{{Attribute: "${meta.rack}", Operator: "=", Value: "r1"}}
		}, "web", false, ""},
		{"rollout added in place", func(j *jobspec.Job) {
			j.Groups[0].Rollout = &jobspec.Rollout{OrderBy: "${meta.role}", Order: []string{"follower", "leader"}}
		}, "web", false, ""},
		{"image", func(j *jobspec.Job) { task(j).Config["image"] = "nginx:1.27" }, "web", true, `task "server": config.image changed`},
		{"image and count", func(j *jobspec.Job) {
			task(j).Config["image"] = "nginx:1.27"
			j.Groups[0].Count = 0
		}, "web", true, `task "server": config.image changed`},
		{"job meta", func(j *jobspec.Job) { j.Meta["owner"] = "x" }, "web", true, `job: meta.owner changed`},
		{"memory", func(j *jobspec.Job) { task(j).Resources.MemoryMB = 512 }, "web", true, `task "server": resources.memory changed`},
		{"other group changed", func(j *jobspec.Job) {
			j.Groups = append(j.Groups, difftest.Group("api", 1))
			j.Groups[1].Tasks[0].Config["image"] = "x"
		}, "web", false, ""},
		{"group removed", func(j *jobspec.Job) { j.Groups = nil }, "web", true, `group "web" removed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := difftest.Job("web")
			new := difftest.Clone(old)
			tt.mutate(new)
			got, reasons := diff.GroupUpdate(old, new, tt.group)
			if got != tt.destructive {
				t.Fatalf("destructive = %v (reasons %q), want %v", got, reasons, tt.destructive)
			}
			if tt.destructive && !slices.Contains(reasons, tt.reason) {
				t.Errorf("reasons = %q, want one %q", reasons, tt.reason)
			}
			if !tt.destructive && len(reasons) != 0 {
				t.Errorf("reasons = %q, want none", reasons)
			}
		})
	}
}

func TestGroupUpdateMissingJob(t *testing.T) {
	if d, _ := diff.GroupUpdate(nil, difftest.Job("web"), "web"); !d {
		t.Error("a missing old job must be destructive")
	}
}

// A rollout's order only decides which allocations go first: changing it
// shows in the plan as an in-place change of the group.
func TestRolloutOrderChangeInPlace(t *testing.T) {
	old := difftest.Job("web")
	old.Groups[0].Rollout = &jobspec.Rollout{Order: []string{"a", "b"}}
	new := difftest.Clone(old)
	new.Groups[0].Rollout = &jobspec.Rollout{Order: []string{"b", "a"}}
	if d, reasons := diff.GroupUpdate(old, new, "web"); d {
		t.Fatalf("destructive: %q", reasons)
	}
	p := diff.Compute(map[string]*jobspec.Job{"web": old}, map[string]*jobspec.Job{"web": new}, diff.Options{})
	if !p.HasChanges() {
		t.Fatal("the order change is not in the plan")
	}
	g := p.Jobs[0].Groups[0]
	if g.Updates.InPlace != old.Groups[0].Count || g.Updates.Destructive != 0 {
		t.Fatalf("updates = %+v", g.Updates)
	}
	// Where the block was written is not part of the job.
	moved := difftest.Clone(old)
	moved.Groups[0].Rollout.Pos = &jobspec.RolloutPos{Elements: make([]hcl.Range, 2)}
	if diff.Compute(map[string]*jobspec.Job{"web": old}, map[string]*jobspec.Job{"web": moved}, diff.Options{}).HasChanges() {
		t.Fatal("positions alone show as a change")
	}
}
