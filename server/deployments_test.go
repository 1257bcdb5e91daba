package server_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

// healthReporter plays the agents of nodes: every allocation placed in a
// deployment reports running and healthy at once (min_healthy_time = 0
// with no checks), so that what remains of a rollout's time is Drover's.
func healthReporter(ctx context.Context, t *testing.T, c *api.Client, jobID string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		healthy := true
		var index uint64
		for ctx.Err() == nil {
			allocs, meta, err := c.Jobs().Allocations(ctx, jobID, &api.QueryOptions{WaitIndex: index, WaitTime: 2 * time.Second})
			if err != nil {
				continue
			}
			index = meta.LastIndex
			byNode := map[string][]*cluster.Allocation{}
			for _, a := range allocs {
				if a.Terminal() || a.DeploymentID == "" || a.DeploymentStatus != nil && a.DeploymentStatus.Healthy != nil {
					continue
				}
				byNode[a.NodeID] = append(byNode[a.NodeID], &cluster.Allocation{ID: a.ID, ClientStatus: cluster.AllocClientRunning,
					DeploymentStatus: &cluster.AllocDeploymentStatus{Healthy: &healthy, Timestamp: time.Now()}})
			}
			for node, up := range byNode {
				if _, err := asNode(c, node).Nodes().UpdateAllocs(ctx, node, up); err != nil && ctx.Err() == nil {
					t.Logf("report health: %v", err)
				}
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

func waitDeploymentDone(t *testing.T, c *api.Client, jobID string, version uint64) *cluster.Deployment {
	t.Helper()
	ctx := ctxT(t)
	var index uint64
	for {
		ds, meta, err := c.Jobs().Deployments(ctx, jobID, &api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second})
		if err != nil {
			t.Fatalf("waiting for deployment of version %d: %v", version, err)
		}
		for _, d := range ds {
			if d.JobVersion == version && !d.Active() {
				return d
			}
		}
		index = meta.LastIndex
	}
}

// TestRollingUpdateOverheadPerBatch measures a rolling update of 100
// allocations with max_parallel = 10 and instant health: ten batches,
// each gated on the previous one's health. It reports Drover's overhead
// per batch (the target: at most 100 ms beyond the health wait).
func TestRollingUpdateOverheadPerBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	s := servertest.Single(t, noHeartbeats)
	c := s.Client
	registerNodes(t, c, 5)
	update := `update {
    max_parallel     = 10
    min_healthy_time = "0s"
  }`
	stop := healthReporter(ctxT(t), t, c, "big")
	defer stop()

	register := func(args string) {
		t.Helper()
		j := parseJob(t, webJob("big", 100, update))
		j.Groups[0].Tasks[0].Config["args"] = []any{args}
		if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: j}); err != nil {
			t.Fatal(err)
		}
	}
	register("1000")
	if d := waitDeploymentDone(t, c, "big", 0); d.Status != cluster.DeploymentSuccessful {
		t.Fatalf("initial deployment: %s (%s)", d.Status, d.StatusDescription)
	}
	start := time.Now()
	register("1001")
	d := waitDeploymentDone(t, c, "big", 1)
	total := time.Since(start)
	if d.Status != cluster.DeploymentSuccessful || d.TaskGroups["web"].HealthyAllocs != 100 {
		t.Fatalf("rolling update: %s (%s) %+v", d.Status, d.StatusDescription, d.TaskGroups["web"])
	}
	perBatch := total / 10
	t.Logf("rolling update of 100 allocations, max_parallel = 10, instant health: %v total, %v per batch", total, perBatch)
	if perBatch > time.Second {
		t.Errorf("overhead per batch %v: far beyond the 100 ms target", perBatch)
	}
}

func TestManualHealthMarkedByOperator(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	c := s.Client
	registerNodes(t, c, 1)
	j := parseJob(t, webJob("manual", 2, `update {
    max_parallel = 1
    health_check = "manual"
  }`))
	if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: j}); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, c, "manual")
	ds, _, err := c.Jobs().Deployments(ctxT(t), "manual", nil)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deployments: %v %+v", err, ds)
	}
	d := ds[0]
	allocs, _, err := c.Jobs().Allocations(ctxT(t), "manual", nil)
	if err != nil || len(allocs) != 2 {
		t.Fatalf("allocations: %v %d", err, len(allocs))
	}
	if _, err := c.Deployments().SetAllocHealth(ctxT(t), d.ID, &api.DeploymentAllocHealthRequest{Healthy: []string{"nope"}}); !isBadRequest(err) {
		t.Errorf("unknown allocation: %v, want a 400", err)
	}
	if _, err := c.Deployments().SetAllocHealth(ctxT(t), d.ID[:8], &api.DeploymentAllocHealthRequest{Healthy: []string{allocs[0].ID, allocs[1].ID}}); err != nil {
		t.Fatal(err)
	}
	if got := waitDeploymentDone(t, c, "manual", 0); got.Status != cluster.DeploymentSuccessful || got.TaskGroups["web"].HealthyAllocs != 2 {
		t.Fatalf("after marking both healthy: %s (%s) %+v", got.Status, got.StatusDescription, got.TaskGroups["web"])
	}
}

func isBadRequest(err error) bool {
	var se *api.StatusError
	return errors.As(err, &se) && se.Code == 400
}
