package state_test

import (
	"errors"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

// TestAllocDisconnect walks the commands a node that stops heartbeating
// goes through: down with its allocations unknown at one index, then
// lost, and what a stale decision of the leader must not undo.
func TestAllocDisconnect(t *testing.T) {
	down := t0.Add(time.Minute)
	type step struct {
		name string
		req  *state.AllocDisconnectRequest
		// want: client status per allocation after the step.
		want    map[string]string
		wantErr error
	}
	steps := []step{
		{
			name: "node down: a1 unknown, a2 untouched (lost by the scheduler), a3 already complete",
			req: &state.AllocDisconnectRequest{
				NodeID: "n1", NodeStatus: cluster.NodeStatusDown, NodeDescription: "node missed its heartbeat TTL",
				Allocs: []state.AllocDisconnect{
					{AllocID: "a1", ClientStatus: cluster.AllocClientUnknown, Description: "node missed its heartbeat TTL; unknown until lost_after"},
					{AllocID: "a3", ClientStatus: cluster.AllocClientUnknown},
				},
				Evals: []*cluster.Evaluation{testEval("e-down", "web")},
				Now:   down,
			},
			want: map[string]string{"a1": cluster.AllocClientUnknown, "a2": cluster.AllocClientRunning, "a3": cluster.AllocClientComplete},
		},
		{
			name: "unknown again keeps the first time it went unknown",
			req: &state.AllocDisconnectRequest{
				Allocs: []state.AllocDisconnect{{AllocID: "a1", ClientStatus: cluster.AllocClientUnknown}},
				Now:    down.Add(time.Hour),
			},
			want: map[string]string{"a1": cluster.AllocClientUnknown},
		},
		{
			name: "lost only while unknown",
			req: &state.AllocDisconnectRequest{
				Allocs: []state.AllocDisconnect{
					{AllocID: "a1", ClientStatus: cluster.AllocClientLost, Description: "unknown for longer than lost_after"},
					{AllocID: "a2", ClientStatus: cluster.AllocClientLost},
				},
				Evals: []*cluster.Evaluation{testEval("e-lost", "web")},
				Now:   down.Add(2 * time.Hour),
			},
			want: map[string]string{"a1": cluster.AllocClientLost, "a2": cluster.AllocClientRunning},
		},
		{
			name:    "a status that is neither unknown nor lost",
			req:     &state.AllocDisconnectRequest{Allocs: []state.AllocDisconnect{{AllocID: "a2", ClientStatus: cluster.AllocClientRunning}}, Now: down},
			wantErr: state.ErrInvalid,
		},
		{
			name:    "an allocation that does not exist",
			req:     &state.AllocDisconnectRequest{Allocs: []state.AllocDisconnect{{AllocID: "nope", ClientStatus: cluster.AllocClientUnknown}}, Now: down},
			wantErr: state.ErrNotFound,
		},
	}

	h := newFSM(t)
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "c1", 3), Now: t0})
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n1"), Now: t0})
	a1, a2, a3 := testAlloc("a1", "web", "n1", "e1"), testAlloc("a2", "web", "n1", "e1"), testAlloc("a3", "web", "n1", "e1")
	h.must(state.MsgPlanApply, &state.PlanApplyRequest{Allocs: []*cluster.Allocation{a1, a2, a3}, Now: t0})
	h.must(state.MsgAllocClientUpdate, &state.AllocClientUpdateRequest{Allocs: []state.AllocClientState{
		{ID: "a1", ClientStatus: cluster.AllocClientRunning}, {ID: "a2", ClientStatus: cluster.AllocClientRunning},
		{ID: "a3", ClientStatus: cluster.AllocClientComplete},
	}, Now: t0})

	for i, s := range steps {
		resp := h.apply(state.MsgAllocDisconnect, s.req)
		err, _ := resp.(error)
		if s.wantErr != nil {
			if !errors.Is(err, s.wantErr) {
				t.Fatalf("step %d (%s): got %v, want %v", i, s.name, resp, s.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d (%s): %v", i, s.name, err)
		}
		snap := h.snap()
		for id, want := range s.want {
			if got := snap.Alloc(id).ClientStatus; got != want {
				t.Errorf("step %d (%s): %s client status %q, want %q", i, s.name, id, got, want)
			}
		}
	}

	snap := h.snap()
	if n := snap.Node("n1"); n.Status != cluster.NodeStatusDown || !n.StatusUpdatedAt.Equal(down) {
		t.Errorf("node n1: status %q since %v, want down since %v", n.Status, n.StatusUpdatedAt, down)
	}
	if got := snap.Alloc("a1").DisconnectedAt; !got.Equal(down) {
		t.Errorf("a1 disconnected at %v, want %v (the first time it went unknown)", got, down)
	}
	for _, id := range []string{"e-down", "e-lost"} {
		if snap.Eval(id) == nil {
			t.Errorf("evaluation %s was not stored", id)
		}
	}

	// The agent reporting in again replaces unknown with what runs; the
	// time it went unknown stays, for the scheduler's reconcile.
	h.must(state.MsgAllocDisconnect, &state.AllocDisconnectRequest{
		Allocs: []state.AllocDisconnect{{AllocID: "a2", ClientStatus: cluster.AllocClientUnknown}}, Now: down,
	})
	h.must(state.MsgAllocClientUpdate, &state.AllocClientUpdateRequest{Allocs: []state.AllocClientState{
		{ID: "a2", ClientStatus: cluster.AllocClientRunning},
	}, Now: down.Add(time.Minute)})
	if a := h.snap().Alloc("a2"); a.ClientStatus != cluster.AllocClientRunning || !a.DisconnectedAt.Equal(down) {
		t.Errorf("a2 after reconnect: %q disconnected at %v, want running and %v", a.ClientStatus, a.DisconnectedAt, down)
	}

	// Replaced while unknown, then lost: stopped too, since no
	// evaluation would stop it (the scheduler skips a replaced one).
	h.must(state.MsgAllocDisconnect, &state.AllocDisconnectRequest{
		Allocs: []state.AllocDisconnect{{AllocID: "a2", ClientStatus: cluster.AllocClientUnknown}}, Now: down,
	})
	r := testAlloc("r2", "web", "n1", "e2")
	r.PreviousAllocation = "a2"
	h.must(state.MsgPlanApply, &state.PlanApplyRequest{Allocs: []*cluster.Allocation{r}, Now: down})
	h.must(state.MsgAllocDisconnect, &state.AllocDisconnectRequest{
		Allocs: []state.AllocDisconnect{{AllocID: "a2", ClientStatus: cluster.AllocClientLost}}, Now: down.Add(time.Hour),
	})
	if a := h.snap().Alloc("a2"); a.ClientStatus != cluster.AllocClientLost || a.DesiredStatus != cluster.AllocDesiredStop || a.NextAllocation != "r2" {
		t.Errorf("a2 replaced then lost: %s/%s next %q, want lost/stop next r2", a.ClientStatus, a.DesiredStatus, a.NextAllocation)
	}
}
