// Package servertest starts real Drover servers in-process for tests: Raft
// on loopback TCP with data in t.TempDir(), the HTTP API on a free
// 127.0.0.1 port, and an api.Client for each. Test code only; no server
// imports it.
package servertest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/state/statetest"
)

// Timeout bounds every wait of this package: elections, evaluations.
// Generous, since other tests share the machine.
const Timeout = 60 * time.Second

// Config returns a server configuration for tests: fast Raft timings,
// free loopback ports, a short heartbeat TTL and retry interval.
func Config(t testing.TB, name string) server.Config {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Name = name
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.RaftAddr = "127.0.0.1:0"
	cfg.HeartbeatTTL = 2 * time.Second
	cfg.HeartbeatGrace = time.Second
	cfg.FailoverHeartbeatGrace = 2 * time.Second
	cfg.RetryInterval = 100 * time.Millisecond
	rc := statetest.Config("", "")
	cfg.Raft = rc
	return cfg
}

// Server is one running server.
type Server struct {
	*server.Server
	Config server.Config
	Client *api.Client

	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// Start starts a server from cfg; it stops when the test ends.
func Start(t testing.TB, cfg server.Config) *Server {
	t.Helper()
	s, err := server.New(cfg, statetest.Logger(t).With("test_server", cfg.Name))
	if err != nil {
		t.Fatalf("servertest: start %s: %v", cfg.Name, err)
	}
	c, err := api.NewClient(api.Config{Address: s.HTTPAddr(), Token: cfg.Token})
	if err != nil {
		t.Fatalf("servertest: client: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &Server{Server: s, Config: cfg, Client: c, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		if err := ts.Stop(); err != nil {
			t.Errorf("servertest: stop %s: %v", cfg.Name, err)
		}
	})
	return ts
}

// Stop stops the server and waits for it; calling it again is a no-op.
func (s *Server) Stop() error {
	var err error
	s.once.Do(func() {
		s.cancel()
		select {
		case err = <-s.done:
		case <-time.After(Timeout):
			err = errors.New("did not stop in time")
		}
	})
	return err
}

// Single starts one server that bootstraps alone and waits until it
// leads. Options adjust the configuration.
func Single(t testing.TB, opts ...func(*server.Config)) *Server {
	t.Helper()
	cfg := Config(t, "s0")
	cfg.BootstrapExpect = 1
	for _, o := range opts {
		o(&cfg)
	}
	s := Start(t, cfg)
	WaitFor(t, "the server to lead", func() bool { return isReadyLeader(t, s) })
	return s
}

// Cluster starts n servers: the first bootstraps alone and creates the
// cluster CA, the others obtain certificates with its server join token
// and join it (POST /v1/operator/tls/join, then /v1/operator/raft/join). It returns once every server knows
// all n and a leader serves.
func Cluster(t testing.TB, n int, opts ...func(*server.Config)) []*Server {
	t.Helper()
	first := Single(t, opts...)
	out := []*Server{first}
	for i := 1; i < n; i++ {
		cfg := Config(t, fmt.Sprintf("s%d", i))
		for _, o := range opts {
			o(&cfg)
		}
		cfg.BootstrapExpect = 0
		cfg.Join = []string{first.HTTPAddr()}
		cfg.JoinTokenFile = JoinTokenFile(first)
		out = append(out, Start(t, cfg))
	}
	WaitForPeers(t, out, n)
	return out
}

// JoinTokenFile is where the server that created the cluster CA wrote
// the server join token.
func JoinTokenFile(s *Server) string {
	return filepath.Join(s.DataDir(), "server.join-token")
}

// WaitForPeers waits until every live server in servers knows want peers
// with their HTTP addresses, and one of them leads.
func WaitForPeers(t testing.TB, servers []*Server, want int) {
	t.Helper()
	WaitFor(t, fmt.Sprintf("%d servers with HTTP addresses and a leader", want), func() bool {
		for _, s := range servers {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			peers, err := s.Client.Status().Peers(ctx)
			cancel()
			if err != nil || len(peers) != want {
				return false
			}
			leaders := 0
			for _, p := range peers {
				if p.HTTPAddr == "" {
					return false
				}
				if p.Leader {
					leaders++
				}
			}
			if leaders != 1 {
				return false
			}
		}
		return Leader(servers) != nil
	})
}

// Leader returns the server that leads and serves, or nil.
func Leader(servers []*Server) *Server {
	for _, s := range servers {
		if s.State().IsLeader() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _, err := s.Client.Jobs().List(ctx, nil)
			cancel()
			if err == nil {
				return s
			}
		}
	}
	return nil
}

func isReadyLeader(t testing.TB, s *Server) bool {
	return Leader([]*Server{s}) != nil
}

// WaitFor polls cond every 50ms until it holds, failing the test after
// Timeout.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("servertest: timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
