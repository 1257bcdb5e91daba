// Package statetest runs real Raft clusters of state.Replicated servers
// in-process, on loopback TCP and temporary data directories, for tests of
// the state store and of everything built on it. It is the statetest
// helper STYLE.md asks for: test code only, never imported by a server.
package statetest

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/state"
)

// Timeout bounds every wait of this package: elections, replication.
const Timeout = 15 * time.Second

// Config returns a configuration for a test server: fast Raft timings on a
// free loopback port. The timings stay well above what -race on a loaded
// two-core machine needs, or elections would flap.
func Config(dataDir, id string) state.Config {
	c := state.DefaultConfig()
	c.DataDir = dataDir
	c.NodeID = id
	c.BindAddr = "127.0.0.1:0"
	c.HeartbeatTimeout = 500 * time.Millisecond
	c.ElectionTimeout = 500 * time.Millisecond
	c.LeaderLeaseTimeout = 500 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.TransportTimeout = 2 * time.Second
	c.TLS = TLS
	return c
}

// testIdentity is one server identity of one test CA, shared by every
// test server of the process: they are all one cluster as far as TLS
// goes, and a CA costs a key generation.
var testIdentity = sync.OnceValues(func() (*pki.ServerIdentity, error) {
	now := time.Now()
	ca, err := pki.NewCA(pki.DefaultRegion, now)
	if err != nil {
		return nil, err
	}
	key, err := pki.NewKey()
	if err != nil {
		return nil, err
	}
	csr, err := pki.NewServerCSR(key, pki.DefaultRegion)
	if err != nil {
		return nil, err
	}
	certPEM, err := ca.SignServer(csr, pki.DefaultRegion, now, pki.DefaultCertLifetime)
	if err != nil {
		return nil, err
	}
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		return nil, err
	}
	return pki.LoadServerIdentity(pki.DefaultRegion, ca.CertPEM(), certPEM, keyPEM, now)
})

// TLS is the state.TLSSource of test servers: a server certificate of
// the process's test CA.
func TLS() (*tls.Config, error) {
	id, err := testIdentity()
	if err != nil {
		return nil, err
	}
	return id.TLSConfig(), nil
}

// Logger returns a logger that writes warnings and errors to the test's
// log while the test runs, and drops them once it ended (Raft's
// goroutines may log while they stop).
func Logger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// OpenFunc starts one server; state.Open is what clusters use unless
// told otherwise.
type OpenFunc func(state.Config, *slog.Logger) (*state.Replicated, error)

// Cluster is n state servers forming one Raft cluster.
type Cluster struct {
	t      testing.TB
	logger *slog.Logger
	openFn OpenFunc

	mu    sync.Mutex
	cfgs  []state.Config
	nodes []*state.Replicated // nil while killed
}

// NewCluster starts n servers, bootstraps the first, adds the others as
// voters, and waits until every server knows the whole configuration. All
// are shut down when the test ends.
func NewCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	return NewClusterWith(t, n, state.Open)
}

// NewClusterWith is NewCluster with servers started (and restarted) by
// open. The state package's benchmark passes the plaintext opener only its
// own tests can reach, to compare Raft over TLS with plain TCP.
func NewClusterWith(t testing.TB, n int, open OpenFunc) *Cluster {
	t.Helper()
	c := &Cluster{t: t, logger: Logger(t), openFn: open}
	t.Cleanup(c.Shutdown)
	for i := 0; i < n; i++ {
		cfg := Config(t.TempDir(), fmt.Sprintf("server-%d", i))
		cfg.Bootstrap = i == 0
		c.cfgs = append(c.cfgs, cfg)
		c.nodes = append(c.nodes, nil)
		c.open(i)
		if i == 0 {
			c.WaitForLeader()
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	defer cancel()
	leader := c.nodes[0]
	for i := 1; i < n; i++ {
		if err := leader.AddVoter(ctx, c.cfgs[i].NodeID, c.nodes[i].Addr()); err != nil {
			t.Fatalf("statetest: add voter %d: %v", i, err)
		}
	}
	c.waitFor("every server to know every server", func() bool {
		for _, r := range c.Live() {
			servers, err := r.Servers(ctx)
			if err != nil || len(servers) != n {
				return false
			}
		}
		return true
	})
	c.WaitForLeader()
	return c
}

// open starts server i from its configuration; after the first start its
// address is pinned so that the others find it again on restart.
func (c *Cluster) open(i int) {
	c.t.Helper()
	r, err := c.openFn(c.cfgs[i], c.logger.With("server", i))
	if err != nil {
		c.t.Fatalf("statetest: open server %d: %v", i, err)
	}
	c.mu.Lock()
	c.nodes[i] = r
	c.cfgs[i].BindAddr = r.Addr()
	c.mu.Unlock()
}

// Node returns server i, nil while it is killed.
func (c *Cluster) Node(i int) *state.Replicated {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// Size returns the number of servers, killed ones included.
func (c *Cluster) Size() int { return len(c.cfgs) }

// Live returns the servers that are running.
func (c *Cluster) Live() []*state.Replicated {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*state.Replicated
	for _, r := range c.nodes {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// Leader returns the running server that is leader, or nil.
func (c *Cluster) Leader() *state.Replicated {
	_, r := c.leader()
	return r
}

// LeaderIndex returns the position of the leader, or -1.
func (c *Cluster) LeaderIndex() int {
	i, _ := c.leader()
	return i
}

func (c *Cluster) leader() (int, *state.Replicated) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, r := range c.nodes {
		if r != nil && r.IsLeader() {
			return i, r
		}
	}
	return -1, nil
}

// Followers returns the running servers that are not leader.
func (c *Cluster) Followers() []*state.Replicated {
	var out []*state.Replicated
	for _, r := range c.Live() {
		if !r.IsLeader() {
			out = append(out, r)
		}
	}
	return out
}

// WaitForLeader waits until exactly one running server leads and every
// running server knows it, then returns it.
func (c *Cluster) WaitForLeader() *state.Replicated {
	c.t.Helper()
	var leader *state.Replicated
	c.waitFor("a leader", func() bool {
		leader = nil
		live := c.Live()
		for _, r := range live {
			if r.IsLeader() {
				if leader != nil {
					return false
				}
				leader = r
			}
		}
		if leader == nil {
			return false
		}
		for _, r := range live {
			if addr, _ := r.Leader(); addr != leader.Addr() {
				return false
			}
		}
		return true
	})
	return leader
}

// WaitForApplied waits until every running server applied index.
func (c *Cluster) WaitForApplied(index uint64) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("every server to apply index %d", index), func() bool {
		for _, r := range c.Live() {
			if r.AppliedIndex() < index {
				return false
			}
		}
		return true
	})
}

// Kill stops server i. In-process this is a Shutdown; the state package's
// crash test covers a real SIGKILL.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	c.mu.Lock()
	r := c.nodes[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	if r == nil {
		return
	}
	if err := r.Shutdown(); err != nil {
		c.t.Errorf("statetest: shut down server %d: %v", i, err)
	}
}

// Restart starts killed server i again on its data directory and
// address.
func (c *Cluster) Restart(i int) *state.Replicated {
	c.t.Helper()
	if c.Node(i) != nil {
		c.t.Fatalf("statetest: server %d is running", i)
	}
	c.open(i)
	return c.Node(i)
}

// Shutdown stops every running server. It runs at the end of the test.
func (c *Cluster) Shutdown() {
	for i := range c.cfgs {
		c.Kill(i)
	}
}

func (c *Cluster) waitFor(what string, ok func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(Timeout)
	// Polling is fine here: this is test scaffolding watching several
	// servers' raft states, which offer no single channel to wait on.
	for !ok() {
		if time.Now().After(deadline) {
			c.t.Fatalf("statetest: timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
