package server_test

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
	"github.com/droverhq/drover/state"
)

const (
	rollingNodes       = 100
	rollingCount       = 100
	rollingMaxParallel = 10
	rollingBatches     = rollingCount / rollingMaxParallel
)

// rollingJob is a service of rollingCount allocations updated
// rollingMaxParallel at a time, healthy as soon as its tasks run
// (task_states, min_healthy_time 0s). Each rev changes the env, a
// destructive update: every allocation is replaced.
func rollingJob(rev int) string {
	return fmt.Sprintf(`job "rolling" {
  datacenters = ["dc1"]
  update {
    max_parallel     = %d
    health_check     = "task_states"
    min_healthy_time = "0s"
    healthy_deadline = "1m"
  }
  group "web" {
    count = %d
    task "server" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["100000"]
      }
      env {
        REV = "%d"
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`, rollingMaxParallel, rollingCount, rev)
}

// BenchmarkRollingUpdate100 measures a rolling update of 100 allocations
// with max_parallel = 10 on a real single server (Raft on disk) with 100
// simulated nodes. The simulated agents (simulateAgents) report every
// allocation of a deployment running and healthy as soon as it appears,
// and every stopped one complete, through the agents' endpoint
// (POST /v1/node/{id}/allocations). Health wait is therefore zero and the
// whole rollout is Drover's overhead: ms/batch is ms/rollout over the
// ten batches (the target: ≤ 100 ms per batch beyond the health
// wait). batches is how many placement plans the rollout took, counted
// by the Raft index that created the new version's allocations.
func BenchmarkRollingUpdate100(b *testing.B) {
	srv := servertest.Single(b, func(c *server.Config) {
		// Production heartbeat timings; the simulated agents heartbeat.
		d := server.DefaultConfig()
		c.HeartbeatTTL, c.HeartbeatGrace = d.HeartbeatTTL, d.HeartbeatGrace
	})
	c := srv.Client
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)

	var nodes []string
	for i := range rollingNodes {
		n := testNode(i + 1)
		rctx, rcancel := context.WithTimeout(ctx, servertest.Timeout)
		_, err := asNode(c, n.ID).Nodes().Register(rctx, n)
		rcancel()
		if err != nil {
			b.Fatalf("register node %d: %v", i, err)
		}
		nodes = append(nodes, n.ID)
	}
	stop := simulateAgents(ctx, b, srv, nodes, parseJob(b, rollingJob(0)).Namespace, "rolling")
	b.Cleanup(stop)

	rev := 0
	registerRolling(b, c, rev)
	if d := waitRollout(b, c, "rolling", 0); d.Status != cluster.DeploymentSuccessful {
		b.Fatalf("initial deployment: %s (%s)", d.Status, d.StatusDescription)
	}

	var total time.Duration
	batches := 0
	b.ResetTimer()
	for range b.N {
		rev++
		version := uint64(rev)
		start := time.Now()
		registerRolling(b, c, rev)
		d := waitRollout(b, c, "rolling", version)
		total += time.Since(start)
		b.StopTimer()
		if g := d.TaskGroups["web"]; d.Status != cluster.DeploymentSuccessful || g == nil || g.HealthyAllocs != rollingCount {
			b.Fatalf("rollout of version %d: %s (%s) %+v", version, d.Status, d.StatusDescription, g)
		}
		batches += rolloutBatches(b, c, "rolling", version)
		b.StartTimer()
	}
	b.StopTimer()
	perRollout := float64(total.Microseconds()) / 1000 / float64(b.N)
	b.ReportMetric(perRollout, "ms/rollout")
	b.ReportMetric(perRollout/rollingBatches, "ms/batch")
	b.ReportMetric(float64(batches)/float64(b.N), "batches")
}

func registerRolling(b *testing.B, c *api.Client, rev int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), servertest.Timeout)
	defer cancel()
	if _, err := c.Jobs().Register(ctx, &api.JobRegisterRequest{Job: parseJob(b, rollingJob(rev))}); err != nil {
		b.Fatalf("register version %d: %v", rev, err)
	}
}

// waitRollout waits, with blocking queries on the job's deployments,
// until the deployment of version is no longer active.
func waitRollout(b *testing.B, c *api.Client, jobID string, version uint64) *cluster.Deployment {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), servertest.Timeout)
	defer cancel()
	var index uint64
	for {
		ds, meta, err := c.Jobs().Deployments(ctx, jobID, &api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second})
		if err != nil {
			b.Fatalf("waiting for the deployment of version %d: %v", version, err)
		}
		for _, d := range ds {
			if d.JobVersion == version && !d.Active() {
				return d
			}
		}
		index = meta.LastIndex
	}
}

// rolloutBatches counts the plans that placed version's allocations:
// each plan is one Raft entry, so its allocations share a create index.
func rolloutBatches(b *testing.B, c *api.Client, jobID string, version uint64) int {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), servertest.Timeout)
	defer cancel()
	allocs, _, err := c.Jobs().Allocations(ctx, jobID, nil)
	if err != nil {
		b.Fatal(err)
	}
	created := map[uint64]bool{}
	for _, a := range allocs {
		if a.JobVersion == version {
			created[a.CreateIndex] = true
		}
	}
	return len(created)
}

// simulateAgents plays the agents of nodes for jobID: they heartbeat,
// report each allocation placed in a deployment running and healthy at
// once, and each allocation the servers stop complete. They write
// through the agents' endpoint, one request per node, concurrently as
// independent agents would; they learn of new allocations from the
// server's store in-process (a blocking watch of the allocations
// table), so that decoding the job's growing allocation list over HTTP
// on every change does not take the CPU the server is measured on.
func simulateAgents(ctx context.Context, b *testing.B, srv *servertest.Server, nodes []string, ns, jobID string) (stop func()) {
	c := srv.Client
	store := srv.State().Store()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(server.DefaultConfig().HeartbeatTTL / 2)
		defer tick.Stop()
		for {
			for _, id := range nodes {
				if _, err := asNode(c, id).Nodes().Heartbeat(ctx, id); err != nil && ctx.Err() == nil {
					b.Logf("heartbeat %s: %v", id, err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	wg.Go(func() {
		healthy := true
		var index uint64
		for ctx.Err() == nil {
			idx, v, err := store.Blocking(ctx, index, []string{state.TableAllocs}, func(snap *state.Snapshot) (uint64, any) {
				return snap.Index(state.TableAllocs), snap.AllocsByJob(ns, jobID)
			})
			if err != nil {
				continue
			}
			index = idx
			byNode := map[string][]*cluster.Allocation{}
			for _, a := range v.([]*cluster.Allocation) {
				var up *cluster.Allocation
				switch {
				case a.DesiredStatus != cluster.AllocDesiredRun:
					if a.ClientStatus == cluster.AllocClientRunning {
						up = &cluster.Allocation{ID: a.ID, ClientStatus: cluster.AllocClientComplete}
					}
				case a.Terminal() || a.DeploymentID == "" || a.DeploymentStatus != nil && a.DeploymentStatus.Healthy != nil:
				default:
					up = &cluster.Allocation{ID: a.ID, ClientStatus: cluster.AllocClientRunning,
						DeploymentStatus: &cluster.AllocDeploymentStatus{Healthy: &healthy, Timestamp: time.Now()}}
				}
				if up != nil {
					byNode[a.NodeID] = append(byNode[a.NodeID], up)
				}
			}
			// Wait for every report before looking again, so that none is
			// sent twice.
			var sends sync.WaitGroup
			for node, up := range byNode {
				sends.Go(func() {
					if _, err := asNode(c, node).Nodes().UpdateAllocs(ctx, node, up); err != nil && ctx.Err() == nil {
						b.Logf("report allocations of %s: %v", node, err)
					}
				})
			}
			sends.Wait()
		}
	})
	return func() { cancel(); wg.Wait() }
}

// TestDeploymentWatcherIdleBeforeFirstWrite checks that the leader's
// deployment watcher waits, rather than spins, while no allocation or
// deployment was ever written (both tables at index 0), and still wakes
// for the first deployment.
func TestDeploymentWatcherIdleBeforeFirstWrite(t *testing.T) {
	s := servertest.Single(t)
	c := s.Client
	// A node, so that the evaluation loop has an index to wait on.
	registerNodes(t, c, 1)
	time.Sleep(100 * time.Millisecond)
	before := processCPU(t)
	const idle = time.Second
	time.Sleep(idle)
	// A spinning loop takes most of a core; waiting loops take next to
	// nothing.
	if used := processCPU(t) - before; used > idle/3 {
		t.Errorf("idle server used %v of CPU in %v", used, idle)
	}

	stop := healthReporter(ctxT(t), t, c, "first")
	defer stop()
	j := parseJob(t, webJob("first", 2, `update {
    max_parallel     = 1
    min_healthy_time = "0s"
  }`))
	if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: j}); err != nil {
		t.Fatal(err)
	}
	if d := waitDeploymentDone(t, c, "first", 0); d.Status != cluster.DeploymentSuccessful || d.TaskGroups["web"].HealthyAllocs != 2 {
		t.Fatalf("first deployment: %s (%s) %+v", d.Status, d.StatusDescription, d.TaskGroups["web"])
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
