package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// bigJobServer adjusts a test server for big jobs: the simulated node
// does not heartbeat, so its TTL outlasts the test, and the job limits
// are raised to max.
func bigJobServer(max int) func(*server.Config) {
	return func(c *server.Config) {
		c.HeartbeatTTL, c.HeartbeatGrace, c.FailoverHeartbeatGrace = time.Hour, time.Hour, time.Hour
		c.JobMaxCount, c.JobMaxAllocs = max, max
	}
}

// registerBigNode registers one node with room for any test's job: the
// "large simulated node" of issue 14.
func registerBigNode(t *testing.T, c *api.Client) *cluster.Node {
	t.Helper()
	n := testNode(1)
	n.Resources = cluster.NodeResources{CPU: 1 << 30, MemoryMB: 1 << 30, DiskMB: 1 << 30}
	if _, err := asNode(c, n.ID).Nodes().Register(ctxT(t), n); err != nil {
		t.Fatalf("register the big node: %v", err)
	}
	return n
}

// bigJob is a service job of one group with count allocations of a tiny
// task (1 MHz, 10 MB, 1 MB of disk) and no ports.
func bigJob(t testing.TB, id string, count int) *jobspec.Job {
	t.Helper()
	j := parseJob(t, fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  group "web" {
    count = %d
    ephemeral_disk {
      size = 1
    }
    task "server" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      resources {
        cpu    = 1
        memory = 10
      }
    }
  }
}
`, id, count))
	return j
}

// waitJobAllocs waits, with blocking queries, until the job has want
// allocations whose desired status is desired.
func waitJobAllocs(t *testing.T, c *api.Client, jobID string, want int, desired string) []*cluster.Allocation {
	t.Helper()
	ctx := ctxT(t)
	var index uint64
	for {
		allocs, meta, err := c.Jobs().Allocations(ctx, jobID, &api.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second})
		if err != nil {
			t.Fatalf("allocations of %s: %v", jobID, err)
		}
		n := 0
		for _, a := range allocs {
			if a.DesiredStatus == desired {
				n++
			}
		}
		if n == want {
			return allocs
		}
		index = meta.LastIndex
	}
}

func evalOf(evals []*cluster.Evaluation, id string) *cluster.Evaluation {
	for _, e := range evals {
		if e.ID == id {
			return e
		}
	}
	return nil
}

// TestBigJobPlanCommitsInChunks places 2,000 allocations on one node: the
// plan (about 1.6 MB encoded) goes into Raft as several bounded entries,
// the evaluation completes, and every allocation is there once, counted
// in the deployment. Stopping the job commits its 2,000 stops in chunks
// too.
func TestBigJobPlanCommitsInChunks(t *testing.T) {
	const count = 2000
	srv := servertest.Single(t, bigJobServer(count))
	c := srv.Client
	registerBigNode(t, c)

	before := srv.State().AppliedIndex()
	resp, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: bigJob(t, "big", count)})
	if err != nil {
		t.Fatal(err)
	}
	evals := waitEvals(t, c, "big")
	if e := evalOf(evals, resp.EvalID); e == nil || e.Status != cluster.EvalStatusComplete {
		t.Fatalf("evaluation %s = %+v, want complete", resp.EvalID, e)
	}
	allocs := waitJobAllocs(t, c, "big", count, cluster.AllocDesiredRun)
	names := map[string]bool{}
	indexes := map[uint64]bool{}
	for _, a := range allocs {
		names[a.Name] = true
		indexes[a.CreateIndex] = true
	}
	if len(allocs) != count || len(names) != count {
		t.Fatalf("%d allocations with %d names, want %d of each", len(allocs), len(names), count)
	}
	// A placed allocation encodes to about 800 bytes: at least 5 chunks
	// of 256 KiB, each its own Raft entry, after the register's.
	entries := srv.State().AppliedIndex() - before
	t.Logf("%d allocations in %d raft entries (%d distinct create indexes)", count, entries, len(indexes))
	if len(indexes) < 5 || entries < 6 {
		t.Errorf("the plan was committed in %d raft entries (%d create indexes), want at least 5 chunks", entries, len(indexes))
	}
	deps, _, err := c.Jobs().Deployments(ctxT(t), "big", nil)
	if err != nil || len(deps) != 1 {
		t.Fatalf("deployments = %v, %v; want one", deps, err)
	}
	if g := deps[0].TaskGroups["web"]; g == nil || g.PlacedAllocs != count {
		t.Errorf("deployment group = %+v, want %d placed", g, count)
	}

	before = srv.State().AppliedIndex()
	if _, err := c.Jobs().Deregister(ctxT(t), "big", false); err != nil {
		t.Fatal(err)
	}
	waitJobAllocs(t, c, "big", count, cluster.AllocDesiredStop)
	for _, e := range waitEvals(t, c, "big") {
		if e.Status == cluster.EvalStatusPending {
			t.Errorf("evaluation %s still pending after the stop", e.ID)
		}
	}
	if entries := srv.State().AppliedIndex() - before; entries < 3 {
		t.Errorf("the stop plan took %d raft entries with the deregister, want at least 3 (2,000 stops in chunks of 1,000)", entries)
	}
}

// TestBigJobResumesAfterLeaderLoss stops the leader while it commits
// the chunks of a 10,000-allocation plan: the evaluation, whose status
// is in the last chunk, is still pending, and the new leader places
// exactly what is missing, into the same deployment.
func TestBigJobResumesAfterLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("places 10,000 allocations on a three-server cluster")
	}
	const count = 10_000
	servers := servertest.Cluster(t, 3, bigJobServer(count))
	leader := servertest.Leader(servers)
	registerBigNode(t, leader.Client)
	resp, err := leader.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: bigJob(t, "big", count)})
	if err != nil {
		t.Fatal(err)
	}

	// Stop the leader once some chunks, not all, are in.
	snapAllocs := func() int { return len(leader.State().Store().Snapshot().AllocsByJob("default", "big")) }
	servertest.WaitFor(t, "the first chunks of the plan", func() bool { return snapAllocs() > 0 })
	seen := snapAllocs()
	if err := leader.Stop(); err != nil {
		t.Fatal(err)
	}
	if seen >= count {
		t.Skipf("the whole plan (%d allocations) committed before the leader stopped; nothing to resume", seen)
	}
	t.Logf("leader stopped with %d of %d allocations committed", seen, count)

	var rest []*servertest.Server
	for _, s := range servers {
		if s != leader {
			rest = append(rest, s)
		}
	}
	var next *servertest.Server
	servertest.WaitFor(t, "a new leader", func() bool { next = servertest.Leader(rest); return next != nil })
	allocs := waitJobAllocs(t, next.Client, "big", count, cluster.AllocDesiredRun)
	names := map[string]bool{}
	deployments := map[string]bool{}
	for _, a := range allocs {
		names[a.Name] = true
		deployments[a.DeploymentID] = true
	}
	if len(allocs) != count || len(names) != count || len(deployments) != 1 {
		t.Errorf("%d allocations, %d names, %d deployments: want %d, %d, 1", len(allocs), len(names), len(deployments), count, count)
	}
	ctx, cancel := context.WithTimeout(ctxT(t), servertest.Timeout)
	defer cancel()
	servertest.WaitFor(t, "the evaluation to complete", func() bool {
		e, _, err := next.Client.Evaluations().Info(ctx, resp.EvalID, nil)
		return err == nil && e.Status == cluster.EvalStatusComplete
	})
}
