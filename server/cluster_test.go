package server_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

func followers(servers []*servertest.Server, leader *servertest.Server) []*servertest.Server {
	var out []*servertest.Server
	for _, s := range servers {
		if s != leader {
			out = append(out, s)
		}
	}
	return out
}

func TestThreeServersJoinForwardAndFailOver(t *testing.T) {
	// With a token: joining and forwarding must carry it.
	servers := servertest.Cluster(t, 3, func(c *server.Config) { c.Token = "cluster-token" })
	leader := servertest.Leader(servers)
	if leader == nil {
		t.Fatal("no leader")
	}
	fs := followers(servers, leader)

	// A write sent to a follower is forwarded to the leader and lands.
	registerNodes(t, fs[0].Client, 3)
	if _, err := fs[1].Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 3, ""))}); err != nil {
		t.Fatalf("register through a follower: %v", err)
	}
	waitEvals(t, fs[0].Client, "web")

	// Default reads through any server are consistent: forwarded to the
	// leader, they see the write at once.
	for _, s := range servers {
		allocs, meta, err := s.Client.Jobs().Allocations(ctxT(t), "web", nil)
		if err != nil || len(liveAllocs(allocs)) != 3 || !meta.KnownLeader {
			t.Fatalf("%s: allocs = %d, %v", s.Name(), len(allocs), err)
		}
	}
	// Stale reads are served locally and catch up.
	servertest.WaitFor(t, "followers to replicate", func() bool {
		for _, s := range fs {
			allocs, _, err := s.Client.Jobs().Allocations(ctxT(t), "web", &api.QueryOptions{Stale: true})
			if err != nil || len(allocs) != 3 {
				return false
			}
		}
		return true
	})
	// A forwarded request without the token is refused by the follower.
	if code, _ := rawRequest(t, "GET", "http://"+fs[0].HTTPAddr()+"/v1/jobs", "", nil); code != 401 {
		t.Fatalf("follower without token = %d", code)
	}
	ldr, err := fs[0].Client.Status().Leader(ctxT(t))
	if err != nil || ldr.ID != leader.ID() || ldr.HTTPAddr != leader.HTTPAddr() {
		t.Fatalf("status/leader from a follower = %+v, %v", ldr, err)
	}

	// Kill the leader: a new one is elected, the data is still there,
	// and writes continue.
	if err := leader.Stop(); err != nil {
		t.Fatal(err)
	}
	var next *servertest.Server
	servertest.WaitFor(t, "a new leader", func() bool {
		next = servertest.Leader(fs)
		return next != nil
	})
	for _, s := range fs {
		servertest.WaitFor(t, s.Name()+" to read through the new leader", func() bool {
			j, _, err := s.Client.Jobs().Info(ctxT(t), "web", nil)
			return err == nil && j.ID == "web"
		})
		allocs, _, err := s.Client.Jobs().Allocations(ctxT(t), "web", nil)
		if err != nil || len(liveAllocs(allocs)) != 3 {
			t.Fatalf("%s after failover: %d allocs, %v", s.Name(), len(allocs), err)
		}
	}
	other := followers(fs, next)[0]
	resp, err := other.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 4, ""))})
	if err != nil || resp.Version != 1 {
		t.Fatalf("write after failover = %+v, %v", resp, err)
	}
	servertest.WaitFor(t, "the scaled job to place on the new leader", func() bool {
		allocs, _, err := other.Client.Jobs().Allocations(ctxT(t), "web", nil)
		return err == nil && len(liveAllocs(allocs)) == 4
	})
}

func TestBootstrapExpectThree(t *testing.T) {
	// Each server needs the others' HTTP addresses before it starts, so
	// they are started on listeners of their own and joined by address.
	var cfgs []server.Config
	for i := range 3 {
		cfg := servertest.Config(t, fmt.Sprintf("b%d", i))
		cfg.BootstrapExpect = 3
		cfg.HTTPAddr = freeAddr(t)
		cfgs = append(cfgs, cfg)
	}
	for i := range cfgs {
		for j := range cfgs {
			if i != j {
				cfgs[i].Join = append(cfgs[i].Join, cfgs[j].HTTPAddr)
			}
		}
	}
	// The first creates the cluster CA; the others present its server
	// join token to obtain their certificates before Raft can reach them.
	var servers []*servertest.Server
	for i, cfg := range cfgs {
		if i > 0 {
			cfg.JoinTokenFile = servertest.JoinTokenFile(servers[0])
		}
		servers = append(servers, servertest.Start(t, cfg))
	}
	servertest.WaitForPeers(t, servers, 3)

	// Everyone agrees on the same three voters.
	var want []string
	for _, s := range servers {
		want = append(want, s.ID())
	}
	slices.Sort(want)
	for _, s := range servers {
		peers, err := s.Client.Status().Peers(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range peers {
			if !p.Voter {
				t.Errorf("%s is not a voter", p.ID)
			}
			got = append(got, p.ID)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("%s sees %v, want %v", s.Name(), got, want)
		}
	}
	// And it works: a write through any server.
	registerNodes(t, servers[2].Client, 1)
	nodes, _, err := servers[0].Client.Nodes().List(ctxT(t), nil)
	if err != nil || len(nodes) != 1 {
		t.Fatalf("nodes = %v, %v", nodes, err)
	}
}

func TestRestartedServerKeepsStateAndDoesNotBootstrapAgain(t *testing.T) {
	cfg := servertest.Config(t, "r0")
	cfg.BootstrapExpect = 1
	s := servertest.Start(t, cfg)
	servertest.WaitFor(t, "leader", func() bool { return servertest.Leader([]*servertest.Server{s}) != nil })
	registerNodes(t, s.Client, 2)
	if _, err := s.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 2, ""))}); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, s.Client, "web")
	id := s.ID()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}

	// Same data dir; ports may differ. bootstrap_expect is still set and
	// must be ignored.
	cfg.RaftAddr = s.RaftAddr()
	s2 := servertest.Start(t, cfg)
	servertest.WaitFor(t, "leader after restart", func() bool { return servertest.Leader([]*servertest.Server{s2}) != nil })
	if s2.ID() != id {
		t.Fatalf("server ID changed across restart: %s -> %s", id, s2.ID())
	}
	allocs, _, err := s2.Client.Jobs().Allocations(ctxT(t), "web", nil)
	if err != nil || len(liveAllocs(allocs)) != 2 {
		t.Fatalf("allocs after restart = %d, %v", len(allocs), err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	servers, err := s2.State().Servers(ctx)
	if err != nil || len(servers) != 1 {
		t.Fatalf("raft servers = %v, %v", servers, err)
	}
}
