package diff_test

import (
	"testing"

	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/diff/difftest"
	"github.com/droverhq/drover/jobspec"
)

// A job moved to another node pool is a change the plan shows (and the
// reconciler submits); like datacenters, it updates in place, and the
// scheduler replaces only the allocations on nodes outside the pool.
func TestNodePoolChange(t *testing.T) {
	d := update(t, nil, func(j *jobspec.Job) { j.NodePool = "edge" })
	if g := group(d, "web"); g.Updates != (diff.Updates{InPlace: 2}) {
		t.Errorf("updates = %+v, want 2 in place (reasons %q)", g.Updates, reasons(g))
	}
	if !hasPath(d, "node_pool") {
		t.Error("no diff at path node_pool")
	}
	old, moved := difftest.Job("web"), difftest.Job("web")
	moved.NodePool = "gpu"
	if !diff.Compute(jobs(old), jobs(moved), diff.Options{}).HasChanges() {
		t.Error("a node_pool change is not a change")
	}
}
