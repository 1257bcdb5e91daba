package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/jobspec"
)

// Issue 14 point 5 end to end, on the real binary: a snapshot of cluster
// A (one server, with jobs from a Git source and by hand, allocations,
// an ACL policy and token) restored onto a fresh three-server cluster B
// makes `drover job status`, `drover history` and `drover sync status`
// say the same on B as on A; then list-peers and remove-peer on B.

// snapshotServerConfig is A's and B's configuration: nodes registered
// by the test never heartbeat, so a long TTL keeps them ready.
const snapshotServerConfig = `heartbeat_ttl = "10m"
`

func TestE2ESnapshotRestoreOntoFreshCluster(t *testing.T) {
	gittest.RequireGit(t)
	repo := gittest.New(t)
	head := repo.Commit("Add web", map[string]string{"web.nomad.hcl": gittest.Job("web", 2)})
	dir := t.TempDir()
	confA := filepath.Join(dir, "a.hcl")
	// One pass at start; a long poll keeps A's sync status still while
	// the test compares.
	writeFile(t, confA, snapshotServerConfig+fmt.Sprintf(`source "apps" {
  url           = %q
  branch        = "main"
  poll_interval = "1h"
}
`, repo.Dir))
	confB := filepath.Join(dir, "b.hcl")
	writeFile(t, confB, snapshotServerConfig)

	// Cluster A.
	a := startServer(t, "-config", confA)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	registerIdleNodes(ctx, t, a.client, 2)
	f, diags := jobspec.Parse("api.hcl", []byte(gittest.Job("api", 1)), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if _, err := a.client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: f.Job}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "A to apply the commit and place every allocation", func() bool {
		st, _, err := a.client.Sync().Info(ctx, "apps", nil)
		if err != nil || st.LastApplied != head {
			return false
		}
		allocs, _, err := a.client.Allocations().List(ctx, nil)
		return err == nil && len(allocs) == 3
	})
	if err := a.client.ACL().ApplyPolicy(ctx, &api.ACLPolicy{Name: "readonly", Rules: `namespace "default" { policy = "read" }`}); err != nil {
		t.Fatal(err)
	}
	readTok, err := a.client.ACL().CreateToken(ctx, &api.ACLTokenCreateRequest{Name: "dashboards", Policies: []string{"readonly"}})
	if err != nil {
		t.Fatal(err)
	}

	// Save, check offline, and what A says.
	file := filepath.Join(dir, "backup.snap")
	r := a.cli(t, dir, "operator", "snapshot", "save", file)
	if r.code != 0 || !strings.Contains(r.stdout, "Saved snapshot "+file) || !strings.Contains(r.stdout, "2 jobs") {
		t.Fatalf("snapshot save:\n%s", r)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved file: %v %v", fi, err)
	}
	r = a.cli(t, dir, "operator", "snapshot", "inspect", "-json", file)
	var info struct {
		Meta   struct{ Index uint64 } `json:"meta"`
		Tables map[string]int         `json:"tables"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &info) != nil || info.Tables["jobs"] != 2 || info.Tables["allocs"] != 3 ||
		info.Tables["sync_status"] != 1 || info.Tables["acl_tokens"] < 2 || info.Meta.Index == 0 {
		t.Fatalf("snapshot inspect -json:\n%s", r)
	}
	views := func(env []string) map[string]result {
		out := map[string]result{}
		for _, args := range [][]string{
			{"job", "status", "-json"}, {"job", "status", "-json", "web"}, {"job", "status", "-json", "api"},
			{"history", "-json", "web"}, {"sync", "status", "-json"},
		} {
			out[strings.Join(args, " ")] = runDrover(t, dir, env, args...)
		}
		return out
	}
	onA := views(a.env)

	// A damaged copy is refused by inspect, offline, naming the damage.
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(dir, "damaged.snap")
	if err := os.WriteFile(damaged, data[:len(data)-100], 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runDrover(t, dir, hermeticEnv(), "operator", "snapshot", "inspect", damaged); r.code != 1 || !strings.Contains(r.stderr, "truncated") {
		t.Fatalf("inspect of a truncated file:\n%s", r)
	}

	// Cluster B: three fresh servers, formed with join tokens.
	b := startThreeServers(t, confB)
	bEnv := slices.Clip(append(hermeticEnv(), "DROVER_ADDR="+b[1].addr, "DROVER_TOKEN="+b[0].token))
	if r := runDrover(t, dir, bEnv, "operator", "snapshot", "restore", damaged); r.code != 1 || !strings.Contains(r.stderr, "nothing was restored") {
		t.Fatalf("restore of a truncated file:\n%s", r)
	}
	// Through a follower of B, with B's management token.
	r = runDrover(t, dir, bEnv, "operator", "snapshot", "restore", file)
	t.Logf("$ drover operator snapshot restore %s (on B)\n%s", file, r)
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("index %d of server", info.Meta.Index)) || !strings.Contains(r.stdout, "management.token") {
		t.Fatalf("snapshot restore:\n%s", r)
	}

	// Every server of B has A's state.
	for _, s := range b {
		c, err := api.NewClient(api.Config{Address: s.addr, Token: a.token})
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, s.name+" to have A's jobs", func() bool {
			jobs, _, err := c.Jobs().List(ctx, &api.QueryOptions{Stale: true})
			return err == nil && len(jobs) == 2
		})
	}
	// What the CLI says on B, with A's tokens, is what it said on A.
	onB := views(slices.Clip(append(hermeticEnv(), "DROVER_ADDR="+b[2].addr, "DROVER_TOKEN="+a.token)))
	for cmd, ra := range onA {
		rb := onB[cmd]
		if ra.code != rb.code || ra.stdout != rb.stdout || ra.stdout == "" {
			t.Errorf("drover %s differs between A and B:\nA: %s\nB: %s", cmd, ra, rb)
		}
	}
	// A's read token works on B; B's management token no longer does.
	if r := runDrover(t, dir, slices.Clip(append(hermeticEnv(), "DROVER_ADDR="+b[0].addr, "DROVER_TOKEN="+readTok.SecretID)), "job", "status"); r.code != 0 {
		t.Fatalf("A's read token on B:\n%s", r)
	}
	if r := runDrover(t, dir, bEnv, "job", "status"); r.code != 1 || !strings.Contains(r.stderr, "ACL token not found") {
		t.Fatalf("B's old management token:\n%s", r)
	}

	// list-peers and remove-peer on B, with A's management token.
	opEnv := slices.Clip(append(hermeticEnv(), "DROVER_ADDR="+b[0].addr, "DROVER_TOKEN="+a.token))
	r = runDrover(t, dir, opEnv, "operator", "raft", "list-peers")
	t.Logf("$ drover operator raft list-peers\n%s", r)
	if r.code != 0 || !strings.Contains(r.stdout, "Quorum: 3 of 3 voters healthy; every write needs 2") || !strings.Contains(r.stdout, "1 more can fail") {
		t.Fatalf("list-peers:\n%s", r)
	}
	gone := b[2]
	gone.stop(syscall.SIGTERM)
	waitUntil(t, "the leader to notice the stopped server", func() bool {
		r := runDrover(t, dir, opEnv, "operator", "raft", "list-peers", "-json")
		var conf api.RaftConfiguration
		return r.code == 0 && json.Unmarshal([]byte(r.stdout), &conf) == nil && conf.Quorum.Healthy == 2
	})
	r = runDrover(t, dir, opEnv, "operator", "raft", "remove-peer", "-peer-address", gone.raftAddr)
	t.Logf("$ drover operator raft remove-peer -peer-address %s\n%s", gone.raftAddr, r)
	if r.code != 0 || !strings.Contains(r.stdout, "Removed server") ||
		!strings.Contains(r.stdout, "Before: Quorum: 2 of 3 voters healthy") || !strings.Contains(r.stdout, "After:  Quorum: 2 of 2 voters healthy") {
		t.Fatalf("remove-peer:\n%s", r)
	}
	r = runDrover(t, dir, opEnv, "operator", "raft", "list-peers", "-json")
	var conf api.RaftConfiguration
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &conf) != nil || len(conf.Servers) != 2 {
		t.Fatalf("list-peers after remove-peer:\n%s", r)
	}
}

// registerIdleNodes registers n ready nodes that never heartbeat (the
// servers' TTL is long) and run nothing: allocations stay pending.
func registerIdleNodes(ctx context.Context, t *testing.T, c *api.Client, n int) {
	t.Helper()
	for i := range n {
		node := &cluster.Node{
			ID:         fmt.Sprintf("%x%07x-0000-4000-8000-%012x", 0xa+i, i, i),
			Name:       fmt.Sprintf("node-%d", i+1),
			Datacenter: "dc1",
			Attributes: map[string]string{"kernel.name": "linux"},
			Drivers:    map[string]cluster.DriverInfo{"exec": {Detected: true, Healthy: true}},
			Resources:  cluster.NodeResources{CPU: 4000, MemoryMB: 8192, DiskMB: 100000},
			Status:     cluster.NodeStatusReady,
		}
		if _, err := c.Nodes().Register(ctx, node); err != nil {
			t.Fatalf("register %s: %v", node.Name, err)
		}
	}
}

// clusterServer is one server process of a multi-server test cluster.
type clusterServer struct {
	*proc
	addr, raftAddr, token string
}

// startThreeServers starts a fresh cluster of three servers: the first
// bootstraps and creates the CA, the others join it with its server join
// token. It returns once all three are peers with a leader.
func startThreeServers(t *testing.T, conf string) []*clusterServer {
	t.Helper()
	first := startServer(t, "-config", conf, "-node-name", "b1")
	out := []*clusterServer{{proc: first.proc, addr: first.addr, raftAddr: "", token: first.token}}
	for i := 2; i <= 3; i++ {
		dataDir, httpAddr, raftAddr := t.TempDir(), freeAddr(t), freeAddr(t)
		p := startProc(t, fmt.Sprintf("drover server b%d", i), hermeticEnv(), "server", "-config", conf,
			"-data-dir", dataDir, "-http-addr", httpAddr, "-raft-addr", raftAddr, "-node-name", fmt.Sprintf("b%d", i),
			"-join", first.httpAddr, "-join-token-file", filepath.Join(first.dataDir, "server.join-token"))
		out = append(out, &clusterServer{proc: p, addr: "http://" + httpAddr, raftAddr: raftAddr, token: first.token})
	}
	waitUntil(t, "three servers with a leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		peers, err := first.client.Status().Peers(ctx)
		if err != nil || len(peers) != 3 {
			return false
		}
		for _, p := range peers {
			if p.HTTPAddr == "" {
				return false
			}
		}
		// Every server must know the same leader: a follower that still
		// names an old one forwards writes where they are refused.
		leader := ""
		for _, s := range out {
			c, err := api.NewClient(api.Config{Address: s.addr, Token: s.token})
			if err != nil {
				return false
			}
			l, err := c.Status().Leader(ctx)
			if err != nil || l.ID == "" || leader != "" && l.ID != leader {
				return false
			}
			leader = l.ID
		}
		return true
	})
	return out
}

// TestE2EServerRecover: a single server whose raft.db and raft's own
// snapshots are gone refuses to start and names -recover; with -recover
// it starts from its newest automatic snapshot, says so, and its jobs
// are back.
func TestE2EServerRecover(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "server.hcl")
	writeFile(t, conf, snapshotServerConfig+`snapshot {
  interval = "1s"
  retain   = 3
}
`)
	dataDir, httpAddr, raftAddr := filepath.Join(dir, "data"), freeAddr(t), freeAddr(t)
	s := startServerAt(t, dataDir, httpAddr, raftAddr, "-config", conf)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, diags := jobspec.Parse("web.hcl", []byte(gittest.Job("web", 1)), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if _, err := s.client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: f.Job}); err != nil {
		t.Fatal(err)
	}
	registered := time.Now()
	// An automatic snapshot taken after the job was registered.
	waitUntil(t, "an automatic snapshot with the job", func() bool {
		files, _ := filepath.Glob(filepath.Join(dataDir, "snapshots", "drover-*.snap"))
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil && fi.ModTime().After(registered.Add(time.Second)) {
				return true
			}
		}
		return false
	})
	s.proc.stop(syscall.SIGTERM)
	for _, p := range []string{"raft/raft.db", "raft/snapshots"} {
		if err := os.RemoveAll(filepath.Join(dataDir, p)); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"server", "-bootstrap-expect", "1", "-data-dir", dataDir, "-http-addr", httpAddr, "-raft-addr", raftAddr,
		"-node-name", "e2e", "-config", conf}
	r := runDrover(t, dir, hermeticEnv(), args...)
	if r.code != 1 || !strings.Contains(r.stderr, "-recover") || !strings.Contains(r.stderr, "drover operator snapshot restore") {
		t.Fatalf("start without -recover:\n%s", r)
	}
	s2 := startServerAt(t, dataDir, httpAddr, raftAddr, "-config", conf, "-recover")
	if out := s2.out.String(); !strings.Contains(out, "==> restored from snapshot "+filepath.Join(dataDir, "snapshots", "drover-")) {
		t.Fatalf("no start-up line naming the snapshot:\n%s", out)
	}
	if r := s2.cli(t, dir, "job", "status", "web"); r.code != 0 {
		t.Fatalf("the job is not back:\n%s", r)
	}
	// -recover on an intact data dir is a no-op.
	s2.proc.stop(syscall.SIGTERM)
	s3 := startServerAt(t, dataDir, httpAddr, raftAddr, "-config", conf, "-recover")
	if out := s3.out.String(); strings.Contains(out, "==> restored from snapshot") || !strings.Contains(out, "nothing to recover") {
		t.Fatalf("-recover on an intact data dir:\n%s", out)
	}
	if r := s3.cli(t, dir, "job", "status", "web"); r.code != 0 {
		t.Fatalf("the job is gone after a no-op -recover:\n%s", r)
	}
}
