package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

func raftConf(t *testing.T, c *api.Client) *api.RaftConfiguration {
	t.Helper()
	conf, err := c.Operator().RaftConfiguration(ctxT(t), nil)
	if err != nil {
		t.Fatalf("raft configuration: %v", err)
	}
	return conf
}

// TestRaftListAndRemovePeer: list-peers shows the leader's view and the
// quorum math; a stopped server turns unhealthy; remove-peer refuses the
// leader and a removal that would leave no quorum of healthy servers,
// and removes the dead one with its member record. A token with
// operator:read lists but does not remove.
func TestRaftListAndRemovePeer(t *testing.T) {
	servers := servertest.Cluster(t, 3, withACL, func(c *server.Config) { c.Autopilot.CleanupDeadServers = false })
	leader := servertest.Leader(servers)
	fs := followers(servers, leader)
	conf := raftConf(t, fs[0].Client)
	if len(conf.Servers) != 3 || conf.Quorum != (api.QuorumMath{Voters: 3, Healthy: 3, Quorum: 2, FailureTolerance: 1}) {
		t.Fatalf("configuration = %+v", conf)
	}
	for _, s := range conf.Servers {
		if !s.Healthy || !s.Voter || s.HTTPAddr == "" || s.Leader != (s.ID == leader.ID()) || s.Leader && s.Name == "" {
			t.Fatalf("server %+v", s)
		}
	}
	readTok := mustToken(t, leader.Client, "op-read", `operator { policy = "read" }`)
	ro := clientFor(t, leader, readTok)
	if _, err := ro.Operator().RaftConfiguration(ctxT(t), nil); err != nil {
		t.Fatalf("list peers with operator:read: %v", err)
	}
	if _, err := ro.Operator().RaftRemovePeer(ctxT(t), fs[1].ID(), ""); statusCode(err) != http.StatusForbidden {
		t.Fatalf("remove peer with operator:read: %v, want 403", err)
	}
	nobody := clientFor(t, leader, mustToken(t, leader.Client, "jobs-only", `namespace "default" { policy = "write" }`))
	if _, err := nobody.Operator().RaftConfiguration(ctxT(t), nil); statusCode(err) != http.StatusForbidden {
		t.Fatalf("list peers without operator rights: %v, want 403", err)
	}
	if _, err := leader.Client.Operator().RaftRemovePeer(ctxT(t), leader.ID(), ""); statusCode(err) != http.StatusBadRequest {
		t.Fatalf("remove the leader: %v, want 400", err)
	}
	if _, err := leader.Client.Operator().RaftRemovePeer(ctxT(t), "no-such-server", ""); statusCode(err) != http.StatusNotFound {
		t.Fatalf("remove an unknown server: %v, want 404", err)
	}

	dead, alive := fs[0], fs[1]
	if err := dead.Stop(); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, "the stopped server to turn unhealthy", func() bool {
		c := raftConf(t, leader.Client)
		return c.Quorum == api.QuorumMath{Voters: 3, Healthy: 2, Quorum: 2, FailureTolerance: 0}
	})
	if _, err := leader.Client.Operator().RaftRemovePeer(ctxT(t), alive.ID(), ""); statusCode(err) != http.StatusConflict ||
		!strings.Contains(err.Error(), "would not make the quorum") {
		t.Fatalf("remove the last healthy follower: %v, want 409 with the math", err)
	}
	resp, err := leader.Client.Operator().RaftRemovePeer(ctxT(t), "", dead.RaftAddr())
	if err != nil {
		t.Fatalf("remove the dead server by address: %v", err)
	}
	if resp.ID != dead.ID() || resp.WasHealthy || resp.After != (api.QuorumMath{Voters: 2, Healthy: 2, Quorum: 2, FailureTolerance: 0}) {
		t.Fatalf("remove response = %+v", resp)
	}
	conf = raftConf(t, alive.Client)
	if len(conf.Servers) != 2 || leader.State().Store().Snapshot().Member(dead.ID()) != nil {
		t.Fatalf("after removal: %+v", conf)
	}
	// The cluster of two still writes.
	if _, err := alive.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 1, ""))}); err != nil {
		t.Fatal(err)
	}
}

// TestAutopilotRemovesDeadServerAndItRejoins: with a short grace, the
// leader removes a stopped server by itself (3 voters -> 2); started
// again on its data dir, the server notices it has no leader and asks to
// be added back (3 again).
func TestAutopilotRemovesDeadServerAndItRejoins(t *testing.T) {
	grace := func(c *server.Config) { c.Autopilot.DeadServerGrace = 2 * time.Second }
	servers := servertest.Cluster(t, 3, grace)
	leader := servertest.Leader(servers)
	dead := followers(servers, leader)[0]
	if err := dead.Stop(); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, "autopilot to remove the dead server", func() bool {
		c := raftConf(t, leader.Client)
		return len(c.Servers) == 2 && leader.State().Store().Snapshot().Member(dead.ID()) == nil
	})
	if q := raftConf(t, leader.Client).Quorum; q != (api.QuorumMath{Voters: 2, Healthy: 2, Quorum: 2}) {
		t.Fatalf("quorum after the cleanup: %+v", q)
	}

	back := servertest.Start(t, dead.Config)
	servertest.WaitFor(t, "the removed server to rejoin", func() bool {
		c := raftConf(t, leader.Client)
		return len(c.Servers) == 3 && c.Quorum.Healthy == 3
	})
	if back.ID() != dead.ID() {
		t.Fatalf("came back as %s, was %s", back.ID(), dead.ID())
	}
}
