package scheduler

import (
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

func TestInNodePool(t *testing.T) {
	for _, tc := range []struct {
		job, node string
		want      bool
	}{
		{"", "", true},
		{"", "default", true},
		{"default", "", true},
		{"", "edge", false},
		{"default", "edge", false},
		{"edge", "edge", true},
		{"edge", "", false},
		{"edge", "gpu", false},
		{"all", "", true},
		{"all", "edge", true},
	} {
		spec := &jobspec.Job{NodePool: tc.job}
		if got := inNodePool(spec, &cluster.Node{NodePool: tc.node}); got != tc.want {
			t.Errorf("job pool %q, node pool %q: %v, want %v", tc.job, tc.node, got, tc.want)
		}
	}
}

// poolNodes are six nodes: n00, n01 in default (one naming it, one
// naming nothing), n02-n04 in edge, n05 in gpu.
func poolNodes() []*cluster.Node {
	return nodes(6, func(i int, n *cluster.Node) {
		switch {
		case i == 0:
			n.NodePool = "default"
		case i >= 2 && i <= 4:
			n.NodePool = "edge"
		case i == 5:
			n.NodePool = "gpu"
		}
	})
}

// A job places only on nodes of its pool; nodes outside it are not
// candidates: not evaluated, not filtered, not available (Nomad's
// metric).
func TestNodePoolPlacement(t *testing.T) {
	for _, tc := range []struct {
		name      string
		typ       jobspec.JobType
		pool      string
		count     int
		wantNodes []string // nodes with allocations
		available int      // NodesAvailable["dc1"] in the failure metric, -1: no failure
	}{
		{"service default", jobspec.JobTypeService, "", 6, []string{"n00", "n01"}, -1},
		{"service edge", jobspec.JobTypeService, "edge", 6, []string{"n02", "n03", "n04"}, -1},
		{"service all", jobspec.JobTypeService, "all", 12, []string{"n00", "n01", "n02", "n03", "n04", "n05"}, -1},
		{"service empty pool", jobspec.JobTypeService, "nobody", 2, nil, 0},
		{"system default", jobspec.JobTypeSystem, "default", 0, []string{"n00", "n01"}, -1},
		{"system edge", jobspec.JobTypeSystem, "edge", 0, []string{"n02", "n03", "n04"}, -1},
		{"system all", jobspec.JobTypeSystem, "all", 0, []string{"n00", "n01", "n02", "n03", "n04", "n05"}, -1},
		{"sysbatch gpu", jobspec.JobTypeSysBatch, "gpu", 0, []string{"n05"}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemState(poolNodes()...)
			count := max(tc.count, 1)
			spec := job(count, func(j *jobspec.Job) {
				j.Type = tc.typ
				j.NodePool = tc.pool
				// Spread evenly so that every candidate gets some.
				grp(j).Spreads = []jobspec.Spread{{Attribute: "${node.unique.name}"}}
			})
			if tc.typ != jobspec.JobTypeService {
				grp(spec).Spreads = nil
			}
			p := run(t, st, spec, 7)
			got := perNode(p)
			if len(got) != len(tc.wantNodes) {
				t.Fatalf("allocations per node %v, want on %v", got, tc.wantNodes)
			}
			for _, n := range tc.wantNodes {
				if got[n] == 0 {
					t.Fatalf("allocations per node %v, want some on %s", got, n)
				}
			}
			m := p.FailedTGAllocs["web"]
			if tc.available < 0 {
				if m != nil {
					t.Fatalf("failure metric %+v", m)
				}
				return
			}
			if m == nil || m.NodesEvaluated != 0 || m.NodesFiltered != 0 || m.NodesAvailable["dc1"] != tc.available {
				t.Fatalf("failure metric %+v: want nothing evaluated or filtered, %d available in dc1", m, tc.available)
			}
			if text := explainText(p, "web"); text == "" {
				t.Fatal("no explanation")
			}
		})
	}
}

// Moving a job to another pool replaces its allocations onto the new
// pool's nodes, though nothing else changed (an in-place update would
// leave them where they are); a system job stops on the nodes it left.
func TestNodePoolChangeMovesAllocations(t *testing.T) {
	for _, typ := range []jobspec.JobType{jobspec.JobTypeService, jobspec.JobTypeSystem} {
		t.Run(string(typ), func(t *testing.T) {
			st := newMemState(poolNodes()...)
			mk := func(pool string) *jobspec.Job {
				return job(2, func(j *jobspec.Job) { j.Type = typ; j.NodePool = pool })
			}
			st.apply(run(t, st, mk(""), 1))
			st.setClient(cluster.AllocClientRunning)
			p := run(t, st, mk("gpu"), 2)
			for _, a := range placed(p) {
				if a.NodeID != "n05" {
					t.Errorf("allocation %s placed on %s, outside pool gpu", a.Name, a.NodeID)
				}
			}
			if len(fresh(st, p)) == 0 {
				t.Fatal("nothing placed in the new pool")
			}
			for _, a := range stopped(p) {
				if a.NodeID != "n00" && a.NodeID != "n01" {
					t.Errorf("stopped %s on %s", a.Name, a.NodeID)
				}
			}
			if got := len(stopped(p)); got != 2 {
				t.Fatalf("stopped %d allocations in pool default, want 2", got)
			}
		})
	}
}
