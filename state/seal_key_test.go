package state_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

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
