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

func sealKey(recipient string, sealedLen int) cluster.SealKey {
	return cluster.SealKey{Recipient: recipient, SealedIdentity: bytes.Repeat([]byte{0xA5}, sealedLen), CreateTime: t0}
}

// TestSealKeySet: the age keyring is created once (CAS 0), replaced only
// at its modify index, refuses an identity stored in the clear (74
// bytes) or a recipient that is not age's, and survives a snapshot and
// restore (kindSealKey).
func TestSealKeySet(t *testing.T) {
	const sealed = 1 + 12 + 74 + 16
	h := newFSM(t)
	for _, tc := range []struct {
		name string
		keys []cluster.SealKey
		want string
	}{
		{"none", nil, "no seal keyring"},
		{"identity in the clear", []cluster.SealKey{sealKey("age1a", 74)}, "not sealed"},
		{"not a recipient", []cluster.SealKey{sealKey("ssh-ed25519 AAAA", sealed)}, "not an age recipient"},
		{"repeated", []cluster.SealKey{sealKey("age1a", sealed), sealKey("age1a", sealed)}, "repeated"},
	} {
		err, _ := h.apply(state.MsgSealApply, &state.SealApplyRequest{Keyring: &state.SealKeySetRequest{Keyring: &cluster.SealKeyring{Keys: tc.keys}, Now: t0}}).(error)
		if !errors.Is(err, state.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	h.must(state.MsgSealApply, &state.SealApplyRequest{Keyring: &state.SealKeySetRequest{Keyring: &cluster.SealKeyring{Keys: []cluster.SealKey{sealKey("age1a", sealed)}}, Now: t0}})
	created := h.index
	err, _ := h.apply(state.MsgSealApply, &state.SealApplyRequest{Keyring: &state.SealKeySetRequest{Keyring: &cluster.SealKeyring{Keys: []cluster.SealKey{sealKey("age1b", sealed)}}, Now: t0}}).(error)
	if !errors.Is(err, state.ErrCASConflict) {
		t.Fatalf("a second create: %v, want a CAS conflict", err)
	}
	h.must(state.MsgSealApply, &state.SealApplyRequest{Keyring: &state.SealKeySetRequest{Keyring: &cluster.SealKeyring{Keys: []cluster.SealKey{sealKey("age1a", sealed), sealKey("age1b", sealed)}}, CASIndex: created, Now: t0}})
	kr := h.snap().SealKeyring()
	if kr == nil || kr.CreateIndex != created || kr.ModifyIndex != h.index || kr.Active().Recipient != "age1b" {
		t.Fatalf("keyring %+v", kr)
	}

	var buf bytes.Buffer
	persist(t, h.fsm, &buf)
	dst := newFSM(t)
	if err := dst.fsm.Restore(readCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if got := dst.snap().SealKeyring(); got == nil || asJSON(t, got) != asJSON(t, kr) {
		t.Fatalf("restored keyring %+v, want %+v", got, kr)
	}
}

// TestSealedVarsApply: a commit's sealed variables are written and
// deleted in one index, or not at all: one refused write (a key the
// keyring lacks, a variable locked by someone) leaves every variable as
// it was.
func TestSealedVarsApply(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgRootKeyUpsert, &state.RootKeyUpsertRequest{Keys: []*cluster.RootKey{rootKey("k1", cluster.RootKeyActive)}, Now: t0})
	varSet(h, encVar("old", "k1", 1), nil)
	vars := func(set []*cluster.VariableEncrypted, del ...string) *state.SealApplyRequest {
		req := &state.SealedVarsRequest{Source: "apps", Commit: "abc", Set: set, Now: t0}
		for _, p := range del {
			req.Delete = append(req.Delete, &cluster.VariableEncrypted{VariableMetadata: cluster.VariableMetadata{Namespace: "default", Path: p}})
		}
		return &state.SealApplyRequest{Vars: req}
	}

	err, _ := h.apply(state.MsgSealApply, vars([]*cluster.VariableEncrypted{encVar("a", "k1", 2), encVar("b", "nope", 3)}, "old")).(error)
	if !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("a write with an unknown key: %v", err)
	}
	if h.snap().Variable("default", "a") != nil || h.snap().Variable("default", "old") == nil {
		t.Fatal("a refused command wrote part of its variables")
	}

	lock := &cluster.VariableEncrypted{VariableMetadata: cluster.VariableMetadata{Namespace: "default", Path: "old", Lock: &cluster.VariableLock{ID: "holder", TTL: time.Hour}}, Data: bytes.Repeat([]byte{1}, 32), KeyID: "k1", Nonce: make([]byte, 12)}
	if r := h.must(state.MsgVarApply, &state.VarApplyRequest{Op: state.VarOpLockAcquire, Var: lock, Now: t0}).(*state.VarApplyResponse); r.Result != state.VarResultOK {
		t.Fatalf("lock: %+v", r)
	}
	err, _ = h.apply(state.MsgSealApply, vars([]*cluster.VariableEncrypted{encVar("a", "k1", 2)}, "old")).(error)
	if !errors.Is(err, state.ErrCASConflict) || !strings.Contains(err.Error(), "default/old of apps at abc") {
		t.Fatalf("deleting a locked variable: %v", err)
	}
	if h.snap().Variable("default", "a") != nil {
		t.Fatal("a refused command wrote part of its variables")
	}

	h.must(state.MsgSealApply, vars([]*cluster.VariableEncrypted{encVar("a", "k1", 2), encVar("b", "k1", 3)}))
	if a, b := h.snap().Variable("default", "a"), h.snap().Variable("default", "b"); a == nil || b == nil || a.ModifyIndex != h.index || b.ModifyIndex != h.index {
		t.Fatalf("a %+v b %+v at %d", a, b, h.index)
	}
	for _, bad := range []*state.SealApplyRequest{{}, {Keyring: &state.SealKeySetRequest{}, Vars: &state.SealedVarsRequest{}}, vars(nil)} {
		if err, _ := h.apply(state.MsgSealApply, bad).(error); !errors.Is(err, state.ErrInvalid) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
