package state_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

// TestVarLockExpire: a lock is lost at its TTL (renewal refused), is
// due for release at TTL + delay (LocksDue, soonest first), and the
// expiry command releases only a lock that has lapsed by the entry's
// clock and is still held by the same ID; a renewed or retaken lock is
// left alone. The lock index survives a snapshot.
func TestVarLockExpire(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgRootKeyUpsert, &state.RootKeyUpsertRequest{Keys: []*cluster.RootKey{rootKey("a", "active")}, Now: t0})
	acquire := func(path, id string, delay, at time.Duration) *state.VarApplyResponse {
		t.Helper()
		v := encVar(path, "a", 1)
		v.Lock = &cluster.VariableLock{ID: id, TTL: 10 * time.Second, LockDelay: delay}
		return h.must(state.MsgVarApply, &state.VarApplyRequest{Op: state.VarOpLockAcquire, Var: v, Now: t0.Add(at)}).(*state.VarApplyResponse)
	}
	renew := func(path, id string, at time.Duration) *state.VarApplyResponse {
		t.Helper()
		v := encVar(path, "", 0)
		v.Lock = &cluster.VariableLock{ID: id}
		return h.must(state.MsgVarApply, &state.VarApplyRequest{Op: state.VarOpLockRenew, Var: v, Now: t0.Add(at)}).(*state.VarApplyResponse)
	}
	expire := func(at time.Duration, locks ...state.VarLockExpiry) int {
		t.Helper()
		return h.must(state.MsgVarLockExpire, &state.VarLockExpireRequest{Locks: locks, Now: t0.Add(at)}).(*state.VarLockExpireResponse).Released
	}
	acquire("lapsing", "one", 2*time.Second, 0)             // due at 12s
	acquire("renewed", "two", 0, 0)                         // renewed at 8s: due at 18s
	acquire("later", "three", 5*time.Second, 1*time.Second) // due at 16s
	if r := renew("renewed", "two", 8*time.Second); r.Result != state.VarResultOK {
		t.Fatalf("renew inside the TTL: %+v", r)
	}
	// At 10.5s: "lapsing" is lost, not yet free.
	if r := renew("lapsing", "one", 10500*time.Millisecond); r.Result != state.VarResultConflict {
		t.Fatalf("renew after the TTL: %+v, want a conflict", r)
	}
	if r := acquire("lapsing", "other", 0, 11*time.Second); r.Result != state.VarResultConflict {
		t.Fatalf("acquire inside the lock delay: %+v, want a conflict", r)
	}

	due, next := h.snap().LocksDue(t0.Add(11*time.Second), 10)
	if len(due) != 0 || !next.Equal(t0.Add(12*time.Second)) {
		t.Fatalf("due at 11s: %d, next %v; want none, next at 12s", len(due), next)
	}
	due, next = h.snap().LocksDue(t0.Add(17*time.Second), 10)
	if len(due) != 2 || due[0].Path != "lapsing" || due[1].Path != "later" || !next.Equal(t0.Add(18*time.Second)) {
		t.Fatalf("due at 17s: %v, next %v; want lapsing then later, renewed's at 18s", paths(due), next)
	}
	if due, next := h.snap().LocksDue(t0.Add(17*time.Second), 1); len(due) != 1 || !next.Equal(t0.Add(17*time.Second)) {
		t.Fatalf("due at 17s, one at a time: %d, next %v; want 1 and now (more are due)", len(due), next)
	}

	// Too early by the entry's clock, a wrong ID, a renewed lock: kept.
	if n := expire(11*time.Second, state.VarLockExpiry{Namespace: "default", Path: "lapsing", LockID: "one"}); n != 0 {
		t.Fatalf("released %d before the delay passed", n)
	}
	if n := expire(13*time.Second, state.VarLockExpiry{Namespace: "default", Path: "lapsing", LockID: "other"}); n != 0 {
		t.Fatalf("released %d under another lock ID", n)
	}
	if n := expire(13*time.Second, state.VarLockExpiry{Namespace: "default", Path: "renewed", LockID: "two"}); n != 0 {
		t.Fatalf("released %d renewed locks", n)
	}
	before := h.snap().Variable("default", "lapsing")
	if n := expire(13*time.Second,
		state.VarLockExpiry{Namespace: "default", Path: "lapsing", LockID: "one"},
		state.VarLockExpiry{Namespace: "default", Path: "gone", LockID: "x"}); n != 1 {
		t.Fatalf("released %d, want lapsing", n)
	}
	after := h.snap().Variable("default", "lapsing")
	if after.Lock != nil || after.ModifyIndex != h.index || !bytes.Equal(after.Data, before.Data) || after.CreateIndex != before.CreateIndex {
		t.Fatalf("after the release: %+v", after)
	}
	if r := acquire("lapsing", "other", 0, 13*time.Second); r.Result != state.VarResultOK {
		t.Fatalf("acquire after the release: %+v", r)
	}

	for _, n := range []int{0, state.MaxLockExpireBatch + 1} {
		err, _ := h.apply(state.MsgVarLockExpire, &state.VarLockExpireRequest{Locks: make([]state.VarLockExpiry, n), Now: t0}).(error)
		if !errors.Is(err, state.ErrInvalid) {
			t.Errorf("an expiry of %d locks: %v, want invalid", n, err)
		}
	}

	var buf bytes.Buffer
	persist(t, h.fsm, &buf)
	dst := newFSM(t)
	if err := dst.fsm.Restore(readCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if due, _ := dst.snap().LocksDue(t0.Add(time.Hour), 10); len(due) != 3 {
		t.Fatalf("after a restore %d locks are due, want 3 (the index was not rebuilt?)", len(due))
	}
}

func paths(vs []*cluster.VariableEncrypted) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Path)
	}
	return out
}
