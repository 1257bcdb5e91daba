package server_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
	"github.com/droverhq/drover/state"
)

// Node identity: a node's own calls (re-registration, heartbeats,
// allocation updates) need that node's secret, whoever holds the
// operator token. Each attack below is one a holder of the shared token
// could make before nodes had secrets.

// wantRefused fails unless err is a 403 whose message contains msg.
func wantRefused(t *testing.T, what string, err error, msg string) {
	t.Helper()
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusForbidden || !strings.Contains(se.Message, msg) {
		t.Fatalf("%s = %v, want 403 containing %q", what, err, msg)
	}
}

func TestNodeSecretIsIssuedOnceAndNeverShown(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	c := s.Client
	node := testNode(1)
	node.HTTPAddr = "10.0.0.1:4646"
	node.SecretHash = cluster.HashNodeSecret("chosen by the caller") // ignored
	resp, err := c.Nodes().Register(ctxT(t), node)
	if err != nil {
		t.Fatal(err)
	}
	secret := resp.NodeSecret
	if cluster.ValidNodeSecret(secret) != nil || len(secret) < 32 {
		t.Fatalf("issued secret %q", secret)
	}

	// Neither the secret nor its hash is ever served.
	for _, path := range []string{"/v1/nodes", "/v1/node/" + node.ID, "/v1/node/" + node.ID[:8]} {
		body := getRaw(t, c, "http://"+s.HTTPAddr()+path)
		if strings.Contains(body, secret) || strings.Contains(body, cluster.HashNodeSecret(secret)) || strings.Contains(body, "secret") {
			t.Errorf("GET %s shows the secret: %s", path, body)
		}
	}
	info, _, err := c.Nodes().Info(ctxT(t), node.ID, nil)
	if err != nil || info.SecretHash != "" || info.HTTPAddr != "10.0.0.1:4646" {
		t.Fatalf("node info = %+v, %v", info, err)
	}

	// Registering the node again needs the secret; the answer does not
	// repeat it.
	_, err = c.Nodes().Register(ctxT(t), testNode(1))
	wantRefused(t, "re-register without the secret", err, "node "+node.ID+" is registered; re-registering it needs its node secret")
	again := testNode(1)
	again.HTTPAddr = "10.0.0.1:4747"
	resp, err = c.WithNodeSecret(secret).Nodes().Register(ctxT(t), again)
	if err != nil || resp.NodeSecret != "" {
		t.Fatalf("re-register with the secret = %+v, %v", resp, err)
	}
	if info, _, _ := c.Nodes().Info(ctxT(t), node.ID, nil); info.HTTPAddr != "10.0.0.1:4747" {
		t.Fatalf("http_addr after re-registering = %q", info.HTTPAddr)
	}

	// A secret a node brings must look like one.
	_, err = c.WithNodeSecret("short").Nodes().Register(ctxT(t), testNode(2))
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusBadRequest || !strings.Contains(se.Message, api.HeaderNodeSecret) {
		t.Fatalf("register with a short secret = %v", err)
	}
}

func getRaw(t *testing.T, c *api.Client, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func TestNodeCannotSpeakForAnother(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	c := s.Client
	nodes := registerNodes(t, c, 2)
	a, b := nodes[0], nodes[1]
	asB := asNode(c, b.ID)
	// Node A goes down; only A may bring it back.
	down := testNode(1)
	down.Status = cluster.NodeStatusDown
	if _, err := asNode(c, a.ID).Nodes().Register(ctxT(t), down); err != nil {
		t.Fatal(err)
	}
	job := parseJob(t, webJob("web", 1, `constraint {
    attribute = "${node.unique.name}"
    value     = "node-2"
  }`))
	if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: job}); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, c, "web")
	allocs, _, err := c.Nodes().Allocations(ctxT(t), b.ID, nil)
	if err != nil || len(allocs) != 1 {
		t.Fatalf("allocs of B = %v, %v", allocs, err)
	}
	allocOfB := allocs[0]
	indexes := func() [2]uint64 {
		snap := s.State().Store().Snapshot()
		return [2]uint64{snap.Index(state.TableNodes), snap.Index(state.TableAllocs)}
	}
	before := indexes()

	// B's secret cannot heartbeat A, the operator token alone cannot
	// either, nor can A's ID prefix with A's own secret.
	_, err = asB.Nodes().Heartbeat(ctxT(t), a.ID)
	wantRefused(t, "B heartbeats A", err, "the node secret sent is not this node's")
	_, err = c.Nodes().Heartbeat(ctxT(t), a.ID)
	wantRefused(t, "heartbeat without a node secret", err, "needs the node's own node secret")
	if _, err := asNode(c, a.ID).Nodes().Heartbeat(ctxT(t), a.ID[:8]); !api.IsNotFound(err) {
		t.Fatalf("heartbeat by ID prefix = %v, want 404", err)
	}

	// B's allocation reported failed by A (with A's secret) or through
	// A's route with B's secret, or by prefix: refused, nothing changes.
	failed := &cluster.Allocation{ID: allocOfB.ID, ClientStatus: cluster.AllocClientFailed}
	_, err = asNode(c, a.ID).Nodes().UpdateAllocs(ctxT(t), a.ID, []*cluster.Allocation{failed})
	wantRefused(t, "A updates B's allocation", err, "may update only its own allocations")
	_, err = asB.Nodes().UpdateAllocs(ctxT(t), a.ID, []*cluster.Allocation{failed})
	wantRefused(t, "B updates through A's route", err, "the node secret sent is not this node's")
	_, err = c.Nodes().UpdateAllocs(ctxT(t), b.ID, []*cluster.Allocation{failed})
	wantRefused(t, "update without a node secret", err, "needs the node's own node secret")
	if _, err := asB.Nodes().UpdateAllocs(ctxT(t), b.ID[:8], []*cluster.Allocation{failed}); !api.IsNotFound(err) {
		t.Fatalf("update by ID prefix = %v, want 404", err)
	}

	// Re-registering A's ID, to point its http_addr elsewhere, without a
	// secret or with B's.
	evil := testNode(1)
	evil.HTTPAddr = "203.0.113.9:4646"
	_, err = c.Nodes().Register(ctxT(t), evil)
	wantRefused(t, "re-register A without a secret", err, "re-registering it needs its node secret")
	_, err = asB.Nodes().Register(ctxT(t), evil)
	wantRefused(t, "re-register A with B's secret", err, "re-registering it needs its node secret")

	if after := indexes(); after != before {
		t.Errorf("the nodes and allocations tables moved from indexes %v to %v", before, after)
	}
	snap := s.State().Store().Snapshot()
	if n := snap.Node(a.ID); n.Status != cluster.NodeStatusDown || n.HTTPAddr != "" {
		t.Errorf("node A = status %s, http_addr %q", n.Status, n.HTTPAddr)
	}
	if got := snap.Alloc(allocOfB.ID); got.ClientStatus != allocOfB.ClientStatus {
		t.Errorf("B's allocation is %s, was %s", got.ClientStatus, allocOfB.ClientStatus)
	}

	// Each node speaks for itself.
	if _, err := asNode(c, a.ID).Nodes().Heartbeat(ctxT(t), a.ID); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := c.Nodes().Info(ctxT(t), a.ID, nil); n.Status != cluster.NodeStatusReady {
		t.Fatalf("A after its own heartbeat: %s", n.Status)
	}
	running := &cluster.Allocation{ID: allocOfB.ID, ClientStatus: cluster.AllocClientRunning}
	if resp, err := asB.Nodes().UpdateAllocs(ctxT(t), b.ID, []*cluster.Allocation{running}); err != nil || resp.Updated != 1 {
		t.Fatalf("B updates its own allocation = %+v, %v", resp, err)
	}
}

// A node registered before nodes had secrets (its record has no hash)
// answers no secret until its agent registers again, which gives it one,
// as Nomad accepts a node without a SecretID once.
func TestNodeRegisteredBeforeSecretsGetsOne(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	c := s.Client
	old := testNode(1)
	if _, _, err := s.State().Apply(ctxT(t), state.MsgNodeRegister, &state.NodeRegisterRequest{Node: old, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	_, err := asNode(c, old.ID).Nodes().Heartbeat(ctxT(t), old.ID)
	wantRefused(t, "heartbeat of a node without a secret", err, "has no node secret yet")
	if _, err := asNode(c, old.ID).Nodes().Register(ctxT(t), testNode(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := asNode(c, old.ID).Nodes().Heartbeat(ctxT(t), old.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.Nodes().Register(ctxT(t), testNode(1))
	wantRefused(t, "a second claim", err, "needs its node secret")
}

// A follower forwards a node's calls to the leader with the node secret.
func TestNodeSecretThroughFollower(t *testing.T) {
	servers := servertest.Cluster(t, 3, noHeartbeats)
	var follower *servertest.Server
	for _, s := range servers {
		if !s.State().IsLeader() {
			follower = s
			break
		}
	}
	if follower == nil {
		t.Fatal("no follower")
	}
	nodes := registerNodes(t, follower.Client, 1)
	if _, err := asNode(follower.Client, nodes[0].ID).Nodes().Heartbeat(ctxT(t), nodes[0].ID); err != nil {
		t.Fatalf("heartbeat through a follower: %v", err)
	}
	_, err := asNode(follower.Client, "someone else").Nodes().Heartbeat(ctxT(t), nodes[0].ID)
	wantRefused(t, "wrong secret through a follower", err, "the node secret sent is not this node's")
}
