package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

func chunkTestAlloc(i int) *cluster.Allocation {
	return &cluster.Allocation{
		ID: fmt.Sprintf("a-%05d", i), JobID: "big", TaskGroup: "g", Name: fmt.Sprintf("big.g[%d]", i),
		NodeID: "n1", EvalID: "e1", DeploymentID: "d1",
		Metrics: &cluster.AllocMetric{NodesEvaluated: 1, NodesAvailable: map[string]int{"dc1": 1},
			Scores: map[string]float64{"binpack": 0.5, "job-anti-affinity": -0.25, "normalized-score": 0.125}},
	}
}

func chunkTestPlan(stops, allocs, evals int) *state.PlanApplyRequest {
	req := &state.PlanApplyRequest{
		Deployment:        &cluster.Deployment{ID: "d1", JobID: "big"},
		DeploymentUpdates: []state.DeploymentStatusUpdate{{ID: "d0", Status: cluster.DeploymentCancelled}},
		Now:               time.Unix(1_700_000_000, 0),
	}
	for i := range stops {
		req.Stop = append(req.Stop, state.AllocDesired{AllocID: fmt.Sprintf("old-%05d", i), DesiredStatus: cluster.AllocDesiredStop})
	}
	for i := range allocs {
		req.Allocs = append(req.Allocs, chunkTestAlloc(i))
	}
	for i := range evals {
		req.Evals = append(req.Evals, &cluster.Evaluation{ID: fmt.Sprintf("e%d", i), JobID: "big", Status: cluster.EvalStatusComplete})
	}
	return req
}

func encodedSize(t *testing.T, v any) int {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

// TestChunkPlan checks the split of plans of various sizes: bounds on
// items and bytes, every item once and in order (stops, then
// placements), the deployment in the first chunk, the evaluations in the
// last, and Now everywhere.
func TestChunkPlan(t *testing.T) {
	allocSize := encodedSize(t, chunkTestAlloc(0))
	tests := []struct {
		name                 string
		stops, allocs, evals int
		lim                  chunkLimits
		wantChunks           int
	}{
		{"small plan stays one", 3, 5, 2, chunkLimits{items: 100, bytes: 1 << 20}, 1},
		{"evals only", 0, 0, 3, chunkLimits{items: 1, bytes: 10}, 1},
		{"by items", 0, 25, 1, chunkLimits{items: 10, bytes: 1 << 20}, 3},
		{"stops and allocs by items", 15, 15, 1, chunkLimits{items: 10, bytes: 1 << 20}, 3},
		{"by bytes", 0, 40, 1, chunkLimits{items: 1000, bytes: 10*allocSize + 200}, 5},
		{"an item larger than the bound goes alone", 0, 3, 1, chunkLimits{items: 1000, bytes: allocSize / 2}, 4},
		{"exactly full", 0, 20, 0, chunkLimits{items: 10, bytes: 1 << 20}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := chunkTestPlan(tt.stops, tt.allocs, tt.evals)
			chunks := chunkPlan(req, tt.lim)
			if len(chunks) != tt.wantChunks {
				t.Fatalf("%d chunks, want %d", len(chunks), tt.wantChunks)
			}
			var stops []string
			var allocs []string
			for i, c := range chunks {
				if !c.Now.Equal(req.Now) {
					t.Errorf("chunk %d: Now = %v, want %v", i, c.Now, req.Now)
				}
				if (c.Deployment != nil) != (i == 0) || (len(c.DeploymentUpdates) > 0) != (i == 0) {
					t.Errorf("chunk %d: deployment %v, updates %v: want them in the first chunk only", i, c.Deployment, c.DeploymentUpdates)
				}
				if (len(c.Evals) > 0) != (i == len(chunks)-1 && tt.evals > 0) {
					t.Errorf("chunk %d of %d has %d evaluations: want them all in the last", i, len(chunks), len(c.Evals))
				}
				if n := len(c.Stop) + len(c.Allocs); n > tt.lim.items {
					t.Errorf("chunk %d: %d items, over the bound %d", i, n, tt.lim.items)
				}
				if n, size := len(c.Stop)+len(c.Allocs), encodedSize(t, c); n > 1 && size > tt.lim.bytes+100 {
					t.Errorf("chunk %d: %d bytes for %d items, over the bound %d", i, size, n, tt.lim.bytes)
				}
				if len(c.Stop) > 0 && len(allocs) > 0 {
					t.Errorf("chunk %d: stops after placements", i)
				}
				for _, u := range c.Stop {
					stops = append(stops, u.AllocID)
				}
				for _, a := range c.Allocs {
					allocs = append(allocs, a.ID)
				}
			}
			if got, want := strings.Join(stops, ","), ids(req.Stop, func(u state.AllocDesired) string { return u.AllocID }); got != want {
				t.Errorf("stops across chunks = %s, want %s", got, want)
			}
			if got, want := strings.Join(allocs, ","), ids(req.Allocs, func(a *cluster.Allocation) string { return a.ID }); got != want {
				t.Errorf("allocations across chunks = %s, want %s", got, want)
			}
			if last := chunks[len(chunks)-1]; len(last.Evals) != tt.evals {
				t.Errorf("last chunk has %d evaluations, want %d", len(last.Evals), tt.evals)
			}
		})
	}
}

func ids[T any](list []T, id func(T) string) string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = id(v)
	}
	return strings.Join(out, ",")
}

// TestChunkPlanDefaultBounds checks the default bounds on a plan shaped
// like issue 14's (a fifth of its 100,000 placements of a small task,
// which the race detector makes slow).
func TestChunkPlanDefaultBounds(t *testing.T) {
	const n = 20_000
	req := chunkTestPlan(0, n, 2)
	start := time.Now()
	chunks := chunkPlan(req, defaultChunkLimits())
	t.Logf("%d chunks in %v", len(chunks), time.Since(start))
	if len(chunks) < n/planChunkItems {
		t.Fatalf("%d chunks for %d allocations, want at least %d", len(chunks), n, n/planChunkItems)
	}
	for i, c := range chunks {
		if size := encodedSize(t, c); size > planChunkBytes+1024 {
			t.Fatalf("chunk %d is %d bytes, over %d", i, size, planChunkBytes)
		}
	}
}
