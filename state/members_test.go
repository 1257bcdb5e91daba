package state_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/droverhq/drover/state"
	"github.com/droverhq/drover/state/statetest"
)

func TestMemberUpsertAndSnapshot(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgMemberUpsert, &state.MemberUpsertRequest{Member: &state.Member{ID: "a", Name: "s1", RaftAddr: "10.0.0.1:4647", HTTPAddr: "10.0.0.1:4747"}, Now: t0})
	created := h.index
	h.must(state.MsgMemberUpsert, &state.MemberUpsertRequest{Member: &state.Member{ID: "a", RaftAddr: "10.0.0.1:4647", HTTPAddr: "10.0.0.9:4747"}, Now: t0})
	if err, ok := h.apply(state.MsgMemberUpsert, &state.MemberUpsertRequest{Member: &state.Member{ID: "b"}}).(error); !ok || !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("member without raft address = %v", err)
	}
	m := h.snap().Member("a")
	if m == nil || m.HTTPAddr != "10.0.0.9:4747" || m.CreateIndex != created || m.ModifyIndex != h.index-1 {
		t.Fatalf("member = %+v", m)
	}
	if got := h.snap().Index(state.TableMembers); got != h.index-1 {
		t.Fatalf("members index = %d", got)
	}

	// Members survive a snapshot and restore.
	var buf bytes.Buffer
	persist(t, h.fsm, &buf)
	restored := newFSM(t)
	if err := restored.fsm.Restore(readCloser(&buf)); err != nil {
		t.Fatal(err)
	}
	if ms := restored.snap().Members(); len(ms) != 1 || *ms[0] != *m {
		t.Fatalf("restored members = %+v", ms)
	}
}

func TestBootstrapClusterOnlyOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), statetest.Timeout)
	defer cancel()
	dir := t.TempDir()
	r, err := state.Open(statetest.Config(dir, "only"), statetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.HasState() {
		t.Fatal("a fresh server has state")
	}
	if err := r.BootstrapCluster(ctx, []state.Server{{ID: "only", Addr: r.Addr(), Voter: true}}); err != nil {
		t.Fatal(err)
	}
	if !r.HasState() {
		t.Fatal("no state after bootstrap")
	}
	if err := r.BootstrapCluster(ctx, []state.Server{{ID: "only", Addr: r.Addr(), Voter: true}}); !errors.Is(err, state.ErrAlreadyBootstrapped) {
		t.Fatalf("second bootstrap = %v", err)
	}
	for !r.IsLeader() {
		select {
		case <-ctx.Done():
			t.Fatal("no leader")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := r.Shutdown(); err != nil {
		t.Fatal(err)
	}
	// Restarted on the same directory, it has state and refuses again.
	r2, err := state.Open(statetest.Config(dir, "only"), statetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Shutdown()
	if !r2.HasState() {
		t.Fatal("restarted server lost its state")
	}
	if err := r2.BootstrapCluster(ctx, nil); !errors.Is(err, state.ErrAlreadyBootstrapped) {
		t.Fatalf("bootstrap after restart = %v", err)
	}
}
