package server

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/state"
	"github.com/hashicorp/raft"
)

// jobListState writes jobs jobs of two groups each and allocs
// allocations spread over them, in every client status, straight through
// an FSM (no Raft, no disk: the list reads only the store).
func jobListState(tb testing.TB, jobs, allocs int) *state.Snapshot {
	tb.Helper()
	fsm := state.NewFSM(state.NewStore(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	var index uint64
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	apply := func(t state.MessageType, req any) {
		data, err := state.Encode(t, req)
		if err != nil {
			tb.Fatal(err)
		}
		index++
		if err, ok := fsm.Apply(&raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}).(error); ok {
			tb.Fatalf("%s: %v", t, err)
		}
	}
	statuses := []string{cluster.AllocClientPending, cluster.AllocClientRunning, cluster.AllocClientRunning,
		cluster.AllocClientRunning, cluster.AllocClientComplete, cluster.AllocClientFailed, cluster.AllocClientLost,
		cluster.AllocClientUnknown}
	for j := range jobs {
		id := fmt.Sprintf("job-%05d", j)
		spec := &jobspec.Job{ID: id, Name: id, Type: jobspec.JobTypeService, Region: "global", Namespace: "default",
			Datacenters: []string{"dc1"}, Priority: 50}
		for _, g := range []string{"web", "worker"} {
			spec.Groups = append(spec.Groups, &jobspec.Group{Name: g, Count: allocs / jobs / 2,
				Tasks: []*jobspec.Task{{Name: "server", Driver: "exec", Config: map[string]any{"command": "/bin/true"}}}})
		}
		apply(state.MsgJobRegister, &state.JobRegisterRequest{Job: &cluster.Job{Namespace: "default", ID: id, Spec: spec}, Now: now})
	}
	const chunk = 1000
	var plan []*cluster.Allocation
	for i := range allocs {
		job := fmt.Sprintf("job-%05d", i%jobs)
		group := []string{"web", "worker"}[(i/jobs)%2]
		desired := cluster.AllocDesiredRun
		if i%11 == 0 {
			desired = cluster.AllocDesiredStop
		}
		plan = append(plan, &cluster.Allocation{
			ID: fmt.Sprintf("%08x-0000-0000-0000-000000000000", i), Namespace: "default", JobID: job, TaskGroup: group,
			Name: fmt.Sprintf("%s.%s[%d]", job, group, i/jobs), NodeID: fmt.Sprintf("node-%03d", i%500), EvalID: "e1",
			DesiredStatus: desired, ClientStatus: statuses[i%len(statuses)],
		})
		if len(plan) == chunk || i == allocs-1 {
			apply(state.MsgPlanApply, &state.PlanApplyRequest{Allocs: plan, Now: now})
			plan = nil
		}
	}
	return fsm.Store().Snapshot()
}

// listAllJobs is the work of GET /v1/jobs for an operator token, without
// HTTP: every job's stub (made by stub), then its JSON.
func listAllJobs(b *testing.B, snap *state.Snapshot, now time.Time, stub func(*state.Snapshot, *cluster.Job) *api.JobListStub) int {
	out := []*api.JobListStub{}
	for _, j := range snap.Jobs() {
		st := stub(snap, j)
		st.NextPeriodicLaunch = jobNextPeriodicLaunch(snap, j, now)
		out = append(out, st)
	}
	data, err := json.Marshal(out)
	if err != nil {
		b.Fatal(err)
	}
	return len(data)
}

// BenchmarkJobList measures the job list (GET /v1/jobs without HTTP) with
// 100,000 allocations in state: one job holding all of them (the big-job
// scenario of BENCHMARKS.md) and 1,000 jobs of 100 each. summary= says
// how each row's counts are made: table reads the FSM's job summaries
// (what the server does), recount counts every allocation (what it did
// before them), on the same state in the same run.
func BenchmarkJobList(b *testing.B) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, shape := range []struct{ jobs, allocs int }{{1, 100_000}, {1000, 100_000}} {
		b.Run(fmt.Sprintf("jobs=%d/allocs=%d", shape.jobs, shape.allocs), func(b *testing.B) {
			snap := jobListState(b, shape.jobs, shape.allocs)
			for _, way := range []struct {
				name string
				stub func(*state.Snapshot, *cluster.Job) *api.JobListStub
			}{{"table", jobStub}, {"recount", jobStubRecount}} {
				b.Run("summary="+way.name, func(b *testing.B) {
					var size int
					for b.Loop() {
						size = listAllJobs(b, snap, now, way.stub)
					}
					b.ReportMetric(float64(size)/1024, "KiB/list")
				})
			}
		})
	}
}
