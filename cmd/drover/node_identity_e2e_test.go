package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/agent/localstate"
	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

// Node identity end to end, with the real binary: an agent joined with
// the client join token keeps its node (ID, secret and client
// certificate) across restarts; a holder of the management token cannot
// take the node over; an agent whose data dir lost the secret stops and
// says how to recover.
func TestNodeIdentityAcrossAgentRestarts(t *testing.T) {
	s := startServer(t, "-node-name", "s1")
	c := s.client
	dataDir := t.TempDir()
	agent := s.startAgent(t, "a1", dataDir)
	nodes := waitNodes(t, c, 1)
	id := nodes[0].ID
	ctx, cancel := context.WithTimeout(context.Background(), agentWait)
	defer cancel()
	node, _, err := c.Nodes().Info(ctx, id, nil)
	if err != nil || node.HTTPAddr == "" || node.SecretHash != "" {
		t.Fatalf("node = %+v, %v", node, err)
	}
	// The agent obtained its client certificate with the join token.
	certFile := filepath.Join(dataDir, "tls", "client.pem")
	cert, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatalf("the agent's client certificate: %v", err)
	}

	// The management token is not a node's identity: it cannot point the
	// node's http_addr (where `drover alloc logs` sends the token)
	// elsewhere, nor heartbeat the node.
	evil := node.Copy()
	evil.HTTPAddr = "203.0.113.9:4646"
	_, err = c.Nodes().Register(ctx, evil)
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != 403 || !strings.Contains(se.Message, "needs its node secret") {
		t.Fatalf("re-register with the management token = %v, want 403", err)
	}
	if _, err := c.Nodes().Heartbeat(ctx, id); !api.IsNodeSecretRefused(err) {
		t.Fatalf("heartbeat with the management token = %v, want 403", err)
	}
	if n, _, _ := c.Nodes().Info(ctx, id, nil); n.HTTPAddr != node.HTTPAddr {
		t.Fatalf("http_addr moved to %q", n.HTTPAddr)
	}

	// Restarted on its data dir, the agent is the same node.
	agent.stop(syscall.SIGTERM)
	agent = s.startAgent(t, "a1", dataDir)
	waitUntil(t, "the restarted agent to register", func() bool {
		return strings.Contains(agent.out.String(), "node registered")
	})
	nodes, _, err = c.Nodes().List(ctx, nil)
	if err != nil || len(nodes) != 1 || nodes[0].ID != id || nodes[0].Status != cluster.NodeStatusReady {
		t.Fatalf("nodes after the restart = %+v, %v", nodes, err)
	}
	restarted, _, err := c.Nodes().Info(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if now, err := os.ReadFile(certFile); err != nil || !bytes.Equal(now, cert) {
		t.Errorf("the restarted agent did not keep its client certificate (%v)", err)
	}
	agent.stop(syscall.SIGTERM)

	// The data dir loses the secret: the agent cannot take its node back.
	db, err := localstate.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetNodeIdentity(id, ""); err != nil {
		t.Fatal(err)
	}
	db.Close()
	lost := s.startAgent(t, "a1", dataDir)
	select {
	case err := <-lost.done:
		var ee interface{ ExitCode() int }
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("agent without its secret exited with %v, want exit code 1", err)
		}
	case <-time.After(agentWait):
		t.Fatalf("agent without its secret did not stop:\n%s", lost.out.String())
	}
	out := lost.out.String()
	for _, want := range []string{"node " + id, "no node secret", "empty -data-dir"} {
		if !strings.Contains(out, want) {
			t.Errorf("agent output does not say %q:\n%s", want, out)
		}
	}
	if n, _, _ := c.Nodes().Info(ctx, id, nil); n.HTTPAddr != restarted.HTTPAddr {
		t.Fatalf("http_addr moved to %q", n.HTTPAddr)
	}
}
