package state_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

func identityKey(id string, sealedLen int) cluster.IdentityKey {
	pub := make([]byte, ed25519.PublicKeySize)
	pub[0] = id[0]
	return cluster.IdentityKey{KeyID: id, PublicKey: pub, SealedPrivateKey: bytes.Repeat([]byte{0xA5}, sealedLen), CreateTime: t0}
}

// TestIdentityKeySet: the keyring is created once (CAS 0), replaced only
// at its modify index, refuses what cannot be a sealed key (a private key
// stored in the clear is 32 or 64 bytes), and survives a snapshot and
// restore (kindIdentityKey).
func TestIdentityKeySet(t *testing.T) {
	h := newFSM(t)
	for _, tc := range []struct {
		name string
		keys []cluster.IdentityKey
		want string
	}{
		{"none", nil, "no identity keyring"},
		{"seed in the clear", []cluster.IdentityKey{identityKey("a", ed25519.SeedSize)}, "not sealed"},
		{"private key in the clear", []cluster.IdentityKey{identityKey("a", ed25519.PrivateKeySize)}, "not sealed"},
		{"bad public key", []cluster.IdentityKey{{KeyID: "a", PublicKey: []byte{1}, SealedPrivateKey: make([]byte, 61)}}, "public key"},
		{"repeated id", []cluster.IdentityKey{identityKey("a", 61), identityKey("a", 61)}, "repeated"},
	} {
		err, _ := h.apply(state.MsgIdentityKeySet, &state.IdentityKeySetRequest{Keyring: &cluster.IdentityKeyring{Keys: tc.keys}, Now: t0}).(error)
		if !errors.Is(err, state.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	h.must(state.MsgIdentityKeySet, &state.IdentityKeySetRequest{Keyring: &cluster.IdentityKeyring{Keys: []cluster.IdentityKey{identityKey("a", 61)}}, Now: t0})
	created := h.index
	err, _ := h.apply(state.MsgIdentityKeySet, &state.IdentityKeySetRequest{Keyring: &cluster.IdentityKeyring{Keys: []cluster.IdentityKey{identityKey("b", 61)}}, Now: t0}).(error)
	if !errors.Is(err, state.ErrCASConflict) {
		t.Fatalf("a second create: %v, want a CAS conflict", err)
	}
	h.must(state.MsgIdentityKeySet, &state.IdentityKeySetRequest{Keyring: &cluster.IdentityKeyring{Keys: []cluster.IdentityKey{identityKey("a", 61), identityKey("b", 61)}}, CASIndex: created, Now: t0})
	kr := h.snap().IdentityKeyring()
	if kr == nil || kr.CreateIndex != created || kr.ModifyIndex != h.index || kr.Active().KeyID != "b" {
		t.Fatalf("keyring %+v", kr)
	}

	var buf bytes.Buffer
	persist(t, h.fsm, &buf)
	dst := newFSM(t)
	if err := dst.fsm.Restore(readCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if got := dst.snap().IdentityKeyring(); got == nil || asJSON(t, got) != asJSON(t, kr) {
		t.Fatalf("restored keyring %+v, want %+v", got, kr)
	}
}
