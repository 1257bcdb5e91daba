package state_test

import (
	"errors"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
	"github.com/hashicorp/raft"
)

func TestJobRegisterKeepsEveryVersion(t *testing.T) {
	h := newFSM(t)
	commits := []string{"c0ffee0", "c0ffee1", "c0ffee2"}
	for i, c := range commits {
		resp := h.must(state.MsgJobRegister, &state.JobRegisterRequest{
			Job: testJob("web", c, i+1), Now: t0.Add(time.Duration(i) * time.Minute),
		}).(*state.JobRegisterResponse)
		if resp.Version != uint64(i) || resp.JobModifyIndex != h.index {
			t.Fatalf("register %d: got %+v, want version %d at index %d", i, resp, i, h.index)
		}
	}
	s := h.snap()
	versions := s.JobVersions("default", "web")
	if len(versions) != 3 {
		t.Fatalf("got %d versions, want 3", len(versions))
	}
	for i, v := range versions {
		want := uint64(2 - i) // newest first
		if v.Version != want {
			t.Errorf("versions[%d].Version = %d, want %d", i, v.Version, want)
		}
		if v.Source == nil || v.Source.Commit != commits[want] {
			t.Errorf("version %d source = %+v, want commit %s", want, v.Source, commits[want])
		}
		if v.Spec.Groups[0].Count != int(want)+1 {
			t.Errorf("version %d count = %d", want, v.Spec.Groups[0].Count)
		}
		if v.CreateIndex != 1 || v.JobModifyIndex != want+1 {
			t.Errorf("version %d: create index %d, job modify index %d", want, v.CreateIndex, v.JobModifyIndex)
		}
		if !v.SubmitTime.Equal(t0.Add(time.Duration(want) * time.Minute)) {
			t.Errorf("version %d submit time %v does not come from the command", want, v.SubmitTime)
		}
		if v.Hash != v.Spec.Hash() {
			t.Errorf("version %d hash %q, want %q", want, v.Hash, v.Spec.Hash())
		}
		if got := s.JobVersion("default", "web", want); got != v {
			t.Errorf("JobVersion(%d) = %+v", want, got)
		}
	}
	if j := s.Job("default", "web"); j == nil || j.Version != 2 || j.Status != cluster.JobStatusPending {
		t.Fatalf("latest job = %+v", j)
	}
	if got := len(s.Jobs()); got != 1 {
		t.Fatalf("Jobs() has %d entries, want 1", got)
	}
	if s.Index(state.TableJobs) != 3 || s.Index(state.TableJobVersions) != 3 || s.Index(state.TableAllocs) != 0 {
		t.Fatalf("indexes: jobs %d, versions %d, allocs %d", s.Index(state.TableJobs), s.Index(state.TableJobVersions), s.Index(state.TableAllocs))
	}
}

func TestJobRegisterCAS(t *testing.T) {
	h := newFSM(t)
	// 0 means "must not exist".
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "a", 1), CheckIndex: ptr[uint64](0), Now: t0})
	before := dump(t, h.snap())

	tests := []struct {
		name  string
		check uint64
	}{
		{"must not exist but does", 0},
		{"stale index", 7},
		{"future index", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.apply(state.MsgJobRegister, &state.JobRegisterRequest{
				Job: testJob("web", "b", 2), CheckIndex: ptr(tt.check), Eval: testEval("e-cas", "web"), Now: t0,
			})
			err, _ := resp.(error)
			if !errors.Is(err, state.ErrCASConflict) {
				t.Fatalf("got %v, want ErrCASConflict", resp)
			}
			if after := dump(t, h.snap()); after != before {
				t.Fatalf("a failed CAS changed the state:\nbefore %s\nafter %s", before, after)
			}
		})
	}

	resp := h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "b", 2), CheckIndex: ptr[uint64](1), Now: t0})
	if resp.(*state.JobRegisterResponse).Version != 1 {
		t.Fatalf("matching CAS: got %+v", resp)
	}
}

func TestJobRegisterCreatesEvalAtomically(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "a", 1), Eval: testEval("e1", ""), Now: t0})
	s := h.snap()
	e := s.Eval("e1")
	if e == nil {
		t.Fatal("evaluation not created")
	}
	if e.JobID != "web" || e.JobModifyIndex != 1 || e.CreateIndex != 1 || e.Status != cluster.EvalStatusPending || !e.CreateTime.Equal(t0) {
		t.Fatalf("eval = %+v", e)
	}
	if got := s.EvalsByJob("default", "web"); len(got) != 1 {
		t.Fatalf("EvalsByJob = %d evals", len(got))
	}
	if s.Index(state.TableEvals) != 1 {
		t.Fatalf("evals index = %d", s.Index(state.TableEvals))
	}
}

func TestJobRegisterRejectsInvalid(t *testing.T) {
	h := newFSM(t)
	for _, req := range []*state.JobRegisterRequest{
		{},
		{Job: &cluster.Job{ID: "x"}},
		{Job: testJob("", "a", 1)},
		{Job: testJob("web", "a", 1), Eval: &cluster.Evaluation{}},
	} {
		if err, _ := h.apply(state.MsgJobRegister, req).(error); !errors.Is(err, state.ErrInvalid) {
			t.Errorf("%+v: got %v, want ErrInvalid", req, err)
		}
	}
	if n := len(h.snap().Jobs()); n != 0 {
		t.Fatalf("%d jobs stored", n)
	}
}

func TestJobDeregister(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "a", 1), Now: t0})
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("api", "a", 1), Now: t0})

	resp := h.must(state.MsgJobDeregister, &state.JobDeregisterRequest{
		JobID: "web", Source: testSource("deleted"), Eval: testEval("e-stop", ""), Now: t0.Add(time.Hour),
	}).(*state.JobRegisterResponse)
	s := h.snap()
	j := s.Job("default", "web")
	if resp.Version != 1 || j.Version != 1 || !j.Stop || j.Status != cluster.JobStatusDead || j.Source.Commit != "deleted" {
		t.Fatalf("stopped job = %+v", j)
	}
	if v0 := s.JobVersion("default", "web", 0); v0 == nil || v0.Stop {
		t.Fatalf("version 0 changed: %+v", v0)
	}
	if e := s.Eval("e-stop"); e == nil || e.JobID != "web" {
		t.Fatalf("deregister eval = %+v", e)
	}

	h.must(state.MsgJobDeregister, &state.JobDeregisterRequest{Namespace: "default", JobID: "web", Purge: true, Now: t0})
	s = h.snap()
	if s.Job("default", "web") != nil || len(s.JobVersions("default", "web")) != 0 {
		t.Fatal("purged job still stored")
	}
	if s.Job("default", "api") == nil {
		t.Fatal("purge removed another job")
	}
	if err, _ := h.apply(state.MsgJobDeregister, &state.JobDeregisterRequest{JobID: "web", Now: t0}).(error); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("deregister of a purged job: %v", err)
	}
}

func TestJobStable(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "a", 1), Now: t0})
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "b", 2), Now: t0})
	old := h.snap()

	h.must(state.MsgJobStable, &state.JobStableRequest{JobID: "web", Version: 0, Stable: true, Now: t0})
	h.must(state.MsgJobStable, &state.JobStableRequest{JobID: "web", Version: 1, Stable: true, Now: t0})
	s := h.snap()
	if !s.JobVersion("default", "web", 0).Stable || !s.JobVersion("default", "web", 1).Stable || !s.Job("default", "web").Stable {
		t.Fatal("versions not marked stable")
	}
	if s.Job("default", "web").JobModifyIndex != 2 {
		t.Fatal("marking stable changed the job modify index")
	}
	if old.JobVersion("default", "web", 0).Stable || old.Job("default", "web").Stable {
		t.Fatal("an older snapshot saw the change: records were modified in place")
	}
	if err, _ := h.apply(state.MsgJobStable, &state.JobStableRequest{JobID: "web", Version: 9, Stable: true}).(error); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("unknown version: %v", err)
	}
}

func TestNodeCommands(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n1"), Now: t0})
	n := h.snap().Node("n1")
	if n.SchedulingEligibility != cluster.NodeEligible || n.CreateIndex != 1 || !n.StatusUpdatedAt.Equal(t0) || !n.Ready() {
		t.Fatalf("registered node = %+v", n)
	}

	h.must(state.MsgNodeUpdateDrain, &state.NodeDrainRequest{NodeID: "n1", Drain: true, Evals: []*cluster.Evaluation{testEval("e-drain", "web")}, Now: t0})
	if n := h.snap().Node("n1"); !n.Drain || n.SchedulingEligibility != cluster.NodeIneligible || h.snap().Eval("e-drain") == nil {
		t.Fatalf("drained node = %+v", n)
	}

	// An agent restart registers again; the operator's drain stays.
	again := testNode("n1")
	again.Attributes["kernel.name"] = "linux-6"
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: again, Now: t0.Add(time.Minute)})
	n = h.snap().Node("n1")
	if !n.Drain || n.SchedulingEligibility != cluster.NodeIneligible || n.CreateIndex != 1 || n.ModifyIndex != 3 || n.Attributes["kernel.name"] != "linux-6" {
		t.Fatalf("re-registered node = %+v", n)
	}
	if !n.StatusUpdatedAt.Equal(t0) {
		t.Fatalf("status time moved without a status change: %v", n.StatusUpdatedAt)
	}

	if err, _ := h.apply(state.MsgNodeUpdateEligibility, &state.NodeEligibilityRequest{NodeID: "n1", Eligibility: cluster.NodeEligible}).(error); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("eligible while draining: %v", err)
	}
	h.must(state.MsgNodeUpdateDrain, &state.NodeDrainRequest{NodeID: "n1", Drain: false, MarkEligible: true, Now: t0})
	h.must(state.MsgNodeUpdateEligibility, &state.NodeEligibilityRequest{NodeID: "n1", Eligibility: cluster.NodeIneligible, Now: t0})
	if n := h.snap().Node("n1"); n.Drain || n.SchedulingEligibility != cluster.NodeIneligible {
		t.Fatalf("node = %+v", n)
	}

	down := t0.Add(2 * time.Minute)
	h.must(state.MsgNodeUpdateStatus, &state.NodeStatusRequest{NodeID: "n1", Status: cluster.NodeStatusDown, Description: "missed heartbeats", Now: down})
	if n := h.snap().Node("n1"); n.Status != cluster.NodeStatusDown || !n.StatusUpdatedAt.Equal(down) || n.StatusDescription != "missed heartbeats" {
		t.Fatalf("node = %+v", n)
	}
	for _, req := range []any{
		&state.NodeStatusRequest{NodeID: "nope", Status: cluster.NodeStatusReady},
		&state.NodeDrainRequest{NodeID: "nope", Drain: true},
	} {
		mt := state.MsgNodeUpdateStatus
		if _, ok := req.(*state.NodeDrainRequest); ok {
			mt = state.MsgNodeUpdateDrain
		}
		if err, _ := h.apply(mt, req).(error); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("%s on unknown node: %v", mt, err)
		}
	}
	if err, _ := h.apply(state.MsgNodeUpdateStatus, &state.NodeStatusRequest{NodeID: "n1", Status: "sleepy"}).(error); !errors.Is(err, state.ErrInvalid) {
		t.Errorf("unknown status: %v", err)
	}
	if got := len(h.snap().Nodes()); got != 1 {
		t.Fatalf("%d nodes", got)
	}
}

// planFixture stores a job, two nodes, and a plan placing three
// allocations of it in a deployment.
func planFixture(t *testing.T) *fsmHarness {
	h := newFSM(t)
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "a", 3), Now: t0})
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n1"), Now: t0})
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n2"), Now: t0})
	a1, a2, a3 := testAlloc("a1", "web", "n1", "e1"), testAlloc("a2", "web", "n2", "e1"), testAlloc("a3", "web", "n1", "e1")
	for _, a := range []*cluster.Allocation{a1, a2, a3} {
		a.DeploymentID = "d1"
	}
	a3.DeploymentStatus = &cluster.AllocDeploymentStatus{Canary: true}
	done := testEval("e1", "web")
	done.Status = cluster.EvalStatusComplete
	h.must(state.MsgPlanApply, &state.PlanApplyRequest{
		Allocs: []*cluster.Allocation{a1, a2, a3},
		Deployment: &cluster.Deployment{ID: "d1", JobID: "web", JobVersion: 0, TaskGroups: map[string]*cluster.DeploymentGroup{
			"web": {DesiredTotal: 3, DesiredCanaries: 1, ProgressDeadline: 10 * time.Minute},
		}},
		Evals: []*cluster.Evaluation{done},
		Now:   t0,
	})
	return h
}

func TestPlanApply(t *testing.T) {
	h := planFixture(t)
	s := h.snap()
	const planIndex = 4
	for _, tb := range []string{state.TableAllocs, state.TableDeployments, state.TableEvals} {
		if got := s.Index(tb); got != planIndex {
			t.Errorf("index of %s = %d, want %d: a plan commits at one index", tb, got, planIndex)
		}
	}
	if got := len(s.AllocsByJob("default", "web")); got != 3 {
		t.Fatalf("AllocsByJob = %d", got)
	}
	if got := len(s.AllocsByNode("n1")); got != 2 {
		t.Fatalf("AllocsByNode(n1) = %d", got)
	}
	if got := len(s.AllocsByEval("e1")); got != 3 {
		t.Fatalf("AllocsByEval = %d", got)
	}
	if got := len(s.AllocsByDeployment("d1")); got != 3 {
		t.Fatalf("AllocsByDeployment = %d", got)
	}
	a := s.Alloc("a1")
	if a.ClientStatus != cluster.AllocClientPending || a.DesiredStatus != cluster.AllocDesiredRun || a.CreateIndex != planIndex || !a.CreateTime.Equal(t0) {
		t.Fatalf("alloc = %+v", a)
	}
	d := s.LatestDeployment("default", "web")
	if d == nil || d.ID != "d1" || d.Status != cluster.DeploymentRunning {
		t.Fatalf("latest deployment = %+v", d)
	}
	g := d.TaskGroups["web"]
	if g.PlacedAllocs != 3 || len(g.PlacedCanaries) != 1 || g.PlacedCanaries[0] != "a3" {
		t.Fatalf("deployment group = %+v", g)
	}
	if e := s.Eval("e1"); e.Status != cluster.EvalStatusComplete {
		t.Fatalf("eval = %+v", e)
	}

	// The agent reports; then a plan updates a1 in place, stops a2 and
	// replaces it with a4 in a newer deployment.
	h.must(state.MsgAllocClientUpdate, &state.AllocClientUpdateRequest{Allocs: []state.AllocClientState{{
		ID: "a1", ClientStatus: cluster.AllocClientRunning,
		TaskStates: map[string]*cluster.TaskState{"server": {State: cluster.TaskStateRunning, StartedAt: t0}},
	}}, Now: t0})
	inPlace := testAlloc("a1", "web", "n1", "e2")
	inPlace.JobVersion = 1
	a4 := testAlloc("a4", "web", "n1", "e2")
	a4.PreviousAllocation = "a2"
	h.must(state.MsgPlanApply, &state.PlanApplyRequest{
		Allocs:            []*cluster.Allocation{inPlace, a4},
		Stop:              []state.AllocDesired{{AllocID: "a2", DesiredStatus: cluster.AllocDesiredStop, Description: "replaced"}},
		Deployment:        &cluster.Deployment{ID: "d2", JobID: "web", JobVersion: 1},
		DeploymentUpdates: []state.DeploymentStatusUpdate{{ID: "d1", Status: cluster.DeploymentCancelled, Description: "newer version"}},
		Now:               t0.Add(time.Minute),
	})
	s = h.snap()
	a1 := s.Alloc("a1")
	if a1.JobVersion != 1 || a1.EvalID != "e2" || a1.ClientStatus != cluster.AllocClientRunning || a1.TaskStates["server"] == nil || a1.CreateIndex != planIndex {
		t.Fatalf("in-place update lost the client's view: %+v", a1)
	}
	if a2 := s.Alloc("a2"); a2.DesiredStatus != cluster.AllocDesiredStop || a2.DesiredDescription != "replaced" || a2.NextAllocation != "a4" || !a2.Terminal() {
		t.Fatalf("stopped alloc = %+v", a2)
	}
	if d := s.LatestDeployment("default", "web"); d.ID != "d2" {
		t.Fatalf("latest deployment = %s", d.ID)
	}
	if d := s.Deployment("d1"); d.Status != cluster.DeploymentCancelled {
		t.Fatalf("d1 = %+v", d)
	}
	if got := len(s.DeploymentsByJob("default", "web")); got != 2 {
		t.Fatalf("DeploymentsByJob = %d", got)
	}
	if got := len(s.AllocsByEval("e2")); got != 2 {
		t.Fatalf("AllocsByEval(e2) = %d", got)
	}
	if got := len(s.AllocsByEval("e1")); got != 2 {
		t.Fatalf("AllocsByEval(e1) = %d: the eval index did not follow the in-place update", got)
	}

	// A plan that stops an unknown allocation changes nothing.
	before := dump(t, h.snap())
	resp := h.apply(state.MsgPlanApply, &state.PlanApplyRequest{
		Allocs: []*cluster.Allocation{testAlloc("a9", "web", "n2", "e3")},
		Stop:   []state.AllocDesired{{AllocID: "gone"}},
	})
	if err, _ := resp.(error); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", resp)
	}
	if after := dump(t, h.snap()); after != before {
		t.Fatal("a rejected plan changed the state")
	}
}

func TestAllocClientUpdate(t *testing.T) {
	h := planFixture(t)
	old := h.snap()
	healthy := t0.Add(30 * time.Second)
	resp := h.must(state.MsgAllocClientUpdate, &state.AllocClientUpdateRequest{
		Allocs: []state.AllocClientState{
			{ID: "a1", ClientStatus: cluster.AllocClientRunning, DeploymentStatus: &cluster.AllocDeploymentStatus{Healthy: ptr(true), Timestamp: healthy}},
			{ID: "a2", ClientStatus: cluster.AllocClientFailed, ClientDescription: "exit 1",
				TaskStates:       map[string]*cluster.TaskState{"server": {State: cluster.TaskStateDead, Failed: true}},
				DeploymentStatus: &cluster.AllocDeploymentStatus{Healthy: ptr(false), Timestamp: healthy}},
			{ID: "gc-ed"},
		},
		Evals: []*cluster.Evaluation{{ID: "e-resched", JobID: "web", TriggeredBy: cluster.EvalTriggerAllocFailure}},
		Now:   healthy,
	}).(*state.AllocClientUpdateResponse)
	if resp.Updated != 2 || len(resp.Unknown) != 1 || resp.Unknown[0] != "gc-ed" {
		t.Fatalf("response = %+v", resp)
	}
	s := h.snap()
	if a := s.Alloc("a2"); a.ClientStatus != cluster.AllocClientFailed || a.ClientDescription != "exit 1" || !a.TaskStates["server"].Failed || !a.ModifyTime.Equal(healthy) {
		t.Fatalf("a2 = %+v", a)
	}
	if a := old.Alloc("a2"); a.ClientStatus != cluster.AllocClientPending || a.TaskStates != nil {
		t.Fatalf("an older snapshot saw the update: %+v", a)
	}
	g := s.Deployment("d1").TaskGroups["web"]
	if g.HealthyAllocs != 1 || g.UnhealthyAllocs != 1 || !g.RequireProgressBy.Equal(healthy.Add(10*time.Minute)) {
		t.Fatalf("deployment group = %+v", g)
	}
	if og := old.Deployment("d1").TaskGroups["web"]; og.HealthyAllocs != 0 {
		t.Fatalf("an older snapshot saw the deployment change: %+v", og)
	}
	if s.Eval("e-resched") == nil {
		t.Fatal("follow-up evaluation not created")
	}

	// The same verdict reported again is not counted twice.
	h.must(state.MsgAllocClientUpdate, &state.AllocClientUpdateRequest{Allocs: []state.AllocClientState{
		{ID: "a1", DeploymentStatus: &cluster.AllocDeploymentStatus{Healthy: ptr(true), Timestamp: healthy}},
	}, Now: healthy})
	if g := h.snap().Deployment("d1").TaskGroups["web"]; g.HealthyAllocs != 1 {
		t.Fatalf("healthy counted twice: %+v", g)
	}
}

func TestAllocUpdateDesired(t *testing.T) {
	h := planFixture(t)
	h.must(state.MsgAllocUpdateDesired, &state.AllocDesiredRequest{
		Updates: []state.AllocDesired{
			{AllocID: "a1", DesiredStatus: cluster.AllocDesiredEvict, Description: "node drain"},
			{AllocID: "a2", DesiredStatus: cluster.AllocDesiredStop, ClientStatus: cluster.AllocClientLost},
		},
		Evals: []*cluster.Evaluation{testEval("e-drain", "web")},
		Now:   t0,
	})
	s := h.snap()
	if a := s.Alloc("a1"); a.DesiredStatus != cluster.AllocDesiredEvict || a.DesiredDescription != "node drain" {
		t.Fatalf("a1 = %+v", a)
	}
	if a := s.Alloc("a2"); a.ClientStatus != cluster.AllocClientLost {
		t.Fatalf("a2 = %+v", a)
	}
	if err, _ := h.apply(state.MsgAllocUpdateDesired, &state.AllocDesiredRequest{Updates: []state.AllocDesired{{AllocID: "a1", DesiredStatus: "explode"}}}).(error); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("unknown desired status: %v", err)
	}
}

func TestEvalAndDeploymentCommands(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgEvalUpsert, &state.EvalUpsertRequest{Evals: []*cluster.Evaluation{testEval("e1", "web"), testEval("e2", "api")}, Now: t0})
	later := t0.Add(time.Minute)
	h.must(state.MsgEvalUpdateStatus, &state.EvalStatusRequest{Updates: []state.EvalStatus{{ID: "e1", Status: cluster.EvalStatusFailed, Description: "no nodes"}}, Now: later})
	s := h.snap()
	if e := s.Eval("e1"); e.Status != cluster.EvalStatusFailed || e.StatusDescription != "no nodes" || !e.ModifyTime.Equal(later) || !e.CreateTime.Equal(t0) {
		t.Fatalf("e1 = %+v", e)
	}
	if got := len(s.Evals()); got != 2 {
		t.Fatalf("%d evals", got)
	}
	if err, _ := h.apply(state.MsgEvalUpdateStatus, &state.EvalStatusRequest{Updates: []state.EvalStatus{{ID: "nope", Status: "x"}}}).(error); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("unknown eval: %v", err)
	}

	h.must(state.MsgDeploymentUpsert, &state.DeploymentUpsertRequest{Deployment: &cluster.Deployment{ID: "d1", JobID: "web"}, Now: t0})
	h.must(state.MsgDeploymentStatusUpdate, &state.DeploymentStatusRequest{
		Update: state.DeploymentStatusUpdate{ID: "d1", Status: cluster.DeploymentFailed, Description: "deadline"},
		Eval:   testEval("e-revert", "web"), Now: later,
	})
	s = h.snap()
	if d := s.Deployment("d1"); d.Status != cluster.DeploymentFailed || d.Active() || d.CreateIndex != 4 || d.ModifyIndex != 5 {
		t.Fatalf("d1 = %+v", d)
	}
	if s.Eval("e-revert") == nil || len(s.Deployments()) != 1 {
		t.Fatal("deployment status update lost its eval")
	}
}

func TestSyncStatusUpsert(t *testing.T) {
	h := newFSM(t)
	st := &cluster.SyncStatus{Source: "prod", Repo: "r", Ref: "main", LastSeen: "abc",
		Commits: []cluster.CommitOutcome{{Commit: "abc", Outcome: cluster.CommitApplied, Time: t0}}}
	h.must(state.MsgSyncStatusUpsert, &state.SyncStatusRequest{Status: st, Now: t0})
	st2 := *st
	st2.LastApplied = "abc"
	h.must(state.MsgSyncStatusUpsert, &state.SyncStatusRequest{Status: &st2, Now: t0})
	s := h.snap()
	got := s.SyncStatus("prod")
	if got.LastApplied != "abc" || got.CreateIndex != 1 || got.ModifyIndex != 2 || len(s.SyncStatuses()) != 1 {
		t.Fatalf("sync status = %+v", got)
	}
	if err, _ := h.apply(state.MsgSyncStatusUpsert, &state.SyncStatusRequest{Status: &cluster.SyncStatus{}}).(error); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("unnamed source: %v", err)
	}
}

// TestSyncStatusCheckAndSet: two writers that read the same status
// cannot both write: the second gets a conflict and loses nothing of the
// first's.
func TestSyncStatusCheckAndSet(t *testing.T) {
	h := newFSM(t)
	u64 := func(v uint64) *uint64 { return &v }
	if err, _ := h.apply(state.MsgSyncStatusUpsert, &state.SyncStatusRequest{Status: &cluster.SyncStatus{Source: "prod"}, CheckIndex: u64(7)}).(error); !errors.Is(err, state.ErrCASConflict) {
		t.Fatalf("create with index 7: %v, want a conflict (none exists)", err)
	}
	h.must(state.MsgSyncStatusUpsert, &state.SyncStatusRequest{Status: &cluster.SyncStatus{Source: "prod", LastSeen: "a"}, CheckIndex: u64(0), Now: t0})
	read := *h.snap().SyncStatus("prod")
	failed := read
	failed.Commits = []cluster.CommitOutcome{{Commit: "a", Outcome: cluster.CommitFailed}}
	h.must(state.MsgSyncStatusUpsert, &state.SyncStatusRequest{Status: &failed, CheckIndex: u64(read.ModifyIndex), Now: t0})
	stale := read
	stale.LastApplied = "a"
	if err, _ := h.apply(state.MsgSyncStatusUpsert, &state.SyncStatusRequest{Status: &stale, CheckIndex: u64(read.ModifyIndex), Now: t0}).(error); !errors.Is(err, state.ErrCASConflict) {
		t.Fatalf("stale write: %v, want a conflict", err)
	}
	if got := h.snap().SyncStatus("prod"); len(got.Commits) != 1 || got.Commits[0].Outcome != cluster.CommitFailed || got.LastApplied != "" {
		t.Errorf("after the stale write: %+v", got)
	}
}

// A batch that raft commits together applies each command on its own
// terms: a conflicting command in the middle fails alone.
func TestApplyBatchIsolatesFailures(t *testing.T) {
	h := newFSM(t)
	logs := []*raft.Log{
		h.log(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "a", 1), Now: t0}),
		h.log(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "b", 2), CheckIndex: ptr[uint64](99), Now: t0}),
		{Index: h.index + 1, Type: raft.LogConfiguration},
		h.log(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n1"), Now: t0}),
	}
	logs[3].Index = h.index + 1
	resps := h.fsm.ApplyBatch(logs)
	if len(resps) != len(logs) {
		t.Fatalf("%d responses for %d logs", len(resps), len(logs))
	}
	if _, ok := resps[0].(*state.JobRegisterResponse); !ok {
		t.Fatalf("resps[0] = %v", resps[0])
	}
	if err, _ := resps[1].(error); !errors.Is(err, state.ErrCASConflict) {
		t.Fatalf("resps[1] = %v", resps[1])
	}
	if resps[2] != nil || resps[3] != nil {
		t.Fatalf("resps[2:] = %v", resps[2:])
	}
	s := h.snap()
	if j := s.Job("default", "web"); j == nil || j.Version != 0 || s.Node("n1") == nil {
		t.Fatalf("batch result: job %+v, node %+v", j, s.Node("n1"))
	}
	if s.Index(state.TableNodes) != logs[3].Index || s.Index(state.TableJobs) != 1 {
		t.Fatalf("indexes: nodes %d jobs %d", s.Index(state.TableNodes), s.Index(state.TableJobs))
	}
}
