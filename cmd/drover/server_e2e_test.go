package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

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
	ctx, cancel := context.WithTimeout(context.Background(), agentWait)
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
	dataDir, httpAddr, raftAddr := filepath.Join(dir, "data"), freeAddr(t), freeAddr(t)
	// Heartbeats are not sent in this test: a long TTL keeps the nodes
	// ready across the restart. The config file is read, flags win.
	conf := filepath.Join(dir, "server.hcl")
	writeFile(t, conf, `heartbeat_ttl = "10m"
http_addr = "127.0.0.1:1"
`)
	p := startServerAt(t, dataDir, httpAddr, raftAddr, "-config", conf)
	c := p.client
	if out := p.out.String(); !strings.Contains(out, "==> Drover server started: API on http(s)://"+httpAddr+", Raft (mutual TLS) on "+raftAddr) {
		t.Fatalf("no start banner in:\n%s", out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), agentWait)
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

	// kill -9: the way a power cut stops it, with no shutdown at all.
	p.stop(syscall.SIGKILL)
	p2 := startServerAt(t, dataDir, httpAddr, raftAddr, "-config", conf)
	if p2.token != p.token {
		t.Errorf("the management token changed across kill -9")
	}
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
	case <-time.After(agentWait):
		t.Fatal("server did not stop after SIGTERM")
	}
	if !strings.Contains(p2.out.String(), "==> Drover server stopped") {
		t.Errorf("no stop message")
	}
}

// TestServerRefusesOpenNonLoopbackAPI: a server never serves an open API
// beyond loopback. With ACLs turned off and no token it refuses to start.
// With its defaults it starts, and there speaks only HTTPS, asks for a
// client certificate of the cluster CA, and with one still for a token:
// 401 without.
func TestServerRefusesOpenNonLoopbackAPI(t *testing.T) {
	// -acl=false on purpose: turning ACLs off is the one way left to an
	// open API, and without a token the server must refuse it.
	r := drover(t, t.TempDir(), "server", "-acl=false", "-bootstrap-expect", "1", "-data-dir", t.TempDir(),
		"-http-addr", "0.0.0.0:0", "-raft-addr", "127.0.0.1:0")
	if r.code != exitError || !strings.Contains(r.stderr, "non-loopback address without a token") {
		t.Fatalf("-acl=false beyond loopback: code %d, stderr:\n%s", r.code, r.stderr)
	}

	// Bound to every address; the test reaches it on loopback, which the
	// config file advertises.
	dir, dataDir := t.TempDir(), t.TempDir()
	_, port, _ := net.SplitHostPort(freeAddr(t))
	local := "127.0.0.1:" + port
	conf := filepath.Join(dir, "server.hcl")
	writeFile(t, conf, "advertise_http = \""+local+"\"\n")
	p := startProc(t, "drover server", hermeticEnv(), "server", "-config", conf, "-bootstrap-expect", "1", "-data-dir", dataDir,
		"-http-addr", "0.0.0.0:"+port, "-raft-addr", freeAddr(t), "-node-name", "e2e")
	token := waitManagementToken(p, dataDir)
	if out := p.out.String(); !strings.Contains(out, "API on https://"+local) {
		t.Errorf("the start banner does not say HTTPS only:\n%s", out)
	}

	// Plain HTTP is refused, even with the management token.
	req, err := http.NewRequest(http.MethodGet, "http://"+local+"/v1/jobs", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	// An error (the connection closed) is a refusal too.
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS") {
			t.Errorf("plain HTTP beyond loopback: %d %s, want 400 (an HTTPS server)", resp.StatusCode, body)
		}
	}

	// HTTPS to a server the CLI verifies against the cluster CA: without
	// a client certificate, the management token is not enough.
	caFile := filepath.Join(dataDir, "tls", "ca.pem")
	env := append(hermeticEnv(), "DROVER_ADDR=https://"+local, "DROVER_CACERT="+caFile)
	cli := func(env []string, args ...string) result {
		t.Helper()
		r := runDrover(t, dir, env, args...)
		t.Logf("$ drover %s\n%s", strings.Join(args, " "), r)
		return r
	}
	if r := cli(append(env, "DROVER_TOKEN="+token), "job", "status"); r.code != exitError || !strings.Contains(r.stderr, "401") ||
		!strings.Contains(r.stderr, "client certificate") {
		t.Errorf("HTTPS without a client certificate: want exit 1 with a 401 naming the client certificate\n%s", r)
	}

	// A CLI certificate of the cluster's CA: without a token, 401; with
	// the management token, served.
	if r := cli(hermeticEnv(), "tls", "cert", "create", "-cli", "-ca", caFile, "-key", filepath.Join(dataDir, "tls", "ca-key.pem"),
		"-out-dir", dir); r.code != exitOK {
		t.Fatalf("tls cert create -cli: want exit 0\n%s", r)
	}
	certFile, keyFile := filepath.Join(dir, "global-cli-drover.pem"), filepath.Join(dir, "global-cli-drover-key.pem")
	env = append(env, "DROVER_CLIENT_CERT="+certFile, "DROVER_CLIENT_KEY="+keyFile)
	if r := cli(env, "job", "status"); r.code != exitError || !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, "set DROVER_TOKEN or -token") {
		t.Errorf("HTTPS with a CLI certificate and no token: want exit 1 with a 401 and a hint\n%s", r)
	}
	if r := cli(append(env, "DROVER_TOKEN="+token), "job", "status"); r.code != exitOK || !strings.Contains(r.stdout, "No running jobs") {
		t.Errorf("HTTPS with a CLI certificate and the management token: want exit 0\n%s", r)
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
