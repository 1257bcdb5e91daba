package state_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
	"github.com/droverhq/drover/state/statetest"
	"github.com/hashicorp/raft"
)

// BenchmarkServerRestart measures how long a server holding 10,000 jobs
// (two versions each) and 50,000 allocations takes to restart: open
// raft.db (with its consistency check), restore the newest snapshot and
// replay the log after it, until the store holds the last write. It then
// collects garbage as `drover system gc` does (40,000 of the allocations
// were stopped by a rollout, every evaluation is complete), snapshots
// again and measures the same restart: issue 14 asks for both figures,
// and for the state to stop growing without bound.
func BenchmarkServerRestart(b *testing.B) {
	const jobs, allocsPerJob = 10000, 5
	dir := b.TempDir()
	cfg := statetest.Config(dir, "bench")
	cfg.Bootstrap = true
	open := func() *state.Replicated {
		r, err := state.Open(cfg, discardLogger())
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	r := open()
	for !r.IsLeader() {
		time.Sleep(5 * time.Millisecond)
	}
	// Loaded by 32 writers, so that raft group-commits them.
	var mu sync.Mutex
	var last uint64
	apply := func(t state.MessageType, req any) {
		idx, _, err := r.Apply(b.Context(), t, req)
		if err != nil {
			b.Error(err)
			return
		}
		mu.Lock()
		last = max(last, idx)
		mu.Unlock()
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for j := range work {
				id := fmt.Sprintf("job-%05d", j)
				for v := range 2 {
					e := testEval(fmt.Sprintf("eval-%s-%d", id, v), id)
					e.Status = cluster.EvalStatusComplete
					apply(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob(id, fmt.Sprintf("c0ffee%d", v), allocsPerJob), Eval: e, Now: t0})
				}
				var plan []*cluster.Allocation
				for a := range allocsPerJob {
					al := testAlloc(fmt.Sprintf("%s-%d", id, a), id, fmt.Sprintf("node-%d", (j+a)%500), "eval-"+id+"-1")
					al.TaskStates = map[string]*cluster.TaskState{"server": {State: cluster.TaskStateDead, StartedAt: t0, FinishedAt: t0,
						Events: []cluster.TaskEvent{{Type: "Received", Time: t0, Message: "task received by client"},
							{Type: "Started", Time: t0, Message: "task started by client"},
							{Type: "Killed", Time: t0, Message: "task killed by client"}}}}
					if a > 0 { // replaced by the rollout of version 1
						al.DesiredStatus, al.ClientStatus = cluster.AllocDesiredStop, cluster.AllocClientComplete
					} else {
						al.DesiredStatus, al.ClientStatus = cluster.AllocDesiredRun, cluster.AllocClientRunning
						al.TaskStates["server"].State = cluster.TaskStateRunning
					}
					plan = append(plan, al)
				}
				apply(state.MsgPlanApply, &state.PlanApplyRequest{Allocs: plan, Now: t0})
			}
		})
	}
	for j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	if b.Failed() {
		return
	}

	restart := func(b *testing.B, want uint64) {
		// The framework calls this twice (b.N = 1, then the real N):
		// the second time the snapshot is already there.
		if err := r.TakeSnapshot(b.Context()); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
			b.Fatal(err)
		}
		if err := r.Shutdown(); err != nil {
			b.Fatal(err)
		}
		var elapsed time.Duration
		for i := range b.N {
			start := time.Now()
			r = open()
			for r.Store().Snapshot().Index() < want {
				time.Sleep(time.Millisecond)
			}
			elapsed += time.Since(start)
			if i < b.N-1 {
				if err := r.Shutdown(); err != nil {
					b.Fatal(err)
				}
			}
		}
		s := r.Store().Snapshot()
		b.ReportMetric(float64(elapsed.Milliseconds())/float64(b.N), "ms/restart")
		b.ReportMetric(float64(len(s.Jobs())), "jobs")
		b.ReportMetric(float64(len(s.Allocs())), "allocs")
		b.ReportMetric(snapshotMB(b, dir), "snapshot-MB")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("before-gc", func(b *testing.B) { restart(b, last) })

	for !r.IsLeader() {
		time.Sleep(5 * time.Millisecond)
	}
	req := state.GCCandidates(r.Store().Snapshot(), state.DefaultGCConfig().Force(), t0.Add(time.Hour))
	for _, part := range req.Split(state.GCBatchSize) {
		apply(state.MsgGC, part)
	}
	b.Run("after-gc", func(b *testing.B) { restart(b, last) })
	if err := r.Shutdown(); err != nil {
		b.Fatal(err)
	}
}

// snapshotMB is the size of the newest raft snapshot in dir.
func snapshotMB(b *testing.B, dir string) float64 {
	files, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*", "state.bin"))
	var newest os.FileInfo
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && (newest == nil || fi.ModTime().After(newest.ModTime())) {
			newest = fi
		}
	}
	if newest == nil {
		b.Fatalf("no snapshot in %s", dir)
	}
	return float64(newest.Size()) / (1 << 20)
}
