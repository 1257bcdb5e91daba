package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

// Issue 14's big job on the real binary: three servers (Raft on disk
// over loopback), one simulated node big enough for anything, and a job
// of count = 100000. Its plan used to go into Raft as one 70 MB entry
// and cost two minutes of leader elections; now it is committed in
// chunks of bounded size, and the cluster must keep its leader and keep
// answering quickly while it places the job and while it purges it.

const bigJobCount = 100_000

// bigJobFile is a service job of one group of count tiny allocations.
func bigJobFile(count int) string {
	return fmt.Sprintf(`job "big" {
  datacenters = ["dc1"]
  group "web" {
    count = %d
    ephemeral_disk {
      size = 1
    }
    task "server" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
      resources {
        cpu    = 1
        memory = 10
      }
    }
  }
}
`, count)
}

// addBigNode registers one node with room for any job and heartbeats
// it from a goroutine that the test's cleanup stops and waits for.
func (s *testServer) addBigNode(t *testing.T) *cluster.Node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	node := &cluster.Node{
		ID:         "b16b16b1-0000-4000-8000-000000000001",
		Name:       "big-node",
		Datacenter: "dc1",
		Attributes: map[string]string{"kernel.name": "linux", "unique.hostname": "big-node"},
		Resources:  cluster.NodeResources{CPU: 1 << 30, MemoryMB: 1 << 30, DiskMB: 1 << 30},
		Drivers:    map[string]cluster.DriverInfo{"exec": {Detected: true, Healthy: true}},
		Status:     cluster.NodeStatusReady,
	}
	resp, err := s.client.Nodes().Register(ctx, node)
	if err != nil {
		cancel()
		t.Fatalf("register %s: %v", node.Name, err)
	}
	asNode := s.client.WithNodeSecret(resp.NodeSecret)
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(max(resp.HeartbeatTTL/3, 100*time.Millisecond))
		defer tick.Stop()
		// Like an agent, a failed heartbeat is retried at the next tick:
		// only a node that goes a whole TTL without one is at fault (the
		// servers would mark it down). Three servers on two cores may
		// briefly answer 503 while one of them serves 100,000
		// allocations at the end of the test.
		last := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := asNode.Nodes().Heartbeat(hctx, node.ID)
			hcancel()
			switch {
			case ctx.Err() != nil:
			case err == nil:
				last = time.Now()
			case time.Since(last) > resp.HeartbeatTTL:
				t.Errorf("heartbeat %s: none succeeded for %v (TTL %v): %v", node.Name, time.Since(last).Round(time.Millisecond), resp.HeartbeatTTL, err)
			default:
				t.Logf("heartbeat %s: %v (retrying; last success %v ago)", node.Name, err, time.Since(last).Round(time.Millisecond))
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return node
}

// The routes apiProbe polls. The first two cost the same whatever the
// cluster holds: a server's answer of whom it follows, and a read of
// one job through a follower, which forwards it to the leader. GET
// /v1/jobs summarizes every allocation of every job it lists, so its
// cost grows with the allocations (about 50 ms for 100,000 on a quiet
// cluster): it is measured but held only to a looser bound.
const (
	routeLeader = "GET /v1/status/leader"
	routeJob    = "GET /v1/job/big (through a follower)"
	routeJobs   = "GET /v1/jobs"
)

// apiProbe polls routes of every server while the cluster works,
// recording every latency and every leader ID seen.
type apiProbe struct {
	mu        sync.Mutex
	latencies map[string][]time.Duration // by route
	errs      []string
	leaders   map[string]int
}

func (p *apiProbe) run(ctx context.Context, clients []*api.Client) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, c := range clients {
			p.observe(ctx, routeLeader, func(ctx context.Context) (string, error) {
				l, err := c.Status().Leader(ctx)
				if err != nil {
					return "", err
				}
				return l.ID, nil
			})
		}
		p.observe(ctx, routeJob, func(ctx context.Context) (string, error) {
			_, _, err := clients[1].Jobs().Info(ctx, "big", nil)
			if api.IsNotFound(err) { // before the run, after the purge
				err = nil
			}
			return "", err
		})
		p.observe(ctx, routeJobs, func(ctx context.Context) (string, error) {
			_, _, err := clients[0].Jobs().List(ctx, nil)
			return "", err
		})
	}
}

func (p *apiProbe) observe(ctx context.Context, route string, call func(context.Context) (string, error)) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	leader, err := call(rctx)
	d := time.Since(start)
	if ctx.Err() != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latencies[route] = append(p.latencies[route], d)
	if err != nil {
		p.errs = append(p.errs, err.Error())
	}
	if leader != "" {
		p.leaders[leader]++
	}
}

// percentiles returns p50, p99 and the maximum of the latencies so far
// of the routes.
func (p *apiProbe) percentiles(routes ...string) (n int, p50, p99, maxD time.Duration) {
	p.mu.Lock()
	var l []time.Duration
	for _, r := range routes {
		l = append(l, p.latencies[r]...)
	}
	p.mu.Unlock()
	if len(l) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(l)
	at := func(q float64) time.Duration { return l[min(len(l)-1, int(q*float64(len(l))))] }
	return len(l), at(0.50), at(0.99), l[len(l)-1]
}

// leadershipChanges counts the leadership log lines of the servers: a
// server logs "became leader" when it wins an election and "lost
// leadership" when it steps down.
func leadershipChanges(procs []*proc) int {
	n := 0
	for _, p := range procs {
		out := p.out.String()
		n += strings.Count(out, "became leader") + strings.Count(out, "lost leadership")
	}
	return n
}

// procStatus reads a field of /proc/<pid>/status in kB.
func procStatus(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Logf("read /proc/%d/status: %v", pid, err)
		return 0
	}
	m := regexp.MustCompile(`(?m)^` + field + `:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	kb, _ := strconv.Atoi(string(m[1]))
	return kb
}

func fileMB(path string) float64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return float64(fi.Size()) / (1 << 20)
}

// TestE2EBigJob is issue 14 point 3's acceptance: count = 100000 on a
// simulated big node of a three-server cluster is placed, then purged,
// with no leader change and an API p99 under 200 ms throughout. It logs
// the leader's peak RSS and the size of raft.db (BENCHMARKS.md).
func TestE2EBigJob(t *testing.T) {
	// Its latency figures mean something only on a machine that runs
	// nothing else: `make fault` runs it alone, after the other tests.
	if os.Getenv("DROVER_SLOW_TESTS") == "" {
		t.Skip("places and purges 100,000 allocations on three servers: runs alone in `make fault` (DROVER_SLOW_TESTS=1)")
	}
	limit := []string{"-job-max-count", strconv.Itoa(bigJobCount), "-log-level", "info"}
	s1 := startServer(t, append([]string{"-node-name", "s1"}, limit...)...)
	procs := []*proc{s1.proc}
	dataDirs := []string{s1.dataDir}
	clients := []*api.Client{s1.client}
	for i := 2; i <= 3; i++ {
		dir, httpAddr := t.TempDir(), freeAddr(t)
		args := append([]string{"server", "-data-dir", dir, "-http-addr", httpAddr, "-raft-addr", freeAddr(t),
			"-node-name", fmt.Sprintf("s%d", i), "-join", s1.httpAddr, "-join-token-file", filepath.Join(s1.dataDir, "server.join-token")}, limit...)
		procs = append(procs, startProc(t, fmt.Sprintf("drover server s%d", i), hermeticEnv(), args...))
		dataDirs = append(dataDirs, dir)
		c, err := api.NewClient(api.Config{Address: "http://" + httpAddr, Token: s1.token})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	waitErr(t, "three servers with a leader", 60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, c := range clients {
			peers, err := c.Status().Peers(ctx)
			if err != nil {
				return err
			}
			if len(peers) != 3 {
				return fmt.Errorf("%d peers", len(peers))
			}
		}
		return nil
	})
	s1.addBigNode(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "big.nomad.hcl"), bigJobFile(bigJobCount))

	changes := leadershipChanges(procs)
	probe := &apiProbe{latencies: map[string][]time.Duration{}, leaders: map[string]int{}}
	pctx, stopProbe := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { probe.run(pctx, clients) })
	defer func() {
		stopProbe()
		wg.Wait()
	}()

	// Place: the job is accepted at once; its evaluation completes once
	// the last chunk is in.
	start := time.Now()
	r := s1.cli(t, dir, "job", "run", "-detach", "big.nomad.hcl")
	if r.code != 0 {
		t.Fatalf("job run: want exit 0\n%s", r)
	}
	accepted := time.Since(start)
	evalID := regexp.MustCompile(`Evaluation ID: (\S+)`).FindStringSubmatch(r.stdout)
	if evalID == nil {
		t.Fatalf("job run -detach printed no evaluation ID\n%s", r)
	}
	waitEvalComplete(t, s1.client, evalID[1], 5*time.Minute)
	placed := time.Since(start)
	waitErr(t, "100,000 allocations in the job's summary", time.Minute, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		jobs, _, err := s1.client.Jobs().List(ctx, nil)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if j.ID == "big" && j.Summary["web"][cluster.AllocClientPending] == bigJobCount {
				return nil
			}
		}
		return fmt.Errorf("not all placed yet")
	})
	n, p50, p99, maxD := probe.percentiles(routeLeader, routeJob)
	rss := procStatus(t, s1.cmd.Process.Pid, "VmHWM")
	t.Logf("placed %d allocations in %v (accepted in %v); API during placement: %d requests, p50 %v, p99 %v, max %v; leader peak RSS %d MB",
		bigJobCount, placed.Round(time.Millisecond), accepted.Round(time.Millisecond), n, p50, p99, maxD, rss>>10)
	for i, d := range dataDirs {
		t.Logf("s%d raft.db %.1f MB", i+1, fileMB(filepath.Join(d, "raft", "raft.db")))
	}
	// What the routes cost on a quiet cluster holding the job: GET
	// /v1/jobs summarizes every allocation of every job it lists.
	quiet := &apiProbe{latencies: map[string][]time.Duration{}, leaders: map[string]int{}}
	for range 20 {
		quiet.observe(context.Background(), routeJobs, func(ctx context.Context) (string, error) {
			_, _, err := s1.client.Jobs().List(ctx, nil)
			return "", err
		})
	}
	_, qp50, _, qmax := quiet.percentiles(routeJobs)
	t.Logf("GET /v1/jobs with the job placed, cluster quiet: p50 %v, max %v", qp50, qmax)

	// Purge: 100,000 stops, chunked too.
	start = time.Now()
	r = s1.cli(t, dir, "job", "stop", "-purge", "-detach", "big")
	if r.code != 0 {
		t.Fatalf("job stop -purge: want exit 0\n%s", r)
	}
	evalID = regexp.MustCompile(`Evaluation ID: (\S+)`).FindStringSubmatch(r.stdout)
	if evalID == nil {
		t.Fatalf("job stop -purge -detach printed no evaluation ID\n%s", r)
	}
	waitEvalComplete(t, s1.client, evalID[1], 5*time.Minute)
	t.Logf("purged in %v", time.Since(start).Round(time.Millisecond))
	stopProbe()
	wg.Wait()

	for _, route := range []string{routeLeader, routeJob, routeJobs} {
		n, p50, p99, maxD := probe.percentiles(route)
		t.Logf("%s over placement and purge: %d requests, p50 %v, p99 %v, max %v", route, n, p50, p99, maxD)
	}
	_, _, jobsP99, _ := probe.percentiles(routeJobs)
	n, p50, p99, maxD = probe.percentiles(routeLeader, routeJob)
	t.Logf("API over placement and purge: %d requests, p50 %v, p99 %v, max %v; leaders seen %v; leader peak RSS %d MB",
		n, p50, p99, maxD, probe.leaders, procStatus(t, s1.cmd.Process.Pid, "VmHWM")>>10)
	for i, d := range dataDirs {
		t.Logf("s%d raft.db %.1f MB, peak RSS %d MB", i+1, fileMB(filepath.Join(d, "raft", "raft.db")), procStatus(t, procs[i].cmd.Process.Pid, "VmHWM")>>10)
	}
	if c := leadershipChanges(procs) - changes; c != 0 {
		t.Errorf("%d leadership changes (\"became leader\"/\"lost leadership\" log lines) during the big job, want none", c)
	}
	if len(probe.leaders) != 1 {
		t.Errorf("the servers named %d leaders (%v), want one throughout", len(probe.leaders), probe.leaders)
	}
	if p99 > 200*time.Millisecond {
		t.Errorf("API p99 %v during the big job, want under 200ms", p99)
	}
	if jobsP99 > time.Second {
		t.Errorf("%s p99 %v during the big job, want under 1s", routeJobs, jobsP99)
	}
	if len(probe.errs) > 0 {
		t.Errorf("%d API errors during the big job, first: %s", len(probe.errs), probe.errs[0])
	}

	// Every allocation was told to stop.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	allocs, _, err := s1.client.Jobs().Allocations(ctx, "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	live := 0
	for _, a := range allocs {
		if !a.Terminal() {
			live++
		}
	}
	if len(allocs) != bigJobCount || live != 0 {
		t.Errorf("after the purge: %d allocations, %d not stopped; want %d, all stopped", len(allocs), live, bigJobCount)
	}
}

// waitEvalComplete waits, with blocking queries, until the evaluation is
// complete.
func waitEvalComplete(t *testing.T, c *api.Client, id string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var index uint64
	for {
		e, meta, err := c.Evaluations().Info(ctx, id, &api.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second})
		if err != nil {
			t.Fatalf("evaluation %s: %v", id, err)
		}
		switch e.Status {
		case cluster.EvalStatusComplete:
			return
		case cluster.EvalStatusFailed, cluster.EvalStatusCanceled:
			t.Fatalf("evaluation %s ended %s: %s", id, e.Status, e.StatusDescription)
		}
		index = meta.LastIndex
	}
}

// TestE2EJobMaxCountDefault: a server with the default limit refuses a
// group of count = 10001 with a message that names the group, its count,
// the limit and how to raise it; nothing is registered.
func TestE2EJobMaxCountDefault(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-log-level", "warn")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "big.nomad.hcl"), bigJobFile(10_001))
	r := s.cli(t, dir, "job", "run", "-no-deployment", "big.nomad.hcl")
	if r.code != 1 {
		t.Errorf("job run of count = 10001: want exit 1\n%s", r)
	}
	for _, want := range []string{`job "big", group "web": count = 10001 is over this server's limit of 10000 allocations per group`,
		"job_max_count in the server's config file, or -job-max-count"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("job run's error lacks %q\n%s", want, r)
		}
	}
	r = s.cli(t, dir, "job", "status", "big")
	if r.code != 1 {
		t.Errorf("job status big after the refusal: want exit 1 (no such job)\n%s", r)
	}
}
