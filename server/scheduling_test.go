package server_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
	"github.com/droverhq/drover/state"
)

func TestSpreadPlacesTwoAllocationsPerNode(t *testing.T) {
	s := servertest.Single(t)
	c := s.Client
	nodes := registerNodes(t, c, 3)

	job := parseJob(t, webJob("web", 6, `spread { attribute = "${node.unique.name}" }`))
	resp, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: job})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	if resp.EvalID == "" || resp.JobModifyIndex == 0 {
		t.Fatalf("register response = %+v", resp)
	}
	evals := waitEvals(t, c, "web")
	if len(evals) != 1 || evals[0].Status != cluster.EvalStatusComplete || len(evals[0].FailedTGAllocs) != 0 {
		t.Fatalf("evals = %+v", evals[0])
	}
	allocs, _, err := c.Jobs().Allocations(ctxT(t), "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	for _, a := range liveAllocs(allocs) {
		perNode[a.NodeID]++
	}
	for _, n := range nodes {
		if perNode[n.ID] != 2 {
			t.Errorf("node %s has %d allocations, want 2 (all: %v)", n.Name, perNode[n.ID], perNode)
		}
	}

	// The node list counts what is placed.
	stubs, _, err := c.Nodes().List(ctxT(t), nil)
	if err != nil || len(stubs) != 3 {
		t.Fatalf("nodes = %v, %v", stubs, err)
	}
	for _, st := range stubs {
		if st.Allocated.CPU != 200 || st.Allocated.MemoryMB != 256 || !slices.Equal(st.Drivers, []string{"exec"}) {
			t.Errorf("node stub %+v", st)
		}
	}
	jobs, _, err := c.Jobs().List(ctxT(t), nil)
	if err != nil || len(jobs) != 1 || jobs[0].Summary["web"][cluster.AllocClientPending] != 6 {
		t.Fatalf("jobs = %+v, %v", jobs, err)
	}

	// Submitting the same spec again changes nothing.
	again, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 6, `spread { attribute = "${node.unique.name}" }`))})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Unchanged || again.EvalID != "" || again.Version != 0 || again.JobModifyIndex != resp.JobModifyIndex {
		t.Fatalf("resubmit = %+v, want unchanged", again)
	}
	versions, _, err := c.Jobs().Versions(ctxT(t), "web", nil)
	if err != nil || len(versions) != 1 {
		t.Fatalf("versions = %d, %v", len(versions), err)
	}

	// Stopping the job stops every allocation.
	dereg, err := c.Jobs().Deregister(ctxT(t), "web", false)
	if err != nil || dereg.EvalID == "" {
		t.Fatalf("deregister = %+v, %v", dereg, err)
	}
	waitEvals(t, c, "web")
	allocs, _, _ = c.Jobs().Allocations(ctxT(t), "web", nil)
	if live := liveAllocs(allocs); len(live) != 0 {
		t.Fatalf("%d allocations still live after stop", len(live))
	}
	if info, _, err := c.Jobs().Info(ctxT(t), "web", nil); err != nil || !info.Stop || info.Version != 1 {
		t.Fatalf("stopped job = %+v, %v", info, err)
	}
	// Stopping again is a no-op; purging deletes the history.
	if again, err := c.Jobs().Deregister(ctxT(t), "web", false); err != nil || again.EvalID != "" {
		t.Fatalf("second stop = %+v, %v", again, err)
	}
	if _, err := c.Jobs().Deregister(ctxT(t), "web", true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Jobs().Versions(ctxT(t), "web", nil); !api.IsNotFound(err) {
		t.Fatalf("versions after purge = %v, want 404", err)
	}
}

func TestInfeasibleConstraintIsExplained(t *testing.T) {
	s := servertest.Single(t)
	c := s.Client
	registerNodes(t, c, 3)
	src := webJob("win", 2, `constraint {
    attribute = "${attr.kernel.name}"
    value     = "windows"
  }`)

	// The dry run says why, and writes nothing.
	plan, err := c.Jobs().Plan(ctxT(t), parseJob(t, src))
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if plan.JobModifyIndex != 0 || !plan.Diff.HasChanges || plan.Diff.Summary.Create != 1 {
		t.Fatalf("plan diff = %+v (index %d)", plan.Diff.Summary, plan.JobModifyIndex)
	}
	if plan.FailedTGAllocs["web"] == nil {
		t.Fatalf("plan has no failed allocations: %+v", plan)
	}
	expl := strings.Join(plan.Explanations["web"], "\n")
	if !strings.Contains(expl, `Constraint "${attr.kernel.name} = windows": 3 nodes excluded by filter`) {
		t.Fatalf("explanations:\n%s", expl)
	}
	if _, _, err := c.Jobs().Info(ctxT(t), "win", nil); !api.IsNotFound(err) {
		t.Fatalf("plan wrote the job: %v", err)
	}

	if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, src)}); err != nil {
		t.Fatal(err)
	}
	evals := waitEvals(t, c, "win")
	var done, blocked *cluster.Evaluation
	for _, e := range evals {
		switch e.Status {
		case cluster.EvalStatusComplete:
			done = e
		case cluster.EvalStatusBlocked:
			blocked = e
		}
	}
	if done == nil || done.FailedTGAllocs["web"] == nil || done.FailedTGAllocs["web"].ConstraintFiltered["${attr.kernel.name} = windows"] != 3 {
		t.Fatalf("completed eval = %+v", done)
	}
	if blocked == nil || done.BlockedEval != blocked.ID {
		t.Fatalf("want a blocked follow-up named by the eval, got %+v", evals)
	}

	// A Windows node unblocks it.
	win := testNode(9)
	win.Attributes["kernel.name"] = "windows"
	if _, err := asNode(c, win.ID).Nodes().Register(ctxT(t), win); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, "the blocked evaluation to place on the windows node", func() bool {
		allocs, _, err := c.Nodes().Allocations(ctxT(t), win.ID, nil)
		return err == nil && len(liveAllocs(allocs)) == 2
	})
	e, _, err := c.Evaluations().Info(ctxT(t), blocked.ID, nil)
	if err != nil || e.Status != cluster.EvalStatusComplete {
		t.Fatalf("blocked eval after unblock = %+v, %v", e, err)
	}
}

func TestHeartbeatExpiryReplacesAllocations(t *testing.T) {
	s := servertest.Single(t, func(c *server.Config) {
		c.HeartbeatTTL = 500 * time.Millisecond
		c.HeartbeatGrace = 500 * time.Millisecond
		c.FailoverHeartbeatGrace = 0
	})
	c := s.Client
	nodes := registerNodes(t, c, 3)

	// Nodes 1 and 2 keep heartbeating; node 3 goes silent.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(150 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, n := range nodes[:2] {
				_, _ = asNode(c, n.ID).Nodes().Heartbeat(t.Context(), n.ID)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	defer func() { close(stop); <-done }()

	if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 6, ""))}); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, c, "web")
	silent := nodes[2]
	servertest.WaitFor(t, "the silent node to be marked down", func() bool {
		n, _, err := c.Nodes().Info(ctxT(t), silent.ID, nil)
		return err == nil && n.Status == cluster.NodeStatusDown
	})
	servertest.WaitFor(t, "six live allocations on the two live nodes", func() bool {
		allocs, _, err := c.Jobs().Allocations(ctxT(t), "web", nil)
		if err != nil {
			return false
		}
		live := liveAllocs(allocs)
		for _, a := range live {
			if a.NodeID == silent.ID {
				return false
			}
		}
		return len(live) == 6
	})
	allocs, _, _ := c.Nodes().Allocations(ctxT(t), silent.ID, nil)
	for _, a := range allocs {
		if a.ClientStatus != cluster.AllocClientLost || a.DesiredStatus != cluster.AllocDesiredStop {
			t.Errorf("alloc on the down node: client %s, desired %s", a.ClientStatus, a.DesiredStatus)
		}
	}
	for _, n := range nodes[:2] {
		if info, _, err := c.Nodes().Info(ctxT(t), n.ID, nil); err != nil || info.Status != cluster.NodeStatusReady {
			t.Errorf("heartbeating node %s = %v, %v", n.Name, info.Status, err)
		}
	}

	// A heartbeat brings the node back.
	if _, err := asNode(c, silent.ID).Nodes().Heartbeat(ctxT(t), silent.ID); err != nil {
		t.Fatal(err)
	}
	if n, _, err := c.Nodes().Info(ctxT(t), silent.ID, nil); err != nil || n.Status != cluster.NodeStatusReady {
		t.Fatalf("node after heartbeat = %v, %v", n.Status, err)
	}
}

func TestAllocUpdatesFromAgents(t *testing.T) {
	s := servertest.Single(t)
	c := s.Client
	nodes := registerNodes(t, c, 1)
	if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 1, ""))}); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, c, "web")
	allocs, _, err := c.Nodes().Allocations(ctxT(t), nodes[0].ID, nil)
	if err != nil || len(allocs) != 1 {
		t.Fatalf("node allocs = %v, %v", allocs, err)
	}
	a := *allocs[0]
	a.ClientStatus = cluster.AllocClientRunning
	a.TaskStates = map[string]*cluster.TaskState{"server": {State: cluster.TaskStateRunning}}
	resp, err := asNode(c, nodes[0].ID).Nodes().UpdateAllocs(ctxT(t), nodes[0].ID, []*cluster.Allocation{&a, {ID: "nope"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Updated != 1 || !slices.Equal(resp.Unknown, []string{"nope"}) {
		t.Fatalf("update response = %+v", resp)
	}
	got, _, err := c.Allocations().Info(ctxT(t), a.ID[:8], nil)
	if err != nil || got.ClientStatus != cluster.AllocClientRunning || got.TaskStates["server"].State != cluster.TaskStateRunning {
		t.Fatalf("alloc = %+v, %v", got, err)
	}
	// The job list derives the status from the allocations.
	jobs, _, _ := c.Jobs().List(ctxT(t), &api.QueryOptions{Prefix: "we"})
	if len(jobs) != 1 || jobs[0].Status != cluster.JobStatusRunning {
		t.Fatalf("jobs = %+v", jobs)
	}
	// Filters of the allocation list.
	for _, q := range []map[string]string{{"job": "web"}, {"node": nodes[0].ID}} {
		list, _, err := c.Allocations().List(ctxT(t), &api.QueryOptions{Params: q})
		if err != nil || len(list) != 1 {
			t.Fatalf("allocations %v = %d, %v", q, len(list), err)
		}
	}
	list, _, err := c.Allocations().List(ctxT(t), &api.QueryOptions{Params: map[string]string{"job": "other"}})
	if err != nil || list == nil || len(list) != 0 {
		t.Fatalf("allocations of another job = %v, %v (want [] not null)", list, err)
	}
}

func TestDrainMigratesAllocations(t *testing.T) {
	s := servertest.Single(t)
	c := s.Client
	nodes := registerNodes(t, c, 2)
	if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 4, ""))}); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, c, "web")
	if _, err := c.Nodes().Drain(ctxT(t), nodes[0].ID, true); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, "every allocation to leave the draining node", func() bool {
		allocs, _, err := c.Jobs().Allocations(ctxT(t), "web", nil)
		if err != nil {
			return false
		}
		live := liveAllocs(allocs)
		for _, a := range live {
			if a.NodeID == nodes[0].ID {
				return false
			}
		}
		return len(live) == 4
	})
	n, _, err := c.Nodes().Info(ctxT(t), nodes[0].ID, nil)
	if err != nil || !n.Drain || n.SchedulingEligibility != cluster.NodeIneligible {
		t.Fatalf("drained node = %+v, %v", n, err)
	}
	if _, err := c.Nodes().Drain(ctxT(t), nodes[0].ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Nodes().Eligibility(ctxT(t), nodes[0].ID, false); err != nil {
		t.Fatal(err)
	}
	n, _, _ = c.Nodes().Info(ctxT(t), nodes[0].ID, nil)
	if n.Drain || n.SchedulingEligibility != cluster.NodeIneligible {
		t.Fatalf("node = drain %v, %s", n.Drain, n.SchedulingEligibility)
	}
}

func TestDelayedEvaluationRunsWhenDue(t *testing.T) {
	s := servertest.Single(t)
	c := s.Client
	registerNodes(t, c, 1)
	if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 1, ""))}); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, c, "web")
	due := time.Now().Add(time.Second)
	delayed := &cluster.Evaluation{
		ID: "delayed-0000", JobID: "web", Type: "service", Priority: 50,
		TriggeredBy: cluster.EvalTriggerAllocFailure, Status: cluster.EvalStatusPending, WaitUntil: due,
	}
	if _, _, err := s.State().Apply(ctxT(t), state.MsgEvalUpsert, &state.EvalUpsertRequest{Evals: []*cluster.Evaluation{delayed}, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var index uint64
	for {
		e, meta, err := c.Evaluations().Info(ctxT(t), delayed.ID, &api.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if e.Status != cluster.EvalStatusPending {
			if e.Status != cluster.EvalStatusComplete || e.ModifyTime.Before(due) {
				t.Fatalf("delayed eval = %s at %v, due %v", e.Status, e.ModifyTime, due)
			}
			return
		}
		index = meta.LastIndex
	}
}
