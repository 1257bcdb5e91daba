package server

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/state"
	"github.com/hashicorp/raft"
)

// jobStubRecount is jobStub as it was before the FSM kept job summaries:
// it reads and counts every allocation of the job. It stays here as the
// reference the table must reproduce, and as BenchmarkJobList's
// baseline.
func jobStubRecount(snap *state.Snapshot, j *cluster.Job) *api.JobListStub {
	st := &api.JobListStub{
		ID: j.ID, Namespace: j.Namespace, Version: j.Version, Status: j.Status, Stop: j.Stop,
		Source: j.Source, SubmitTime: j.SubmitTime, ParentID: j.ParentID, JobModifyIndex: j.JobModifyIndex, ModifyIndex: j.ModifyIndex,
	}
	if j.Spec != nil {
		st.Name, st.Type, st.Priority = j.Spec.Name, j.Spec.Type, j.Spec.Priority
		st.NotLaunched, _ = j.Spec.NotLaunched()
	}
	if j.StoppedByHand() {
		if prev := snap.JobVersion(j.Namespace, j.ID, j.Version-1); prev != nil {
			st.BeforeStop = prev.Source
		}
	}
	allocs := snap.AllocsByJob(j.Namespace, j.ID)
	for _, a := range allocs {
		if st.Summary == nil {
			st.Summary = map[string]map[string]int{}
		}
		g := st.Summary[a.TaskGroup]
		if g == nil {
			g = map[string]int{}
			st.Summary[a.TaskGroup] = g
		}
		g[a.ClientStatus]++
	}
	st.Status = jobStatus(j, allocs)
	if st.Status == cluster.JobStatusDead && !j.Stop && batchPending(snap, j) {
		st.Status = cluster.JobStatusPending
	}
	return st
}

// randomJobState drives an FSM through random job registers (service,
// batch, sysbatch, periodic; some stopped), placements, agent updates,
// stops, disconnect marks, evaluations and GC, calling check after each
// command.
func randomJobState(t *testing.T, seed uint64, steps int, check func(step int, snap *state.Snapshot)) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x10b5))
	fsm := state.NewFSM(state.NewStore(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	var index uint64
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	apply := func(typ state.MessageType, req any) {
		data, err := state.Encode(typ, req)
		if err != nil {
			t.Fatal(err)
		}
		index++
		fsm.Apply(&raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}) // refusals are part of the walk
	}
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	jobs := []string{"web", "api", "etl", "nightly", "agent"}
	var ids []string
	for step := range steps {
		switch rng.IntN(8) {
		case 0:
			id := jobs[rng.IntN(len(jobs))]
			spec := &jobspec.Job{ID: id, Name: id, Type: []jobspec.JobType{jobspec.JobTypeService, jobspec.JobTypeBatch, jobspec.JobTypeSysBatch}[rng.IntN(3)],
				Region: "global", Namespace: "default", Datacenters: []string{"dc1"}, Priority: 50,
				Groups: []*jobspec.Group{{Name: "web", Count: 2, Tasks: []*jobspec.Task{{Name: "t", Driver: "exec",
					Config: map[string]any{"command": "/bin/true"}}}}}}
			if rng.IntN(5) == 0 {
				spec.Periodic = &jobspec.Periodic{Crons: []string{"*/5 * * * *"}, Enabled: true}
			}
			apply(state.MsgJobRegister, &state.JobRegisterRequest{Job: &cluster.Job{Namespace: "default", ID: id, Spec: spec,
				Stop: rng.IntN(6) == 0}, Now: now})
		case 1:
			apply(state.MsgJobDeregister, &state.JobDeregisterRequest{Namespace: "default", JobID: jobs[rng.IntN(len(jobs))],
				Purge: rng.IntN(3) == 0, Now: now})
		case 2, 3:
			req := &state.PlanApplyRequest{Now: now}
			for range 1 + rng.IntN(6) {
				id := fmt.Sprintf("alloc-%04d", len(ids))
				ids = append(ids, id)
				job := jobs[rng.IntN(len(jobs))]
				req.Allocs = append(req.Allocs, &cluster.Allocation{ID: id, Namespace: "default", JobID: job,
					TaskGroup: pick("web", "db"), Name: job + ".web[0]", NodeID: "node-1", EvalID: "e1",
					ClientStatus: pick("", cluster.AllocClientRunning, cluster.AllocClientComplete, cluster.AllocClientFailed)})
			}
			if rng.IntN(3) == 0 {
				req.Evals = []*cluster.Evaluation{{ID: fmt.Sprintf("eval-%d", step), Namespace: "default",
					JobID: jobs[rng.IntN(len(jobs))], Type: jobspec.JobTypeBatch, Priority: 50, TriggeredBy: cluster.EvalTriggerJobRegister,
					Status: pick(cluster.EvalStatusPending, cluster.EvalStatusComplete, cluster.EvalStatusBlocked)}}
			}
			apply(state.MsgPlanApply, req)
		case 4, 5:
			if len(ids) == 0 {
				continue
			}
			req := &state.AllocClientUpdateRequest{Now: now}
			for range 1 + rng.IntN(6) {
				req.Allocs = append(req.Allocs, state.AllocClientState{ID: ids[rng.IntN(len(ids))],
					ClientStatus: pick(cluster.AllocClientPending, cluster.AllocClientRunning, cluster.AllocClientComplete,
						cluster.AllocClientFailed, cluster.AllocClientLost)})
			}
			apply(state.MsgAllocClientUpdate, req)
		case 6:
			if len(ids) == 0 {
				continue
			}
			id := ids[rng.IntN(len(ids))]
			if rng.IntN(2) == 0 {
				apply(state.MsgAllocUpdateDesired, &state.AllocDesiredRequest{Now: now, Updates: []state.AllocDesired{{AllocID: id,
					DesiredStatus: pick(cluster.AllocDesiredStop, cluster.AllocDesiredEvict)}}})
			} else {
				apply(state.MsgAllocDisconnect, &state.AllocDisconnectRequest{Now: now, Allocs: []state.AllocDisconnect{{AllocID: id,
					ClientStatus: pick(cluster.AllocClientUnknown, cluster.AllocClientLost)}}})
			}
		default:
			if len(ids) == 0 {
				continue
			}
			apply(state.MsgGC, &state.GCRequest{Allocs: []string{ids[rng.IntN(len(ids))], ids[rng.IntN(len(ids))]}, Now: now})
		}
		check(step, fsm.Store().Snapshot())
	}
}

// TestJobStubSummaryMatchesRecount: the job list's rows from the FSM's
// job summaries are, byte for byte, what counting every allocation gave,
// on random states that pass through every job status.
func TestJobStubSummaryMatchesRecount(t *testing.T) {
	statuses := map[string]int{}
	for seed := range uint64(6) {
		randomJobState(t, seed, 300, func(step int, snap *state.Snapshot) {
			for _, j := range snap.Jobs() {
				got, err := json.Marshal(jobStub(snap, j))
				if err != nil {
					t.Fatal(err)
				}
				want, _ := json.Marshal(jobStubRecount(snap, j))
				if string(got) != string(want) {
					t.Fatalf("seed %d step %d: job %s:\nfrom the table: %s\nfrom a recount: %s", seed, step, j.ID, got, want)
				}
				statuses[jobStub(snap, j).Status]++
			}
		})
	}
	for _, s := range []string{cluster.JobStatusPending, cluster.JobStatusRunning, cluster.JobStatusDead} {
		if statuses[s] == 0 {
			t.Errorf("the random states never listed a %s job (%v): the comparison missed a case", s, statuses)
		}
	}
}
