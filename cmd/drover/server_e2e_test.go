package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// e2eTimeout bounds each wait; generous, since other tests share the
// machine.
const e2eTimeout = 90 * time.Second

// serverProc is a running `drover server` process.
type serverProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startServerProc(t *testing.T, args ...string) *serverProc {
	t.Helper()
	cmd := exec.Command(droverBin, append([]string{"server"}, args...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "DROVER_TOKEN=")
	p := &serverProc{cmd: cmd, out: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start drover server: %v", err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("drover server output:\n%s", p.out.String())
		}
	})
	return p
}

// kill9 kills the process the way a power cut would: no shutdown at all.
func (p *serverProc) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(e2eTimeout):
		t.Fatal("server did not die after SIGKILL")
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitLeader polls until the server answers consistent reads.
func waitLeader(t *testing.T, c *api.Client) {
	t.Helper()
	deadline := time.Now().Add(e2eTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err := c.Jobs().List(ctx, nil)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not become a serving leader: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const e2eJob = `
job "web" {
  datacenters = ["dc1"]
  group "web" {
    count = %d
    task "server" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`

// clusterState is what must survive a crash.
type clusterState struct {
	versions []string
	nodes    []string
	allocs   []string
}

func readClusterState(t *testing.T, c *api.Client) clusterState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	var st clusterState
	jobs, _, err := c.Jobs().List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		vs, _, err := c.Jobs().Versions(ctx, j.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			st.versions = append(st.versions, fmt.Sprintf("%s v%d %s jmi=%d groups[0].count=%d", v.ID, v.Version, v.Hash, v.JobModifyIndex, v.Spec.Groups[0].Count))
		}
	}
	nodes, _, err := c.Nodes().List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		st.nodes = append(st.nodes, fmt.Sprintf("%s %s %s mi=%d", n.ID, n.Name, n.Status, n.ModifyIndex))
	}
	allocs, _, err := c.Allocations().List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range allocs {
		st.allocs = append(st.allocs, fmt.Sprintf("%s %s v%d %s %s mi=%d", a.ID, a.NodeID, a.JobVersion, a.DesiredStatus, a.ClientStatus, a.ModifyIndex))
	}
	slices.Sort(st.allocs)
	return st
}

func TestServerSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	httpAddr, raftAddr := freePort(t), freePort(t)
	// Heartbeats are not sent in this test: a long TTL keeps the nodes
	// ready across the restart. The config file is read, flags win.
	conf := filepath.Join(dir, "server.hcl")
	writeFile(t, conf, `heartbeat_ttl = "10m"
http_addr = "127.0.0.1:1"
`)
	args := []string{"-config", conf, "-bootstrap-expect", "1", "-data-dir", filepath.Join(dir, "data"),
		"-http-addr", httpAddr, "-raft-addr", raftAddr, "-node-name", "e2e"}
	p := startServerProc(t, args...)
	c, err := api.NewClient(api.Config{Address: httpAddr})
	if err != nil {
		t.Fatal(err)
	}
	waitLeader(t, c)
	if out := p.out.String(); !strings.Contains(out, "==> Drover server started: HTTP on http://"+httpAddr+", Raft on "+raftAddr) {
		t.Fatalf("no start banner in:\n%s", out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	for i := 1; i <= 2; i++ {
		node := &cluster.Node{
			ID: fmt.Sprintf("node-%d", i), Name: fmt.Sprintf("node-%d", i), Datacenter: "dc1",
			Attributes: map[string]string{"kernel.name": "linux"},
			Drivers:    map[string]cluster.DriverInfo{"exec": {Detected: true, Healthy: true}},
			Resources:  cluster.NodeResources{CPU: 2000, MemoryMB: 2048},
		}
		resp, err := c.Nodes().Register(ctx, node)
		if err != nil || resp.HeartbeatTTL != 10*time.Minute {
			t.Fatalf("register node: %+v, %v", resp, err)
		}
	}
	for _, count := range []int{2, 3} {
		f, diags := jobspec.Parse("web.hcl", fmt.Appendf(nil, e2eJob, count), nil)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if _, err := c.Jobs().Register(ctx, &api.JobRegisterRequest{Job: f.Job}); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the scheduler placed the second version.
	var index uint64
	for {
		allocs, meta, err := c.Jobs().Allocations(ctx, "web", &api.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		live := 0
		for _, a := range allocs {
			if !a.Terminal() && a.JobVersion == 1 {
				live++
			}
		}
		if live == 3 {
			break
		}
		index = meta.LastIndex
	}
	before := readClusterState(t, c)
	if len(before.versions) != 2 || len(before.nodes) != 2 || len(before.allocs) < 3 {
		t.Fatalf("state before the crash: %+v", before)
	}

	p.kill9(t)
	p2 := startServerProc(t, args...)
	waitLeader(t, c)
	after := readClusterState(t, c)
	for _, cmp := range []struct {
		what          string
		before, after []string
	}{{"job versions", before.versions, after.versions}, {"nodes", before.nodes, after.nodes}, {"allocations", before.allocs, after.allocs}} {
		if !slices.Equal(cmp.before, cmp.after) {
			t.Errorf("%s changed across kill -9:\nbefore: %q\nafter:  %q", cmp.what, cmp.before, cmp.after)
		}
	}
	if out := p2.out.String(); !strings.Contains(out, "resuming from the cluster state") || strings.Contains(out, "bootstrapped a new") {
		t.Errorf("restart output does not say it resumed:\n%s", out)
	}

	// SIGTERM stops it gracefully.
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p2.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(e2eTimeout):
		t.Fatal("server did not stop after SIGTERM")
	}
	if !strings.Contains(p2.out.String(), "==> Drover server stopped") {
		t.Errorf("no stop message")
	}
}

func TestServerRefusesOpenNonLoopbackAPI(t *testing.T) {
	r := drover(t, t.TempDir(), "server", "-bootstrap-expect", "1", "-data-dir", t.TempDir(), "-http-addr", "0.0.0.0:0", "-raft-addr", "127.0.0.1:0")
	if r.code != exitError || !strings.Contains(r.stderr, "non-loopback address without a token") {
		t.Fatalf("code %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestServerHelp(t *testing.T) {
	r := drover(t, t.TempDir(), "server", "--help")
	for _, want := range []string{"-bootstrap-expect", "-join", "-data-dir", "-http-addr", "-token-file", "Examples:", "drover server -bootstrap-expect 1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if r.code != exitOK {
		t.Fatalf("code %d", r.code)
	}
}
