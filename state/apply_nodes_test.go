package state_test

import (
	"errors"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

// The servers check a node's secret before they apply its registration;
// the FSM decides between two that raced past that check: the node keeps
// the secret it was registered with, and the loser changes nothing.
func TestNodeRegisterKeepsItsSecret(t *testing.T) {
	h := newFSM(t)
	mine, theirs := cluster.HashNodeSecret("mine"), cluster.HashNodeSecret("theirs")
	n := testNode("n1")
	n.SecretHash, n.HTTPAddr = mine, "10.0.0.1:4646"
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: n, Now: t0})

	for _, hash := range []string{theirs, ""} {
		evil := testNode("n1")
		evil.SecretHash, evil.HTTPAddr = hash, "203.0.113.9:4646"
		if err, _ := h.apply(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: evil, Now: t0}).(error); !errors.Is(err, state.ErrCASConflict) {
			t.Fatalf("register with secret hash %q = %v, want ErrCASConflict", hash, err)
		}
	}
	if got := h.snap().Node("n1"); got.HTTPAddr != "10.0.0.1:4646" || got.SecretHash != mine || got.ModifyIndex != 1 {
		t.Fatalf("node after refused registrations = %+v", got)
	}

	// The node itself registers again; status changes keep the hash.
	again := testNode("n1")
	again.SecretHash, again.HTTPAddr = mine, "10.0.0.1:4747"
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: again, Now: t0.Add(time.Minute)})
	h.must(state.MsgNodeUpdateStatus, &state.NodeStatusRequest{NodeID: "n1", Status: cluster.NodeStatusDown, Now: t0.Add(2 * time.Minute)})
	if got := h.snap().Node("n1"); got.HTTPAddr != "10.0.0.1:4747" || got.SecretHash != mine {
		t.Fatalf("node = %+v", got)
	}

	// A node registered before nodes had secrets takes its first one.
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("old"), Now: t0})
	claim := testNode("old")
	claim.SecretHash = theirs
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: claim, Now: t0})
	if got := h.snap().Node("old"); got.SecretHash != theirs {
		t.Fatalf("old node = %+v", got)
	}
}
