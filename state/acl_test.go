package state_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

func testACLToken(accessor, secret, typ string, policies ...string) *cluster.ACLToken {
	return &cluster.ACLToken{AccessorID: accessor, SecretHash: cluster.HashACLSecret(secret), Name: accessor,
		Type: typ, Policies: policies, CreateTime: t0}
}

func TestACLCommands(t *testing.T) {
	h := newFSM(t)
	boot := testACLToken("boot", "s-boot", cluster.ACLTokenManagement)
	h.must(state.MsgACLBootstrap, &state.ACLBootstrapRequest{Token: boot, Now: t0})
	bootIndex := h.index
	if got := h.snap().ACLBootstrapIndex(); got != bootIndex {
		t.Fatalf("bootstrap index = %d, want %d", got, bootIndex)
	}
	// A second bootstrap is refused and stores nothing.
	again := testACLToken("boot2", "s-boot2", cluster.ACLTokenManagement)
	if err, _ := h.apply(state.MsgACLBootstrap, &state.ACLBootstrapRequest{Token: again, Now: t0}).(error); !errors.Is(err, state.ErrCASConflict) {
		t.Fatalf("second bootstrap = %v, want ErrCASConflict", err)
	}
	if h.snap().ACLToken("boot2") != nil {
		t.Fatal("a refused bootstrap stored its token")
	}

	h.must(state.MsgACLPolicyUpsert, &state.ACLPolicyUpsertRequest{Policies: []*cluster.ACLPolicy{
		{Name: "readonly", Rules: `namespace "default" { policy = "read" }`},
	}, Now: t0})
	h.must(state.MsgACLTokenUpsert, &state.ACLTokenUpsertRequest{Tokens: []*cluster.ACLToken{
		testACLToken("ro", "s-ro", cluster.ACLTokenClient, "readonly"),
	}, Now: t0})
	if got := h.snap().ACLTokenBySecretHash(cluster.HashACLSecret("s-ro")); got == nil || got.AccessorID != "ro" {
		t.Fatalf("token by secret = %+v", got)
	}
	// A client token without policies, or with a reused secret, is refused.
	if err, _ := h.apply(state.MsgACLTokenUpsert, &state.ACLTokenUpsertRequest{Tokens: []*cluster.ACLToken{
		testACLToken("x", "s-x", cluster.ACLTokenClient),
	}}).(error); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("client token without policies = %v, want ErrInvalid", err)
	}
	if err, _ := h.apply(state.MsgACLTokenUpsert, &state.ACLTokenUpsertRequest{Tokens: []*cluster.ACLToken{
		testACLToken("y", "s-ro", cluster.ACLTokenClient, "readonly"),
	}}).(error); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("reused secret = %v, want ErrInvalid", err)
	}

	// Snapshot and restore keep policies, tokens and the bootstrap mark.
	var buf bytes.Buffer
	persist(t, h.fsm, &buf)
	restored := newFSM(t)
	if err := restored.fsm.Restore(readCloser(&buf)); err != nil {
		t.Fatal(err)
	}
	rs := restored.snap()
	if rs.ACLPolicy("readonly") == nil || rs.ACLToken("ro") == nil || rs.ACLTokenBySecretHash(cluster.HashACLSecret("s-boot")) == nil {
		t.Fatal("restore lost ACL records")
	}
	if got := rs.ACLBootstrapIndex(); got != bootIndex {
		t.Fatalf("restored bootstrap index = %d, want %d", got, bootIndex)
	}

	// Revoke and delete.
	h.must(state.MsgACLTokenDelete, &state.ACLTokenDeleteRequest{AccessorIDs: []string{"ro"}, Now: t0})
	if h.snap().ACLTokenBySecretHash(cluster.HashACLSecret("s-ro")) != nil {
		t.Fatal("revoked token still resolves")
	}
	h.must(state.MsgACLPolicyDelete, &state.ACLPolicyDeleteRequest{Names: []string{"readonly"}, Now: t0})
	if h.snap().ACLPolicy("readonly") != nil {
		t.Fatal("deleted policy still stored")
	}
	if err, _ := h.apply(state.MsgACLTokenDelete, &state.ACLTokenDeleteRequest{AccessorIDs: []string{"ro"}}).(error); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("revoke unknown = %v, want ErrNotFound", err)
	}
}

func TestACLTokenExpired(t *testing.T) {
	exp := t0.Add(time.Hour)
	tok := &cluster.ACLToken{ExpirationTime: &exp}
	if tok.Expired(t0) || !tok.Expired(exp) {
		t.Fatal("Expired is wrong at the boundary")
	}
}
