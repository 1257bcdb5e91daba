package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

// The cluster commands end to end: the real drover binary runs as a
// server, the test plays three client nodes through the API client (they
// register and heartbeat but run nothing, so allocations stay pending),
// and the CLI is run as a user would run it.

// testServer is a `drover server` process the test owns, running with
// its defaults: ACLs on, a cluster CA, and the management token and join
// tokens written to its data dir.
type testServer struct {
	*proc
	httpAddr string      // 127.0.0.1:PORT, what an agent's -servers takes
	addr     string      // http://127.0.0.1:PORT, what DROVER_ADDR takes
	dataDir  string      // the server's -data-dir
	token    string      // the management token the server wrote
	client   *api.Client // a client of the API with the management token
	env      []string    // hermeticEnv with DROVER_ADDR and DROVER_TOKEN: the CLI's
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// startServer starts a single-server cluster (`drover server
// -bootstrap-expect 1`) on a new data dir and free loopback ports, with
// the server's defaults and the extra flags, and waits until its leader
// serves requests with the management token it wrote. The test's cleanup
// stops it (SIGTERM) and prints its output if the test failed.
func startServer(t testing.TB, extra ...string) *testServer {
	t.Helper()
	return startServerAt(t, t.TempDir(), freeAddr(t), freeAddr(t), extra...)
}

// startServerAt is startServer on a given data dir and addresses: given
// those of a server that stopped, it starts that server again.
func startServerAt(t testing.TB, dataDir, httpAddr, raftAddr string, extra ...string) *testServer {
	t.Helper()
	args := append([]string{"server", "-bootstrap-expect", "1", "-data-dir", dataDir,
		"-http-addr", httpAddr, "-raft-addr", raftAddr, "-node-name", "e2e"}, extra...)
	s := &testServer{
		proc:     startProc(t, "drover server", hermeticEnv(), args...),
		httpAddr: httpAddr,
		addr:     "http://" + httpAddr,
		dataDir:  dataDir,
	}
	s.token = waitManagementToken(s.proc, dataDir)
	// Clipped: a caller's append must not write into another's.
	s.env = slices.Clip(append(hermeticEnv(), "DROVER_ADDR="+s.addr, "DROVER_TOKEN="+s.token))
	var err error
	if s.client, err = api.NewClient(api.Config{Address: s.addr, Token: s.token}); err != nil {
		t.Fatal(err)
	}
	s.waitServing()
	return s
}

// managementTokenFile is where the first server writes the management
// token when it bootstraps the ACLs.
func managementTokenFile(dataDir string) string { return filepath.Join(dataDir, "management.token") }

// managementClients reads the management token the first server wrote
// to dataDir and returns it with a client of each server's HTTP address
// (host:port) that uses it.
func managementClients(t *testing.T, dataDir string, httpAddrs []string) (string, []*api.Client) {
	t.Helper()
	b, err := os.ReadFile(managementTokenFile(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))
	clients := make([]*api.Client, len(httpAddrs))
	for i, addr := range httpAddrs {
		if clients[i], err = api.NewClient(api.Config{Address: "http://" + addr, Token: token}); err != nil {
			t.Fatal(err)
		}
	}
	return token, clients
}

// clientJoinTokenFile is where the first server writes the token agents
// join with.
func clientJoinTokenFile(dataDir string) string { return filepath.Join(dataDir, "client.join-token") }

// waitManagementToken waits until the server p writes the management
// token to dataDir, as the first server does once it is elected, and
// returns it. Readiness polls: there is nothing to ask for a blocking
// query before the server has a leader.
func waitManagementToken(p *proc, dataDir string) string {
	p.t.Helper()
	path := managementTokenFile(dataDir)
	deadline := time.Now().Add(agentWait)
	for {
		select {
		case err := <-p.done:
			p.t.Fatalf("%s exited early: %v\n%s", p.name, err, p.out.String())
		default:
		}
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) != "" {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no management token in %s after %v\n%s", path, agentWait, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitServing waits until the server answers a consistent read with the
// management token: it is healthy, leads, and its ACLs know the token.
func (s *testServer) waitServing() {
	s.t.Helper()
	s.waitHealthy(s.client, false)
	deadline := time.Now().Add(agentWait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err := s.client.Jobs().List(ctx, nil)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s does not serve with its management token after %v: %v\n%s", s.name, agentWait, err, s.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startAgent starts `drover agent` as node name on dataDir, joined to s
// with the client join token s wrote and no API token: it obtains a
// client certificate and talks HTTPS to s with it. Starting it again on
// the same dataDir restarts the same node. extra flags are added (see
// withRawExec and withAgentConfig).
func (s *testServer) startAgent(t testing.TB, name, dataDir string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"agent", "-servers", s.httpAddr, "-data-dir", dataDir, "-node-name", name,
		"-join-token-file", clientJoinTokenFile(s.dataDir)}, extra...)
	return startProc(t, "drover agent "+name, hermeticEnv(), args...)
}

// rawExecAgentConfig is an agent configuration that enables the raw_exec
// driver, off by default.
const rawExecAgentConfig = `plugin "raw_exec" {
  config {
    enabled = true
  }
}
`

// withRawExec returns the agent flags that enable raw_exec, then flags:
//
//	s.startAgent(t, name, dir, withRawExec(t, "-meta", "e2e=yes")...)
//
// Only for tests whose tasks need the host, which exec's chroot and PID
// namespace hide: a task's host pid, a binary or file outside the chroot.
func withRawExec(t testing.TB, flags ...string) []string {
	t.Helper()
	return withAgentConfig(t, rawExecAgentConfig, flags...)
}

// withAgentConfig writes an agent configuration file of hcl and returns
// the agent flags that pass it (-config FILE), then flags. An agent reads
// one configuration file: a test that needs two settings writes both.
func withAgentConfig(t testing.TB, hcl string, flags ...string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.hcl")
	if err := os.WriteFile(path, []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	return append([]string{"-config", path}, flags...)
}

// hermeticEnv is the test process's environment without any Drover or
// Nomad settings of the machine running the tests.
func hermeticEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "DROVER_") && !strings.HasPrefix(e, "NOMAD_") {
			env = append(env, e)
		}
	}
	return append(env, "NO_COLOR=1")
}

// lockedBuffer is a bytes.Buffer the server process and the test may
// use at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// addNodes registers n client nodes and keeps them alive with heartbeats
// from one goroutine, which the test's cleanup stops and waits for.
func (s *testServer) addNodes(t *testing.T, n int) []*cluster.Node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var nodes []*cluster.Node
	var asNode []*api.Client // each speaks for one node, with its secret
	var ttl time.Duration
	for i := range n {
		node := &cluster.Node{
			// Distinct first characters, so that one is a unique prefix.
			ID:         fmt.Sprintf("%x%07x-0000-4000-8000-%012x", 0xa+i, i, i),
			Name:       fmt.Sprintf("node-%d", i+1),
			Datacenter: "dc1",
			Attributes: map[string]string{"kernel.name": "linux", "unique.hostname": fmt.Sprintf("node-%d", i+1)},
			Resources:  cluster.NodeResources{CPU: 4000, MemoryMB: 8192, DiskMB: 100000},
			Drivers:    map[string]cluster.DriverInfo{"exec": {Detected: true, Healthy: true}},
			Status:     cluster.NodeStatusReady,
		}
		resp, err := s.client.Nodes().Register(ctx, node)
		if err != nil {
			cancel()
			t.Fatalf("register %s: %v", node.Name, err)
		}
		ttl = resp.HeartbeatTTL
		nodes = append(nodes, node)
		asNode = append(asNode, s.client.WithNodeSecret(resp.NodeSecret))
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(max(ttl/3, 100*time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for i, node := range nodes {
				if _, err := asNode[i].Nodes().Heartbeat(ctx, node.ID); err != nil && ctx.Err() == nil {
					t.Errorf("heartbeat %s: %v", node.Name, err)
				}
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return nodes
}

// cli runs the drover binary against the server, as a user whose
// DROVER_ADDR points at it and whose DROVER_TOKEN is the management token.
func (s *testServer) cli(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := runDrover(t, dir, s.env, args...)
	// The whole session, shown when the test fails (or with -v): a
	// failure late in a scenario is easier to read with what came before.
	t.Logf("$ drover %s\n%s", strings.Join(args, " "), r)
	return r
}

func runDrover(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, droverBin, args...)
	cmd.Dir, cmd.Env = dir, env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run drover %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{code, out.String(), errb.String()}
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

func spreadJob(id string, count int, extra string) string {
	return fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  spread {
    attribute = "${node.unique.name}"
  }
%s
  group "frontend" {
    count = %d
    task "server" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
`, id, extra, count)
}

func TestClusterCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-log-level", "warn")
	nodes := s.addNodes(t, 3)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), spreadJob("web", 6, ""))
	writeFile(t, filepath.Join(dir, "win.nomad.hcl"), spreadJob("win", 6, `  constraint {
    attribute = "${attr.kernel.name}"
    value     = "windows"
  }`))
	writeFile(t, filepath.Join(dir, "api.nomad.hcl"), spreadJob("api", 1, ""))

	// Run: the monitor follows the evaluation to its end.
	r := s.cli(t, dir, "job", "run", "-no-deployment", "web.nomad.hcl")
	if r.code != 0 {
		t.Fatalf("job run: want exit 0\n%s", r)
	}
	// No "status changed" line is required: the scheduler may be done
	// before the monitor first looks, and then there was no change to see.
	for _, want := range []string{`Monitoring evaluation "`, `Evaluation triggered by job "web"`, `finished with status "complete"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("job run output lacks %q\n%s", want, r)
		}
	}
	if n := strings.Count(r.stdout, "Allocation \""); n != 6 {
		t.Errorf("job run printed %d created allocations, want 6\n%s", n, r)
	}

	// Status: six allocations, spread two per node.
	r = s.cli(t, dir, "job", "status", "-json", "web")
	if r.code != 0 {
		t.Fatalf("job status -json web: want exit 0\n%s", r)
	}
	var st jobStatusView
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("job status -json is not JSON: %v\n%s", err, r.stdout)
	}
	perNode := map[string]int{}
	for _, a := range st.Allocations {
		perNode[a.NodeID]++
	}
	if len(st.Allocations) != 6 || len(perNode) != 3 {
		t.Errorf("job status: %d allocations on %d nodes, want 6 on 3", len(st.Allocations), len(perNode))
	}
	for _, n := range nodes {
		if perNode[n.ID] != 2 {
			t.Errorf("node %s has %d allocations, want 2 (spread over node names)", n.Name, perNode[n.ID])
		}
	}
	if st.Job == nil || st.Job.ID != "web" || st.Job.Source != nil {
		t.Errorf("job status -json job = %+v, want the unmanaged job web", st.Job)
	}

	r = s.cli(t, dir, "job", "status")
	if r.code != 0 || !regexp.MustCompile(`(?m)^web\s+service\s+50\s+\S+\s+0\s+unmanaged\s`).MatchString(r.stdout) {
		t.Errorf("job status: want a row for web, unmanaged, version 0\n%s", r)
	}
	r = s.cli(t, dir, "job", "status", "we") // a prefix
	if r.code != 0 {
		t.Fatalf("job status we: want exit 0\n%s", r)
	}
	for _, want := range []string{`(?m)^ID\s+= web$`, `(?m)^Source\s+= unmanaged`, `(?m)^Summary$`,
		`(?m)^frontend\s+0\s+6\s+0\s+0\s+0\s+0$`, `(?m)^Allocations$`, `(?m)^[0-9a-f]{8}\s+node-1\s+frontend\s+0\s+run\s+pending\s`} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("job status web does not match %s\n%s", want, r)
		}
	}
	r = s.cli(t, dir, "job", "status", "nope")
	if r.code != 1 || !strings.Contains(r.stderr, `No job with ID "nope" (run 'drover job status' to list jobs)`) {
		t.Errorf("job status of an unknown job: want exit 1 and a hint\n%s", r)
	}

	// Alloc status by a prefix of the ID.
	alloc := st.Allocations[0]
	r = s.cli(t, dir, "alloc", "status", alloc.ID[:6])
	if r.code != 0 {
		t.Fatalf("alloc status %s: want exit 0\n%s", alloc.ID[:6], r)
	}
	for _, want := range []string{`(?m)^ID\s+= ` + alloc.ID + `$`, `(?m)^Job ID\s+= web$`, `(?m)^Name\s+= web\.frontend\[\d\]$`,
		`(?m)^Task "server" is "pending"$`, `(?m)^500 MHz\s+256 MB$`} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("alloc status does not match %s\n%s", want, r)
		}
	}
	r = s.cli(t, dir, "alloc", "status", "-json", alloc.ID)
	var got cluster.Allocation
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &got) != nil || got.ID != alloc.ID {
		t.Errorf("alloc status -json: want the allocation\n%s", r)
	}
	r = s.cli(t, dir, "alloc", "status", "ffffffff")
	if r.code != 1 || !strings.Contains(r.stderr, `No allocation with ID "ffffffff"`) {
		t.Errorf("alloc status of an unknown ID: want exit 1\n%s", r)
	}

	// Node status: the list, then one node by name.
	r = s.cli(t, dir, "node", "status")
	if r.code != 0 || strings.Count(r.stdout, " dc1 ") != 3 {
		t.Errorf("node status: want 3 nodes\n%s", r)
	}
	r = s.cli(t, dir, "node", "status", "node-2")
	if r.code != 0 {
		t.Fatalf("node status node-2: want exit 0\n%s", r)
	}
	for _, want := range []string{`(?m)^Name\s+= node-2$`, `(?m)^Drivers\s+= exec$`, `(?m)^1000/4000 MHz\s+512/8192 MB$`, `(?m)^Allocations$`} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("node status node-2 does not match %s\n%s", want, r)
		}
	}
	r = s.cli(t, dir, "node", "status", "-json", nodes[0].ID[:3])
	var nv nodeStatusView
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &nv) != nil || nv.Node.ID != nodes[0].ID {
		t.Errorf("node status -json by prefix: want node-1\n%s", r)
	}

	// Plan: the unchanged job has nothing to do.
	r = s.cli(t, dir, "job", "plan", "web.nomad.hcl")
	if r.code != 0 {
		t.Errorf("job plan of the running job: want exit 0 (no changes)\n%s", r)
	}
	for _, want := range []string{"No changes", "Scheduler dry-run:\n- All tasks successfully allocated.", "Job Modify Index: ", "drover job run -check-index "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("job plan (unchanged) lacks %q\n%s", want, r)
		}
	}

	// Plan: a job no node can run says why, per constraint.
	r = s.cli(t, dir, "job", "plan", "win.nomad.hcl")
	if r.code != 2 {
		t.Errorf("job plan of the windows job: want exit 2 (changes)\n%s", r)
	}
	for _, want := range []string{`+ Job: "win"`, "Scheduler dry-run:", "- WARNING: Failed to place all allocations.",
		`Task Group "frontend" (failed to place 6 allocations):`, `* Constraint "${attr.kernel.name} = windows": 3 nodes excluded by filter`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("job plan (windows) lacks %q\n%s", want, r)
		}
	}
	r = s.cli(t, dir, "job", "plan", "-json", "win.nomad.hcl")
	var pr api.JobPlanResponse
	if r.code != 2 || json.Unmarshal([]byte(r.stdout), &pr) != nil || len(pr.Explanations["frontend"]) == 0 {
		t.Errorf("job plan -json (windows): want exit 2 and explanations\n%s", r)
	}

	// Run: the windows job is accepted but cannot be placed: exit 2.
	r = s.cli(t, dir, "job", "run", "-no-deployment", "win.nomad.hcl")
	if r.code != 2 || !strings.Contains(r.stdout, "failed to place all allocations") || !strings.Contains(r.stdout, "3 nodes excluded by filter") {
		t.Errorf("job run of the windows job: want exit 2 with the reason\n%s", r)
	}

	// Check-index: a stale index is refused and changes nothing; the
	// index a plan printed is accepted.
	r = s.cli(t, dir, "job", "run", "-no-deployment", "-check-index", "999", "web.nomad.hcl")
	if r.code != 1 || !strings.Contains(r.stderr, "check_index 999") || !strings.Contains(r.stderr, "drover job plan web.nomad.hcl") {
		t.Errorf("job run -check-index 999: want exit 1 and a conflict that says what to do\n%s", r)
	}
	r = s.cli(t, dir, "job", "plan", "api.nomad.hcl")
	m := regexp.MustCompile(`drover job run -check-index (\d+) api.nomad.hcl`).FindStringSubmatch(r.stdout)
	if r.code != 2 || m == nil || m[1] != "0" {
		t.Fatalf("job plan of a new job: want exit 2 and check-index 0\n%s", r)
	}
	r = s.cli(t, dir, "job", "run", "-no-deployment", "-check-index", m[1], "api.nomad.hcl")
	if r.code != 0 {
		t.Errorf("job run -check-index from the plan: want exit 0\n%s", r)
	}
	r = s.cli(t, dir, "job", "run", "-no-deployment", "web.nomad.hcl")
	if r.code != 0 || !strings.Contains(r.stdout, "Job unchanged: nothing to do") {
		t.Errorf("job run of the unchanged job: want exit 0 and nothing to do\n%s", r)
	}

	// Stop: every allocation of web is told to stop.
	r = s.cli(t, dir, "job", "stop", "web")
	if r.code != 0 || !strings.Contains(r.stdout, `finished with status "complete"`) {
		t.Errorf("job stop web: want exit 0 after following the evaluation\n%s", r)
	}
	r = s.cli(t, dir, "job", "status", "-json", "web")
	st = jobStatusView{}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("job status -json after stop: %v\n%s", err, r)
	}
	if !st.Job.Stop {
		t.Errorf("job web is not stopped after job stop")
	}
	for _, a := range st.Allocations {
		if a.DesiredStatus != cluster.AllocDesiredStop {
			t.Errorf("allocation %s is %q after job stop, want stop", a.Name, a.DesiredStatus)
		}
	}
}

func TestClusterCommandsErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), spreadJob("web", 1, ""))
	writeFile(t, filepath.Join(dir, "bad.nomad.hcl"), "job \"bad\" {\n  group \"g\" {\n    cuont = 2\n  }\n}\n")

	// Nobody listens: the message says what to check.
	dead := "http://" + freeAddr(t)
	for _, args := range [][]string{
		{"job", "status"},
		{"job", "run", "-no-deployment", "web.nomad.hcl"},
		{"node", "status", "-address", dead},
	} {
		r := runDrover(t, dir, append(hermeticEnv(), "DROVER_ADDR="+dead), args...)
		if r.code != 1 || !strings.Contains(r.stderr, "Error: cannot reach the Drover server at "+dead) ||
			!strings.Contains(r.stderr, "Is `drover server` (or `drover dev`) running? Set DROVER_ADDR or -address.") {
			t.Errorf("%v against a dead address: want exit 1 and a hint\n%s", args, r)
		}
	}

	// An invalid file never reaches the server.
	r := runDrover(t, dir, append(hermeticEnv(), "DROVER_ADDR="+dead), "job", "run", "-no-deployment", "bad.nomad.hcl")
	if r.code != 1 || !strings.Contains(r.stderr, "bad.nomad.hcl:3:5") || strings.Contains(r.stderr, "cannot reach") {
		t.Errorf("job run of an invalid file: want exit 1 with file:line:col and no request\n%s", r)
	}

	// A server requires a token (ACLs are on by default) and says so.
	// Both the management token it wrote and the operator's own token
	// (-token-file, a management token too) get through, with -token or
	// DROVER_TOKEN.
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, "s3cret-operator-token\n")
	s := startServer(t, "-log-level", "warn", "-token-file", tokenFile)
	anonymous := append(hermeticEnv(), "DROVER_ADDR="+s.addr)
	r = runDrover(t, dir, anonymous, "job", "status")
	if r.code != 1 || !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, "set DROVER_TOKEN or -token") {
		t.Errorf("job status without a token: want exit 1, a 401 and a hint\n%s", r)
	}
	r = runDrover(t, dir, anonymous, "job", "status", "-token", "s3cret-operator-token")
	if r.code != 0 || !strings.Contains(r.stdout, "No running jobs") {
		t.Errorf("job status -token with the -token-file token: want exit 0\n%s", r)
	}
	r = runDrover(t, dir, anonymous, "job", "status", "-token", s.token)
	if r.code != 0 || !strings.Contains(r.stdout, "No running jobs") {
		t.Errorf("job status -token with the management token: want exit 0\n%s", r)
	}
	r = runDrover(t, dir, s.env, "node", "status")
	if r.code != 0 || !strings.Contains(r.stdout, "No nodes registered") {
		t.Errorf("node status with DROVER_TOKEN: want exit 0\n%s", r)
	}

	// Help and typos of the command groups.
	for _, args := range [][]string{{"job", "run", "--help"}, {"job", "plan", "--help"}, {"job", "status", "--help"},
		{"job", "stop", "--help"}, {"node", "status", "--help"}, {"alloc", "status", "--help"}} {
		r := runDrover(t, dir, hermeticEnv(), args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "Exit codes:") || !strings.Contains(r.stdout, "-address") {
			t.Errorf("%v: want exit 0 with examples, exit codes and -address\n%s", args, r)
		}
	}
	r = runDrover(t, dir, hermeticEnv(), "job", "stauts")
	if r.code != 1 || !strings.Contains(r.stderr, `did you mean "status"?`) {
		t.Errorf("job stauts: want a suggestion\n%s", r)
	}
}
