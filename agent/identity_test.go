package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/agent/localstate"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
	"github.com/droverhq/drover/state"
)

// storedIdentity reads the node ID and secret an agent left in dataDir.
func storedIdentity(t *testing.T, dataDir string) (id, secret string) {
	t.Helper()
	db, err := localstate.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if id, err = db.NodeID(); err != nil {
		t.Fatal(err)
	}
	if secret, err = db.NodeSecret(); err != nil {
		t.Fatal(err)
	}
	return id, secret
}

// The agent makes its node secret, keeps it in its data dir (0600) and
// registers with it; restarted on the same data dir it is the same node.
func TestAgentKeepsItsIdentity(t *testing.T) {
	srv := servertest.Single(t)
	dataDir := t.TempDir()
	ta := startAgent(t, agentConfig(t, srv, dataDir, "n1"))
	ta.stop(t)

	id, secret := storedIdentity(t, dataDir)
	if id != ta.NodeID() || cluster.ValidNodeSecret(secret) != nil {
		t.Fatalf("stored identity = %q, %q", id, secret)
	}
	fi, err := os.Stat(filepath.Join(dataDir, "state.db"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state.db = %v, %v; want mode 0600", fi.Mode(), err)
	}
	n := srv.State().Store().Snapshot().Node(id)
	if n == nil || !n.SecretMatches(secret) {
		t.Fatalf("the servers' node %+v does not know the agent's secret", n)
	}

	ta2 := startAgent(t, agentConfig(t, srv, dataDir, "n1"))
	defer ta2.stop(t)
	if ta2.NodeID() != id {
		t.Fatalf("node ID changed across restarts: %s → %s", id, ta2.NodeID())
	}
	if _, got := runningIdentity(ta2); got != secret {
		t.Fatal("the secret changed across restarts")
	}
	if nodes := srv.State().Store().Snapshot().Nodes(); len(nodes) != 1 {
		t.Fatalf("%d nodes after a restart, want 1", len(nodes))
	}
}

// runningIdentity reads a running agent's identity through its open DB.
func runningIdentity(ta *testAgent) (string, string) {
	id, _ := ta.db.NodeID()
	secret, _ := ta.db.NodeSecret()
	return id, secret
}

// An agent whose data dir lost its node secret cannot take its node back:
// it stops with an error that says how to recover, and the node the
// servers know is untouched.
func TestAgentWithoutItsSecretStopsAndSaysHowToRecover(t *testing.T) {
	srv := servertest.Single(t)
	dataDir := t.TempDir()
	ta := startAgent(t, agentConfig(t, srv, dataDir, "n1"))
	ta.stop(t)
	id, _ := storedIdentity(t, dataDir)
	before := srv.State().Store().Snapshot().Node(id)

	db, err := localstate.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetNodeIdentity(id, ""); err != nil {
		t.Fatal(err)
	}
	db.Close()

	a, err := New(agentConfig(t, srv, dataDir, "n1"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err = a.Run(ctx)
	if !errors.Is(err, ErrNodeIdentity) {
		t.Fatalf("Run = %v, want ErrNodeIdentity", err)
	}
	for _, want := range []string{id, "no node secret", "empty -data-dir", filepath.Join(dataDir, "state.db"), "needs its node secret"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	after := srv.State().Store().Snapshot().Node(id)
	if after.ModifyIndex != before.ModifyIndex || after.HTTPAddr != before.HTTPAddr {
		t.Fatalf("node changed: %+v → %+v", before, after)
	}
}

// An agent upgraded from before node secrets (its data dir has a node ID
// only, and so has the servers' record) gives its node a secret on its
// first registration and carries on as the same node.
func TestAgentFromBeforeSecretsTakesItsNode(t *testing.T) {
	srv := servertest.Single(t)
	dataDir := t.TempDir()
	const id = "0ld00000-0000-4000-8000-000000000001"
	db, err := localstate.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetNodeIdentity(id, ""); err != nil {
		t.Fatal(err)
	}
	db.Close()
	old := &cluster.Node{ID: id, Name: "n1", Datacenter: "dc1", Status: cluster.NodeStatusReady}
	if _, _, err := srv.State().Apply(context.Background(), state.MsgNodeRegister, &state.NodeRegisterRequest{Node: old, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}

	ta := startAgent(t, agentConfig(t, srv, dataDir, "n1"))
	defer ta.stop(t)
	if ta.NodeID() != id {
		t.Fatalf("node ID %s, want %s", ta.NodeID(), id)
	}
	_, secret := runningIdentity(ta)
	if n := srv.State().Store().Snapshot().Node(id); !n.SecretMatches(secret) {
		t.Fatalf("node %+v did not take the agent's secret", n)
	}
}
