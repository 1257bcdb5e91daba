package state_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

func rootKey(id, st string) *cluster.RootKey {
	return &cluster.RootKey{KeyID: id, Algorithm: cluster.RootKeyAlgorithm, State: st, CreateTime: t0, SealedKey: bytes.Repeat([]byte{0x5A}, 61)}
}

func encVar(path, kid string, marker byte) *cluster.VariableEncrypted {
	return &cluster.VariableEncrypted{
		VariableMetadata: cluster.VariableMetadata{Namespace: "default", Path: path},
		Data:             bytes.Repeat([]byte{marker}, 32), KeyID: kid, Nonce: make([]byte, 12),
	}
}

func varSet(h *fsmHarness, v *cluster.VariableEncrypted, cas *uint64) *state.VarApplyResponse {
	h.t.Helper()
	return h.must(state.MsgVarApply, &state.VarApplyRequest{Op: state.VarOpSet, Var: v, CheckIndex: cas, Now: t0}).(*state.VarApplyResponse)
}

// TestRootKeyUpsert: only sealed keys are stored, one key is active, and
// a key still encrypting a variable cannot be deleted.
func TestRootKeyUpsert(t *testing.T) {
	h := newFSM(t)
	clearKey := rootKey("k0", cluster.RootKeyActive)
	clearKey.SealedKey = make([]byte, 32)
	for _, tc := range []struct {
		name string
		req  *state.RootKeyUpsertRequest
		want string
	}{
		{"key in the clear", &state.RootKeyUpsertRequest{Keys: []*cluster.RootKey{clearKey}}, "not sealed"},
		{"two active", &state.RootKeyUpsertRequest{Keys: []*cluster.RootKey{rootKey("a", "active"), rootKey("b", "active")}}, "active"},
		{"bad state", &state.RootKeyUpsertRequest{Keys: []*cluster.RootKey{rootKey("a", "retired")}}, "state"},
		{"nothing", &state.RootKeyUpsertRequest{}, "no root key"},
	} {
		err, _ := h.apply(state.MsgRootKeyUpsert, tc.req).(error)
		if !errors.Is(err, state.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if len(h.snap().RootKeys()) != 0 {
		t.Fatal("a refused request stored a key")
	}
	h.must(state.MsgRootKeyUpsert, &state.RootKeyUpsertRequest{Keys: []*cluster.RootKey{rootKey("a", "active")}, Now: t0})
	varSet(h, encVar("x", "a", 1), nil)
	h.must(state.MsgRootKeyUpsert, &state.RootKeyUpsertRequest{Keys: []*cluster.RootKey{rootKey("b", "active"), rootKey("a", "rekeying")}, Now: t0})
	if k := h.snap().ActiveRootKey(); k == nil || k.KeyID != "b" {
		t.Fatalf("active %+v", k)
	}
	err, _ := h.apply(state.MsgRootKeyUpsert, &state.RootKeyUpsertRequest{Delete: []string{"a"}, Now: t0}).(error)
	if !errors.Is(err, state.ErrInvalid) || h.snap().RootKey("a") == nil {
		t.Fatalf("deleting a key in use: %v", err)
	}
	// A write under a key the keyring does not hold is refused.
	err, _ = h.apply(state.MsgVarApply, &state.VarApplyRequest{Op: state.VarOpSet, Var: encVar("y", "nope", 1), Now: t0}).(error)
	if !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("unknown key: %v", err)
	}
}

// TestVarApplyCASRace: two writers that read the same index both send
// it; the FSM lets exactly one through, whichever Raft orders first.
func TestVarApplyCASRace(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgRootKeyUpsert, &state.RootKeyUpsertRequest{Keys: []*cluster.RootKey{rootKey("a", "active")}, Now: t0})

	// Create-only: both ask for cas=0.
	zero := uint64(0)
	first := varSet(h, encVar("p", "a", 1), &zero)
	second := varSet(h, encVar("p", "a", 2), &zero)
	if first.Result != state.VarResultOK || second.Result != state.VarResultConflict {
		t.Fatalf("cas=0 race: %s, %s", first.Result, second.Result)
	}
	if second.Conflict == nil || second.Conflict.ModifyIndex != first.Written.ModifyIndex {
		t.Fatalf("conflict carries %+v", second.Conflict)
	}
	// Update: both read index N.
	n := first.Written.ModifyIndex
	a := varSet(h, encVar("p", "a", 3), &n)
	b := varSet(h, encVar("p", "a", 4), &n)
	if a.Result != state.VarResultOK || b.Result != state.VarResultConflict || b.Conflict.ModifyIndex != a.Written.ModifyIndex {
		t.Fatalf("cas=N race: %+v, %+v", a, b)
	}
	if got := h.snap().Variable("default", "p"); got.Data[0] != 3 || got.CreateIndex != first.Written.CreateIndex {
		t.Fatalf("stored %+v", got)
	}
	// cas on a missing variable conflicts; a delete with a stale index too.
	missing := uint64(7)
	if r := varSet(h, encVar("q", "a", 1), &missing); r.Result != state.VarResultConflict || r.Conflict != nil {
		t.Fatalf("cas on missing: %+v", r)
	}
	del := h.must(state.MsgVarApply, &state.VarApplyRequest{Op: state.VarOpDelete, Var: encVar("p", "", 0), CheckIndex: &n, Now: t0}).(*state.VarApplyResponse)
	if del.Result != state.VarResultConflict || h.snap().Variable("default", "p") == nil {
		t.Fatalf("stale delete: %+v", del)
	}
}

// TestVarRekeyAndSnapshot: a rekey replaces the ciphertext of unchanged
// variables only and keeps their ModifyIndex; variables and root keys
// survive a snapshot and restore.
func TestVarRekeyAndSnapshot(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgRootKeyUpsert, &state.RootKeyUpsertRequest{Keys: []*cluster.RootKey{rootKey("a", "active")}, Now: t0})
	v1 := varSet(h, encVar("one", "a", 1), nil).Written
	v2 := varSet(h, encVar("two", "a", 1), nil).Written
	h.must(state.MsgRootKeyUpsert, &state.RootKeyUpsertRequest{Keys: []*cluster.RootKey{rootKey("b", "active"), rootKey("a", "rekeying")}, Now: t0})
	// "two" changes after the leader read it: its rekey must be skipped.
	v2b := varSet(h, encVar("two", "a", 2), nil).Written
	r1, r2 := v1.Copy(), v2.Copy()
	r1.KeyID, r1.Data = "b", bytes.Repeat([]byte{9}, 32)
	r2.KeyID, r2.Data = "b", bytes.Repeat([]byte{9}, 32)
	resp := h.must(state.MsgVarApply, &state.VarApplyRequest{Op: state.VarOpRekey, Rekey: []*cluster.VariableEncrypted{r1, r2}, Now: t0}).(*state.VarApplyResponse)
	if resp.Rekeyed != 1 {
		t.Fatalf("rekeyed %d, want 1", resp.Rekeyed)
	}
	got1, got2 := h.snap().Variable("default", "one"), h.snap().Variable("default", "two")
	if got1.KeyID != "b" || got1.ModifyIndex != v1.ModifyIndex || got1.Data[0] != 9 {
		t.Fatalf("rekeyed variable %+v", got1)
	}
	if got2.KeyID != "a" || got2.ModifyIndex != v2b.ModifyIndex || got2.Data[0] != 2 {
		t.Fatalf("changed variable was rekeyed: %+v", got2)
	}
	if !h.snap().VariableUsesKey("a") || len(h.snap().VariablesByKey("b", 0)) != 1 {
		t.Fatal("key index")
	}
	if l := h.snap().Variables("default", "o", 0); len(l) != 1 || l[0].Path != "one" {
		t.Fatalf("prefix list %+v", l)
	}

	var buf bytes.Buffer
	persist(t, h.fsm, &buf)
	dst := newFSM(t)
	if err := dst.fsm.Restore(readCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if asJSON(t, dst.snap().Variables("*", "", 0)) != asJSON(t, h.snap().Variables("*", "", 0)) ||
		asJSON(t, dst.snap().RootKeys()) != asJSON(t, h.snap().RootKeys()) || len(dst.snap().RootKeys()) != 2 {
		t.Fatal("variables or root keys did not survive a snapshot")
	}
	if !dst.snap().VariableUsesKey("a") {
		t.Fatal("the key index was not rebuilt on restore")
	}
}

// TestVarLockLease: a lock binds until its TTL (renewable) plus its
// delay runs out, by the leader's clock in each entry.
func TestVarLockLease(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgRootKeyUpsert, &state.RootKeyUpsertRequest{Keys: []*cluster.RootKey{rootKey("a", "active")}, Now: t0})
	acquire := func(id string, at time.Duration) *state.VarApplyResponse {
		v := encVar("l", "a", 1)
		v.Lock = &cluster.VariableLock{ID: id, TTL: 10 * time.Second, LockDelay: 2 * time.Second}
		return h.must(state.MsgVarApply, &state.VarApplyRequest{Op: state.VarOpLockAcquire, Var: v, Now: t0.Add(at)}).(*state.VarApplyResponse)
	}
	renew := func(id string, at time.Duration) *state.VarApplyResponse {
		v := encVar("l", "", 0)
		v.Lock = &cluster.VariableLock{ID: id}
		return h.must(state.MsgVarApply, &state.VarApplyRequest{Op: state.VarOpLockRenew, Var: v, Now: t0.Add(at)}).(*state.VarApplyResponse)
	}
	if r := acquire("one", 0); r.Result != state.VarResultOK {
		t.Fatalf("acquire: %+v", r)
	}
	if r := acquire("two", 5*time.Second); r.Result != state.VarResultConflict {
		t.Fatalf("acquire while held: %+v", r)
	}
	if r := renew("two", 8*time.Second); r.Result != state.VarResultConflict {
		t.Fatalf("renew by another: %+v", r)
	}
	before := h.snap().Variable("default", "l").ModifyIndex
	if r := renew("one", 8*time.Second); r.Result != state.VarResultOK || r.Written.ModifyIndex != before {
		t.Fatalf("renew: %+v (the modify index must not move)", r)
	}
	// Held until 8s+10s+2s delay.
	if r := acquire("two", 19*time.Second); r.Result != state.VarResultConflict {
		t.Fatalf("acquire inside the renewed lease: %+v", r)
	}
	if r := acquire("two", 21*time.Second); r.Result != state.VarResultOK {
		t.Fatalf("acquire after the lease lapsed: %+v", r)
	}
	if r := renew("one", 22*time.Second); r.Result != state.VarResultConflict {
		t.Fatalf("the old holder renews a lock it lost: %+v", r)
	}
}
