package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
)

// Rollouts end to end: one `drover server` and three `drover agent`
// processes of the test-built binary on loopback, running a tiny HTTP
// server (testdata/healthsrv) with the raw_exec driver, driven by commits
// and `drover reconcile --once` as CI would. raw_exec, which the agents
// enable: healthsrv is built into a temporary directory outside exec's
// chroot, and the cleanup kills a task left behind by its host pid.

// rolloutNodes are the cluster's agents: their names, the meta.role each
// advertises, and the loopback IP their tasks' ports bind (one each, so
// that two nodes on this one host never hand out the same address).
var rolloutNodes = []struct{ name, role, ip string }{
	{"node-a", "leader", "127.0.0.11"},
	{"node-b", "follower", "127.0.0.12"},
	{"node-c", "follower", "127.0.0.13"},
}

// rolloutCluster is a running server with three ready agents.
type rolloutCluster struct {
	Addr   string      // the server's API, http://host:port
	Client *api.Client // a client of it
	Env    []string    // a hermetic environment with DROVER_ADDR (and DROVER_TOKEN) set, for the CLI
	Server *proc
	Agents map[string]*proc // by node name
	// NodeIP is the IP each node's tasks listen on, by node name.
	NodeIP map[string]string
	// DataDirs are the agents' data directories, by node name.
	DataDirs map[string]string
}

var healthsrv struct {
	once sync.Once
	bin  string
	err  error
}

// buildHealthsrv builds testdata/healthsrv once per test binary, next to
// the drover binary (removed with it when the tests end).
func buildHealthsrv(t testing.TB) string {
	t.Helper()
	healthsrv.once.Do(func() {
		bin := filepath.Join(filepath.Dir(droverBin), "healthsrv")
		out, err := exec.Command("go", "build", "-o", bin, "./testdata/healthsrv").CombinedOutput()
		if err != nil {
			healthsrv.err = fmt.Errorf("go build ./testdata/healthsrv: %w\n%s", err, out)
			return
		}
		healthsrv.bin = bin
	})
	if healthsrv.err != nil {
		t.Fatal(healthsrv.err)
	}
	return healthsrv.bin
}

// startRolloutCluster starts `drover server` (alone, bootstrap-expect 1)
// and the agents node-a (meta.role = leader), node-b and node-c
// (followers), and waits until the three nodes are ready. On cleanup it
// stops every job and waits for the tasks to end, then stops the agents
// and the server; a task still alive after that is killed by its pid.
func startRolloutCluster(t *testing.T) *rolloutCluster {
	t.Helper()
	gittest.RequireGit(t)
	buildHealthsrv(t)
	s := startServer(t, "-node-name", "s1")
	rc := &rolloutCluster{
		Addr:     s.addr,
		Client:   s.client,
		Env:      s.env,
		Server:   s.proc,
		Agents:   map[string]*proc{},
		NodeIP:   map[string]string{},
		DataDirs: map[string]string{},
	}
	for _, n := range rolloutNodes {
		rc.NodeIP[n.name] = n.ip
		rc.DataDirs[n.name] = t.TempDir()
		rc.Agents[n.name] = s.startAgent(t, n.name, rc.DataDirs[n.name], withRawExec(t, "-network-ip", n.ip, "-meta", "role="+n.role)...)
	}
	// Registered after the agents, so it runs before they are stopped:
	// tasks outlive a stopped agent.
	t.Cleanup(rc.stopTasks(t))
	waitNodes(t, rc.Client, len(rolloutNodes))
	return rc
}

// stopTasks stops every job and waits until no allocation runs; then it
// kills any healthsrv still alive by the pid it wrote in its allocation.
func (rc *rolloutCluster) stopTasks(t *testing.T) func() {
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		jobs, _, err := rc.Client.Jobs().List(ctx, nil)
		if err != nil {
			t.Logf("cleanup: list jobs: %v", err)
		}
		for _, j := range jobs {
			if _, err := rc.Client.Jobs().Deregister(ctx, j.ID, false); err != nil {
				t.Logf("cleanup: stop %s: %v", j.ID, err)
				continue
			}
			var index uint64
			for ctx.Err() == nil {
				allocs, meta, err := rc.Client.Jobs().Allocations(ctx, j.ID, &api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second})
				if err != nil {
					break
				}
				index = meta.LastIndex
				if !slices.ContainsFunc(allocs, func(a *cluster.Allocation) bool {
					return a.ClientStatus == cluster.AllocClientPending || a.ClientStatus == cluster.AllocClientRunning
				}) {
					break
				}
			}
		}
		for _, dir := range rc.DataDirs {
			pids, _ := filepath.Glob(filepath.Join(dir, "allocs", "*", "alloc", "healthsrv-*.pid"))
			for _, f := range pids {
				b, _ := os.ReadFile(f)
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 && pidAlive(pid) {
					t.Logf("cleanup: healthsrv %d (%s) outlived its job; killing it", pid, f)
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	}
}

// healthJob is a service job of count allocations of the healthsrv
// task (group "g", task "srv", port "http", an HTTP check of /health
// every second, the least jobspec allows), spread over the nodes, never
// rescheduled. version and healthy go into the task's env (VERSION,
// HEALTHY), so changing either is a destructive update. update is the body of the group's update block ("" for none);
// extra is written into the group as is (a constraint, a rollout block).
// startRolloutCluster must have run: it builds the healthsrv binary.
func healthJob(id string, count int, version string, healthy bool, update string, extra string) string {
	if healthsrv.bin == "" {
		panic("healthJob: the healthsrv binary is not built (call startRolloutCluster or buildHealthsrv first)")
	}
	updateBlock := ""
	if update != "" {
		updateBlock = "    update {\n" + indent(update, "      ") + "    }\n"
	}
	return fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  group "g" {
    count = %d
    spread {
      attribute = "${node.unique.name}"
    }
    network {
      port "http" {}
    }
%s    reschedule {
      attempts  = 0
      unlimited = false
    }
    service {
      name = %q
      port = "http"
      check {
        type     = "http"
        path     = "/health"
        interval = "1s"
        timeout  = "1s"
      }
    }
%s    task "srv" {
      driver = "raw_exec"
      env {
        VERSION = %q
        HEALTHY = "%t"
      }
      config {
        command = %q
        args    = ["-pidfile", "${NOMAD_ALLOC_DIR}/healthsrv-${NOMAD_TASK_NAME}.pid"]
      }
      resources {
        cpu    = 20
        memory = 32
      }
    }
  }
}
`, id, count, updateBlock, id, indent(extra, "    "), version, healthy, healthsrv.bin)
}

// indent prefixes s's non-empty lines; "" for a blank s.
func indent(s, prefix string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if strings.TrimSpace(line) != "" {
			line = prefix + line
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// reconcileOnce runs `drover reconcile --once --repo DIR` against the
// cluster (rollouts healthy for 1s, at most 60s) and logs its output.
// args are added to the command line.
func (rc *rolloutCluster) reconcileOnce(t *testing.T, repoDir string, args ...string) result {
	t.Helper()
	args = append([]string{"reconcile", "--once", "--repo", repoDir, "--min-healthy", "1s", "--timeout", "60s"}, args...)
	return rc.cli(t, repoDir, args...)
}

// cli runs drover against the cluster and logs the command and its output.
func (rc *rolloutCluster) cli(t *testing.T, dir string, args ...string) result {
	t.Helper()
	start := time.Now()
	r := runDrover(t, dir, rc.Env, args...)
	t.Logf("$ drover %s   (%v)\n%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), r)
	return r
}

// deploymentStatus logs `drover deployment list -job JOB` and `drover
// deployment status` of the job's latest deployment, and returns the
// latter's output.
func (rc *rolloutCluster) deploymentStatus(t *testing.T, jobID string) string {
	t.Helper()
	return rc.deploymentStatusOf(t, jobID, func(ds []*cluster.Deployment) *cluster.Deployment { return ds[0] })
}

// deploymentStatusVersion is deploymentStatus for the deployment of one
// job version.
func (rc *rolloutCluster) deploymentStatusVersion(t *testing.T, jobID string, version uint64) string {
	t.Helper()
	return rc.deploymentStatusOf(t, jobID, func(ds []*cluster.Deployment) *cluster.Deployment {
		for _, d := range ds {
			if d.JobVersion == version {
				return d
			}
		}
		return nil
	})
}

func (rc *rolloutCluster) deploymentStatusOf(t *testing.T, jobID string, pick func([]*cluster.Deployment) *cluster.Deployment) string {
	t.Helper()
	list := runDrover(t, ".", rc.Env, "deployment", "list", "-job", jobID)
	js := runDrover(t, ".", rc.Env, "deployment", "list", "-job", jobID, "-json")
	var ds []*cluster.Deployment
	if list.code != 0 || js.code != 0 || json.Unmarshal([]byte(js.stdout), &ds) != nil || len(ds) == 0 {
		t.Fatalf("deployment list -job %s:\n%s\n%s", jobID, list, js)
	}
	d := pick(ds)
	if d == nil {
		t.Fatalf("no such deployment of %s:\n%s", jobID, list.stdout)
	}
	st := runDrover(t, ".", rc.Env, "deployment", "status", d.ID)
	if st.code != 0 {
		t.Fatalf("deployment status %s:\n%s", d.ID, st)
	}
	t.Logf("\n=== drover deployment list -job %s\n%s\n=== drover deployment status %s\n%s=== end", jobID, list.stdout, shortID(d.ID), st.stdout)
	return st.stdout
}

// deployment returns the job's deployment of version.
func (rc *rolloutCluster) deployment(t *testing.T, jobID string, version uint64) *cluster.Deployment {
	t.Helper()
	ds, _, err := rc.Client.Deployments().List(context.Background(), &api.QueryOptions{Params: map[string]string{"job": jobID}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.JobVersion == version {
			return d
		}
	}
	t.Fatalf("no deployment of %s version %d", jobID, version)
	return nil
}

// allocs returns the job's allocations.
func (rc *rolloutCluster) allocs(t *testing.T, jobID string) []*cluster.Allocation {
	t.Helper()
	allocs, _, err := rc.Client.Jobs().Allocations(context.Background(), jobID, nil)
	if err != nil {
		t.Fatal(err)
	}
	return allocs
}

// httpAddr is where the allocation's "http" port listens.
func (rc *rolloutCluster) httpAddr(a *cluster.Allocation) string {
	for _, p := range a.Resources.Ports {
		if p.Label == "http" {
			ip := p.HostIP
			if ip == "" {
				ip = rc.NodeIP[a.NodeName]
			}
			return net.JoinHostPort(ip, strconv.Itoa(p.Value))
		}
	}
	return ""
}

var rolloutHTTP = &http.Client{Timeout: 2 * time.Second}

// version asks the allocation's healthsrv for its /version.
func (rc *rolloutCluster) version(a *cluster.Allocation) (string, error) {
	addr := rc.httpAddr(a)
	if addr == "" {
		return "", fmt.Errorf("allocation %s has no http port", shortID(a.ID))
	}
	resp, err := rolloutHTTP.Get("http://" + addr + "/version")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s/version: %s", addr, resp.Status)
	}
	return strings.TrimSpace(string(b)), nil
}

// allocTimes is what an allocation's task events and health say about
// when it ran.
type allocTimes struct {
	alloc   *cluster.Allocation
	started time.Time // the first Started event
	healthy time.Time // when it was judged healthy; zero if never
	stopped time.Time // the first Killing, Killed or Terminated event; zero if none
}

func timesOf(a *cluster.Allocation) allocTimes {
	at := allocTimes{alloc: a}
	for _, st := range a.TaskStates {
		for _, e := range st.Events {
			switch e.Type {
			case "Started":
				if at.started.IsZero() || e.Time.Before(at.started) {
					at.started = e.Time
				}
			case "Killing", "Killed", "Terminated":
				if at.stopped.IsZero() || e.Time.Before(at.stopped) {
					at.stopped = e.Time
				}
			}
		}
	}
	if ds := a.DeploymentStatus; ds != nil && ds.Healthy != nil && *ds.Healthy {
		at.healthy = ds.Timestamp
	}
	return at
}

// timeline logs the allocations' lifetimes relative to t0, oldest first.
func timeline(t *testing.T, t0 time.Time, allocs []*cluster.Allocation) {
	t.Helper()
	rel := func(tm time.Time) string {
		if tm.IsZero() {
			return "-"
		}
		return tm.Sub(t0).Round(time.Millisecond).String()
	}
	ats := make([]allocTimes, 0, len(allocs))
	for _, a := range allocs {
		ats = append(ats, timesOf(a))
	}
	slices.SortFunc(ats, func(a, b allocTimes) int { return a.alloc.CreateTime.Compare(b.alloc.CreateTime) })
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s  %-7s  %-4s  %-8s  %-9s  %-9s  %-9s  %-9s\n", "Alloc", "Node", "Ver", "Status", "Created", "Started", "Healthy", "Stopped")
	for _, at := range ats {
		a := at.alloc
		fmt.Fprintf(&b, "%-8s  %-7s  %-4d  %-8s  %-9s  %-9s  %-9s  %-9s\n", shortID(a.ID), a.NodeName, a.JobVersion, a.ClientStatus,
			rel(a.CreateTime), rel(at.started), rel(at.healthy), rel(at.stopped))
	}
	t.Logf("allocation timeline (relative to %s):\n%s", t0.Format("15:04:05.000"), b.String())
}

func TestE2ERollingUpdateOneAtATime(t *testing.T) {
	rc := startRolloutCluster(t)
	const minHealthy = time.Second
	update := `max_parallel     = 1
min_healthy_time = "1s"
health_check     = "checks"
healthy_deadline = "20s"
progress_deadline = "40s"`
	repo := gittest.New(t)

	repo.Commit("web v1", map[string]string{"web.hcl": healthJob("web", 3, "v1", true, update, "")})
	if r := rc.reconcileOnce(t, repo.Dir); r.code != 0 {
		t.Fatalf("reconcile v1: want exit 0:\n%s", r)
	}
	before := running(rc.allocs(t, "web"))
	if len(before) != 3 {
		t.Fatalf("v1: want 3 running allocations:%s", allocsText(rc.allocs(t, "web")))
	}

	t0 := time.Now()
	repo.Commit("web v2", map[string]string{"web.hcl": healthJob("web", 3, "v2", true, update, "")})
	if r := rc.reconcileOnce(t, repo.Dir); r.code != 0 {
		t.Fatalf("reconcile v2: want exit 0:\n%s", r)
	}
	t.Logf("v2 rollout took %v", time.Since(t0).Round(time.Millisecond))
	rc.deploymentStatus(t, "web")

	d := rc.deployment(t, "web", 1)
	if d.Status != cluster.DeploymentSuccessful {
		t.Errorf("deployment of version 1: %s (%s), want successful", d.Status, d.StatusDescription)
	}
	if g := d.TaskGroups["g"]; g == nil || g.PlacedAllocs != 3 || g.HealthyAllocs != 3 || g.UnhealthyAllocs != 0 {
		t.Errorf("deployment counters: %+v, want 3 placed and healthy", g)
	}
	allocs := followAllocs(t, rc.Client, "web", "3 running v2 allocations and the v1 ones stopped", func(as []*cluster.Allocation) bool {
		n := 0
		for _, a := range as {
			if a.JobVersion == 0 && a.ClientStatus == cluster.AllocClientRunning {
				return false
			}
			if a.JobVersion == 1 && a.ClientStatus == cluster.AllocClientRunning && a.DesiredStatus == cluster.AllocDesiredRun {
				n++
			}
		}
		return n == 3
	})
	timeline(t, t0, allocs)

	var fresh, old []allocTimes
	for _, a := range allocs {
		switch {
		case a.JobVersion == 1 && a.DesiredStatus == cluster.AllocDesiredRun:
			fresh = append(fresh, timesOf(a))
		case a.JobVersion == 0:
			old = append(old, timesOf(a))
		}
	}
	if len(fresh) != 3 || len(old) != 3 {
		t.Fatalf("want 3 v1 and 3 v2 allocations:%s", allocsText(allocs))
	}
	slices.SortFunc(fresh, func(a, b allocTimes) int { return a.started.Compare(b.started) })
	for i, f := range fresh {
		if f.started.IsZero() || f.healthy.IsZero() {
			t.Fatalf("v2 allocation %s: no Started event or never healthy:%s", shortID(f.alloc.ID), allocsText([]*cluster.Allocation{f.alloc}))
		}
		if got := f.healthy.Sub(f.started); got < minHealthy {
			t.Errorf("v2 allocation %d healthy %v after it started, before min_healthy_time", i, got)
		}
		if i == 0 {
			continue
		}
		prev := fresh[i-1]
		// One at a time: the next one starts only once the previous one
		// is healthy, which takes min_healthy_time.
		if got := f.started.Sub(prev.started); got < minHealthy {
			t.Errorf("v2 allocation %d started %v after allocation %d, less than min_healthy_time %v", i, got, i-1, minHealthy)
		}
		if !f.started.After(prev.healthy) {
			t.Errorf("v2 allocation %d started at %v, before allocation %d was healthy at %v", i, f.started, i-1, prev.healthy)
		}
	}
	// At no time were more old allocations stopped than replacements
	// healthy plus one (max_parallel).
	for _, o := range old {
		if o.stopped.IsZero() {
			t.Fatalf("v1 allocation %s has no Killing/Killed/Terminated event:%s", shortID(o.alloc.ID), allocsText([]*cluster.Allocation{o.alloc}))
		}
		stopped, healthy := 0, 0
		for _, o2 := range old {
			if !o2.stopped.After(o.stopped) {
				stopped++
			}
		}
		for _, f := range fresh {
			if f.healthy.Before(o.stopped) {
				healthy++
			}
		}
		if stopped-healthy > 1 {
			t.Errorf("at %v, %d v1 allocations were stopped and only %d v2 healthy: more than max_parallel = 1 down at once",
				o.stopped.Sub(t0), stopped, healthy)
		}
	}
	// The old tasks were stopped, not crashed: healthsrv saw the signal
	// and shut down.
	for _, o := range old {
		st := o.alloc.TaskStates["srv"]
		if st == nil || st.Failed || !slices.ContainsFunc(st.Events, func(e cluster.TaskEvent) bool { return e.Type == "Killed" }) {
			t.Errorf("v1 allocation %s: want its task killed, not failed:%s", shortID(o.alloc.ID), allocsText([]*cluster.Allocation{o.alloc}))
		}
		if r := runDrover(t, ".", rc.Env, "alloc", "logs", o.alloc.ID, "srv"); r.code != 0 || !strings.Contains(r.stdout, "signalled, shutting down") {
			t.Errorf("v1 allocation %s: healthsrv did not shut down on the stop signal:\n%s", shortID(o.alloc.ID), r)
		}
	}
	for _, f := range fresh {
		if v, err := rc.version(f.alloc); err != nil || v != "v2" {
			t.Errorf("allocation %s on %s (%s): /version = %q, %v; want v2", shortID(f.alloc.ID), f.alloc.NodeName, rc.httpAddr(f.alloc), v, err)
		}
	}
}

func TestE2EFailingCanaryAutoReverts(t *testing.T) {
	rc := startRolloutCluster(t)
	update := `canary            = 1
max_parallel      = 1
auto_revert       = true
auto_promote      = true
min_healthy_time  = "1s"
healthy_deadline  = "5s"
progress_deadline = "10s"`
	// v1 gets generous deadlines, so that a loaded CI machine cannot
	// fail the first rollout; the revert brings them back.
	v1Update := strings.NewReplacer(`"5s"`, `"30s"`, `"10s"`, `"60s"`).Replace(update)
	repo := gittest.New(t)

	repo.Commit("web v1", map[string]string{"web.hcl": healthJob("web", 3, "v1", true, v1Update, "")})
	if r := rc.reconcileOnce(t, repo.Dir); r.code != 0 {
		t.Fatalf("reconcile v1: want exit 0:\n%s", r)
	}
	before := running(rc.allocs(t, "web"))
	if len(before) != 3 {
		t.Fatalf("v1: want 3 running allocations:%s", allocsText(rc.allocs(t, "web")))
	}
	// The auto-revert goes back to the latest stable version: wait until
	// version 0 is marked so.
	waitUntil(t, "version 0 to be marked stable", func() bool {
		vs, _, err := rc.Client.Jobs().Versions(context.Background(), "web", nil)
		return err == nil && slices.ContainsFunc(vs, func(j *cluster.Job) bool { return j.Version == 0 && j.Stable })
	})

	// Watch the old allocations answer v1 throughout the rollout.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var probeErrs []string
	probes := 0
	for _, a := range before {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				v, err := rc.version(a)
				mu.Lock()
				probes++
				if err != nil || v != "v1" {
					probeErrs = append(probeErrs, fmt.Sprintf("%s allocation %s: /version = %q, %v", time.Now().Format("15:04:05.000"), shortID(a.ID), v, err))
				}
				mu.Unlock()
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	}
	stopProbes := sync.OnceFunc(func() { cancel(); wg.Wait() })
	defer stopProbes()

	t0 := time.Now()
	repo.Commit("web v2, unhealthy", map[string]string{"web.hcl": healthJob("web", 3, "v2", false, update, "")})
	r := rc.reconcileOnce(t, repo.Dir)
	if r.code != exitRolloutFailed || !strings.Contains(r.stdout, "Rollout failed") {
		t.Errorf("reconcile v2: want exit %d (rollout failed):\n%s", exitRolloutFailed, r)
	}
	t.Logf("v2 rollout failed after %v", time.Since(t0).Round(time.Millisecond))

	// The revert (version 2, version 0's spec) keeps the old allocations:
	// updated in place, the canary stopped.
	allocs := followAllocs(t, rc.Client, "web", "the old allocations on version 2 and the canary stopped", func(as []*cluster.Allocation) bool {
		n := 0
		for _, a := range as {
			if a.JobVersion == 1 && (!a.Terminal() || a.ClientStatus == cluster.AllocClientRunning) {
				return false
			}
			if a.JobVersion == 2 && !a.Terminal() && a.ClientStatus == cluster.AllocClientRunning {
				n++
			}
		}
		return n == 3
	})
	// Go on probing a little past the revert.
	time.Sleep(500 * time.Millisecond)
	stopProbes()
	timeline(t, t0, allocs)
	rc.deploymentStatusVersion(t, "web", 1)
	rc.cli(t, ".", "job", "status", "web")

	mu.Lock()
	t.Logf("%d /version probes of the old allocations during the rollout, %d failed", probes, len(probeErrs))
	if len(probeErrs) > 0 {
		t.Errorf("the old allocations were interrupted:\n%s", strings.Join(probeErrs, "\n"))
	}
	mu.Unlock()

	d1 := rc.deployment(t, "web", 1)
	g := d1.TaskGroups["g"]
	if d1.Status != cluster.DeploymentFailed || g == nil || g.Promoted || len(g.PlacedCanaries) != 1 {
		t.Errorf("deployment of version 1: %s (%s) %+v; want failed, one canary, never promoted", d1.Status, d1.StatusDescription, g)
	}
	if want := "rolling back to job version 0"; !strings.Contains(d1.StatusDescription, want) {
		t.Errorf("deployment of version 1: %q, want it to say %q", d1.StatusDescription, want)
	}
	job, _, err := rc.Client.Jobs().Info(context.Background(), "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	if env := job.Spec.Groups[0].Tasks[0].Env; job.Version != 2 || env["VERSION"] != "v1" || env["HEALTHY"] != "true" {
		t.Errorf("job after the revert: version %d env %v, want version 2 with v1's spec", job.Version, env)
	}
	if u := job.Spec.Groups[0].Update; u == nil || u.HealthyDeadline != 30*time.Second {
		t.Errorf("job after the revert: update %+v, want v1's (healthy_deadline 30s)", u)
	}
	// The revert updated the old allocations in place, in a deployment of
	// its own that their health completes: the job's latest deployment is
	// a successful one, not the failed canary's.
	waitUntil(t, "the revert's deployment to succeed", func() bool {
		ds, _, err := rc.Client.Deployments().List(context.Background(), &api.QueryOptions{Params: map[string]string{"job": "web"}})
		return err == nil && slices.ContainsFunc(ds, func(d *cluster.Deployment) bool {
			return d.JobVersion == 2 && d.Status == cluster.DeploymentSuccessful
		})
	})
	for _, old := range before {
		i := slices.IndexFunc(allocs, func(a *cluster.Allocation) bool { return a.ID == old.ID })
		if i < 0 {
			t.Errorf("old allocation %s is gone", shortID(old.ID))
			continue
		}
		a := allocs[i]
		st := a.TaskStates["srv"]
		if a.Terminal() || a.ClientStatus != cluster.AllocClientRunning || st == nil {
			t.Errorf("old allocation %s: desired %s client %s, want running", shortID(a.ID), a.DesiredStatus, a.ClientStatus)
			continue
		}
		if st.Restarts != 0 || slices.ContainsFunc(st.Events, func(e cluster.TaskEvent) bool {
			return e.Type == "Killing" || e.Type == "Killed" || e.Type == "Terminated" || e.Type == "Restarting"
		}) {
			t.Errorf("old allocation %s was interrupted:%s", shortID(a.ID), allocsText([]*cluster.Allocation{a}))
		}
		if v, err := rc.version(a); err != nil || v != "v1" {
			t.Errorf("old allocation %s: /version = %q, %v; want v1", shortID(a.ID), v, err)
		}
	}
	for _, a := range allocs {
		if a.JobVersion != 1 {
			continue
		}
		if a.DeploymentStatus == nil || !a.DeploymentStatus.Canary || a.DeploymentStatus.Healthy == nil || *a.DeploymentStatus.Healthy {
			t.Errorf("allocation %s of version 1: %+v, want an unhealthy canary", shortID(a.ID), a.DeploymentStatus)
		}
		if !a.Terminal() {
			t.Errorf("canary %s: desired %s client %s, want stopped", shortID(a.ID), a.DesiredStatus, a.ClientStatus)
		}
	}
}
