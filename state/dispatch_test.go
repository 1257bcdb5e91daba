package state_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/state"
)

func parameterizedParent(id string) *cluster.Job {
	j := testJob(id, "", 1)
	j.Source = nil
	j.Spec.Type = jobspec.JobTypeBatch
	j.Spec.Parameterized = &jobspec.Parameterized{Payload: "optional"}
	return j
}

func dispatchedChild(parent string, n int) *cluster.Job {
	id := fmt.Sprintf("%s/dispatch-%d-%08x", parent, t0.Unix(), n)
	spec := testSpec(id, 1)
	spec.Type = jobspec.JobTypeBatch
	spec.Payload = []byte("payload " + id)
	return &cluster.Job{Namespace: "default", ID: id, Spec: spec, ParentID: parent}
}

func dispatchEval(id string) *cluster.Evaluation {
	e := testEval(id, "")
	e.Type = jobspec.JobTypeBatch
	return e
}

// TestJobDispatch: a dispatch registers the child and its evaluation at
// one index, and a refused one (unknown, plain, stopped parent; a child
// of the wrong name; an ID taken) writes nothing at all.
func TestJobDispatch(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: parameterizedParent("encode"), Now: t0})
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "c1", 1), Now: t0})
	stopped := parameterizedParent("old")
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: stopped, Now: t0})
	h.must(state.MsgJobDeregister, &state.JobDeregisterRequest{JobID: "old", Now: t0})

	kid := dispatchedChild("encode", 1)
	resp, ok := h.must(state.MsgJobDispatch, &state.JobDispatchRequest{
		ParentID: "encode", Child: kid, Eval: dispatchEval("e1"), Now: t0,
	}).(*state.JobDispatchResponse)
	idx := h.index
	if !ok || resp.ChildID != kid.ID || resp.JobCreateIndex != idx {
		t.Fatalf("dispatch response %+v, want child %s at index %d", resp, kid.ID, idx)
	}
	s := h.snap()
	child := s.Job("default", kid.ID)
	if child == nil || child.ParentID != "encode" || child.CreateIndex != idx || string(child.Spec.Payload) != "payload "+kid.ID {
		t.Fatalf("child %+v", child)
	}
	evs := s.EvalsByJob("default", kid.ID)
	if len(evs) != 1 || evs[0].ID != "e1" || evs[0].JobModifyIndex != idx {
		t.Fatalf("child's evaluations %+v, want e1 at index %d", evs, idx)
	}
	if got := s.Index(state.TableJobs); got != idx {
		t.Errorf("jobs index %d, want %d", got, idx)
	}
	if got := s.DispatchedChildren("default", "encode"); len(got) != 1 || got[0].ID != kid.ID {
		t.Errorf("DispatchedChildren = %v", got)
	}

	bad := func(mut func(*state.JobDispatchRequest)) *state.JobDispatchRequest {
		req := &state.JobDispatchRequest{ParentID: "encode", Child: dispatchedChild("encode", 99), Eval: dispatchEval("e99"), Now: t0}
		mut(req)
		return req
	}
	for _, tc := range []struct {
		name string
		req  *state.JobDispatchRequest
		want error
	}{
		{"unknown parent", bad(func(r *state.JobDispatchRequest) { r.ParentID, r.Child = "nope", dispatchedChild("nope", 1) }), state.ErrNotFound},
		{"not parameterized", bad(func(r *state.JobDispatchRequest) { r.ParentID, r.Child = "web", dispatchedChild("web", 1) }), state.ErrInvalid},
		{"stopped parent", bad(func(r *state.JobDispatchRequest) { r.ParentID, r.Child = "old", dispatchedChild("old", 1) }), state.ErrInvalid},
		{"child of another parent", bad(func(r *state.JobDispatchRequest) { r.Child.ParentID = "web" }), state.ErrInvalid},
		{"child not named after the parent", bad(func(r *state.JobDispatchRequest) { r.Child.ID = "encode-2" }), state.ErrInvalid},
		{"child still parameterized", bad(func(r *state.JobDispatchRequest) { r.Child.Spec.Parameterized = &jobspec.Parameterized{} }), state.ErrInvalid},
		{"no child", bad(func(r *state.JobDispatchRequest) { r.Child = nil }), state.ErrInvalid},
		{"eval without ID", bad(func(r *state.JobDispatchRequest) { r.Eval.ID = "" }), state.ErrInvalid},
		{"child ID taken", bad(func(r *state.JobDispatchRequest) { r.Child = dispatchedChild("encode", 1) }), state.ErrCASConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := dump(t, h.snap())
			err, _ := h.apply(state.MsgJobDispatch, tc.req).(error)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if after := dump(t, h.snap()); after != before {
				t.Errorf("a refused dispatch changed the state:\n%s", after)
			}
		})
	}
}

// TestJobDispatchBoundsLiveChildren: MaxChildren unfinished children
// and the next dispatch is refused; once one finishes (its allocation
// complete, its evaluation done) there is room again.
func TestJobDispatchBoundsLiveChildren(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n1"), Now: t0})
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: parameterizedParent("encode"), Now: t0})
	const limit = 3
	dispatch := func(n int) any {
		return h.apply(state.MsgJobDispatch, &state.JobDispatchRequest{
			ParentID: "encode", Child: dispatchedChild("encode", n), Eval: dispatchEval(fmt.Sprintf("e%d", n)), MaxChildren: limit, Now: t0,
		})
	}
	for n := range limit {
		if err, ok := dispatch(n).(error); ok {
			t.Fatalf("dispatch %d: %v", n, err)
		}
	}
	err, _ := dispatch(limit).(error)
	if !errors.Is(err, state.ErrTooManyChildren) || !state.IsTooManyChildren(err) {
		t.Fatalf("dispatch over the limit: %v, want ErrTooManyChildren", err)
	}

	// Child 0 finishes: its evaluation completes, its allocation too.
	first := dispatchedChild("encode", 0).ID
	a := testAlloc("a0", first, "n1", "e0")
	h.must(state.MsgPlanApply, &state.PlanApplyRequest{Allocs: []*cluster.Allocation{a}, Now: t0})
	h.must(state.MsgEvalUpdateStatus, &state.EvalStatusRequest{Updates: []state.EvalStatus{{ID: "e0", Status: cluster.EvalStatusComplete}}, Now: t0})
	if err, ok := dispatch(limit).(error); !ok || !state.IsTooManyChildren(err) {
		t.Fatalf("with child 0 still running: %v, want refused", err)
	}
	h.must(state.MsgAllocClientUpdate, &state.AllocClientUpdateRequest{Allocs: []state.AllocClientState{{ID: "a0", ClientStatus: cluster.AllocClientComplete}}, Now: t0})
	if err, ok := dispatch(limit).(error); ok {
		t.Fatalf("after child 0 finished: %v, want room for one more", err)
	}
}

// TestGCPurgesFinishedDispatchedChildren: a dispatched child that
// finished is collected after job_gc_threshold like a periodic one; a
// running one and the parameterized parent stay.
func TestGCPurgesFinishedDispatchedChildren(t *testing.T) {
	w := newGCWorld(t)
	old := t0
	now := t0.Add(5 * time.Hour)
	w.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: parameterizedParent("encode"), Now: old})
	for n, client := range []string{cluster.AllocClientComplete, cluster.AllocClientRunning} {
		kid := dispatchedChild("encode", n)
		eval := dispatchEval(fmt.Sprintf("e%d", n))
		w.must(state.MsgJobDispatch, &state.JobDispatchRequest{ParentID: "encode", Child: kid, Eval: eval, Now: old})
		w.alloc(fmt.Sprintf("a%d", n), kid.ID, 0, eval.ID, cluster.AllocDesiredRun, client, old)
		w.eval(eval.ID, kid.ID, cluster.EvalStatusComplete, old)
	}
	got := summarize(state.GCCandidates(w.snap(), state.DefaultGCConfig(), now))
	if want := []string{dispatchedChild("encode", 0).ID}; fmt.Sprint(got.jobs) != fmt.Sprint(want) {
		t.Errorf("jobs collected: %v, want %v", got.jobs, want)
	}
}

// TestDispatchedChildSurvivesSnapshot: a dispatched child is an ordinary
// job, payload and parent included, so a snapshot carries it and a
// restored server still counts it against its parent's bound.
func TestDispatchedChildSurvivesSnapshot(t *testing.T) {
	src := newFSM(t)
	src.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: parameterizedParent("encode"), Now: t0})
	kid := dispatchedChild("encode", 7)
	kid.Spec.Payload = []byte{0, 1, 2, 0xff, '\n'} // binary survives JSON
	src.must(state.MsgJobDispatch, &state.JobDispatchRequest{ParentID: "encode", Child: kid, Eval: dispatchEval("e7"), Now: t0})
	want := dump(t, src.snap())
	var buf bytes.Buffer
	persist(t, src.fsm, &buf)
	dst := newFSM(t)
	if err := dst.fsm.Restore(readCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, dst.snap()); got != want {
		t.Fatal("the restored state differs")
	}
	c := dst.snap().Job("default", kid.ID)
	if c == nil || c.ParentID != "encode" || !bytes.Equal(c.Spec.Payload, []byte{0, 1, 2, 0xff, '\n'}) {
		t.Fatalf("restored child %+v", c)
	}
	dst.index = src.index
	err, _ := dst.apply(state.MsgJobDispatch, &state.JobDispatchRequest{
		ParentID: "encode", Child: dispatchedChild("encode", 8), Eval: dispatchEval("e8"), MaxChildren: 1, Now: t0,
	}).(error)
	if !state.IsTooManyChildren(err) {
		t.Errorf("after restore, a dispatch over the bound of 1: %v, want refused", err)
	}
}

// TestJobDispatchIdempotencyToken: a dispatch with the token of an
// unfinished child returns that child and writes nothing; once the child
// finished, the token dispatches anew; another token is another child.
func TestJobDispatchIdempotencyToken(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n1"), Now: t0})
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: parameterizedParent("encode"), Now: t0})
	dispatch := func(n int, token string) *state.JobDispatchResponse {
		t.Helper()
		kid := dispatchedChild("encode", n)
		kid.DispatchIdempotencyToken = token
		return h.must(state.MsgJobDispatch, &state.JobDispatchRequest{ParentID: "encode", Child: kid, Eval: dispatchEval(fmt.Sprintf("e%d", n)), Now: t0}).(*state.JobDispatchResponse)
	}
	first := dispatch(1, "order-1")
	if first.Existing {
		t.Fatalf("first dispatch: %+v", first)
	}
	before := dump(t, h.snap())
	again := dispatch(2, "order-1")
	if !again.Existing || again.ChildID != first.ChildID || again.JobCreateIndex != first.JobCreateIndex {
		t.Fatalf("retry with the same token: %+v, want child %s", again, first.ChildID)
	}
	if after := dump(t, h.snap()); after != before {
		t.Error("a retried dispatch wrote to the state")
	}
	if other := dispatch(3, "order-2"); other.Existing || other.ChildID == first.ChildID {
		t.Errorf("another token: %+v, want a new child", other)
	}

	// The first child finishes: the token dispatches a new one.
	a := testAlloc("a1", first.ChildID, "n1", "e1")
	h.must(state.MsgPlanApply, &state.PlanApplyRequest{Allocs: []*cluster.Allocation{a}, Now: t0})
	h.must(state.MsgAllocClientUpdate, &state.AllocClientUpdateRequest{Allocs: []state.AllocClientState{{ID: "a1", ClientStatus: cluster.AllocClientComplete}}, Now: t0})
	h.must(state.MsgEvalUpdateStatus, &state.EvalStatusRequest{Updates: []state.EvalStatus{{ID: "e1", Status: cluster.EvalStatusComplete}}, Now: t0})
	if later := dispatch(4, "order-1"); later.Existing || later.ChildID == first.ChildID {
		t.Errorf("the token after its child finished: %+v, want a new child", later)
	}
}
