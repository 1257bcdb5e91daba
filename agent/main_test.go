package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/drivers/exec"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/server/servertest"
	"github.com/droverhq/drover/state/statetest"
)

// The test binary doubles as the exec driver's shim, as drover's main
// does in production.
const shimEnv = "DROVER_AGENT_TEST_SHIM"

func TestMain(m *testing.M) {
	if os.Getenv(shimEnv) == "1" {
		os.Exit(exec.ShimMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// waitTimeout bounds every wait; generous, the machine is shared.
const waitTimeout = 60 * time.Second

func testDriver(t testing.TB) *exec.Driver {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := exec.DefaultConfig()
	cfg.ShimCommand = []string{exe}
	cfg.ShimEnv = []string{shimEnv + "=1"}
	cfg.CgroupParent = "drover-agent-test"
	// Host processes, as raw_exec runs them: these tests are about the
	// agent, and read the pids and host paths their tasks print.
	// isolation_test.go runs isolated exec through the agent.
	cfg.Isolation = nil
	d, err := exec.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// testAgent is a running agent the test owns.
type testAgent struct {
	*Agent
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func agentConfig(t testing.TB, srv *servertest.Server, dataDir, name string) Config {
	cfg := DefaultConfig()
	cfg.DataDir = dataDir
	cfg.Servers = []string{srv.HTTPAddr()}
	cfg.NodeName = name
	cfg.Drivers = []drivers.Driver{testDriver(t)}
	cfg.MaxBackoff = 500 * time.Millisecond
	cfg.Logger = statetest.Logger(t).With("agent", name)
	return cfg
}

func startAgent(t testing.TB, cfg Config) *testAgent {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("new agent: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ta := &testAgent{Agent: a, cancel: cancel, done: make(chan error, 1)}
	go func() { ta.done <- a.Run(ctx) }()
	t.Cleanup(func() { ta.stop(t) })
	select {
	case <-a.Registered():
	case err := <-ta.done:
		t.Fatalf("agent exited: %v", err)
	case <-time.After(waitTimeout):
		t.Fatal("agent did not register")
	}
	return ta
}

// stop stops the agent (its tasks keep running unless configured).
func (ta *testAgent) stop(t testing.TB) {
	ta.once.Do(func() {
		ta.cancel()
		select {
		case err := <-ta.done:
			if err != nil {
				t.Errorf("agent: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("agent did not stop")
		}
	})
}

// cleanupTasks stops the jobs when the test ends, while its agents still
// run, and waits until their tasks are gone, so none outlives the test.
// Register it after startAgent: cleanups run last-in first-out.
func cleanupTasks(t testing.TB, srv *servertest.Server, jobIDs ...string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		for _, id := range jobIDs {
			if _, err := srv.Client.Jobs().Deregister(ctx, id, false); err != nil {
				t.Errorf("cleanup: stop %s: %v", id, err)
				continue
			}
			var index uint64
			for ctx.Err() == nil {
				allocs, meta, err := srv.Client.Jobs().Allocations(ctx, id, &api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second})
				if err != nil {
					break
				}
				index = meta.LastIndex
				live := false
				for _, a := range allocs {
					switch a.ClientStatus {
					case cluster.AllocClientPending, cluster.AllocClientRunning:
						live = true
					}
				}
				if !live {
					break
				}
			}
		}
	})
}

func parseJob(t testing.TB, src string) *jobspec.Job {
	t.Helper()
	f, diags := jobspec.Parse("job.hcl", []byte(src), nil)
	if diags.HasErrors() {
		t.Fatalf("parse job: %v", diags)
	}
	return f.Job
}

func submit(t testing.TB, c *api.Client, src string) *jobspec.Job {
	t.Helper()
	j := parseJob(t, src)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := c.Jobs().Register(ctx, &api.JobRegisterRequest{Job: j}); err != nil {
		t.Fatalf("register job: %v", err)
	}
	return j
}

// waitAllocs follows the job's allocations with blocking queries until
// cond holds for them.
func waitAllocs(t testing.TB, c *api.Client, jobID, what string, cond func([]*cluster.Allocation) bool) []*cluster.Allocation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var index uint64
	var last []*cluster.Allocation
	for {
		allocs, meta, err := c.Jobs().Allocations(ctx, jobID, &api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second})
		if err != nil {
			t.Fatalf("waiting for %s: %v\nlast allocations:\n%s", what, err, describeAllocs(last))
		}
		last = allocs
		if cond(allocs) {
			return allocs
		}
		index = meta.LastIndex
	}
}

func describeAllocs(allocs []*cluster.Allocation) string {
	var b strings.Builder
	for _, a := range allocs {
		fmt.Fprintf(&b, "  %s %s desired=%s client=%s (%s)\n", a.ID[:8], a.Name, a.DesiredStatus, a.ClientStatus, a.ClientDescription)
		for name, st := range a.TaskStates {
			fmt.Fprintf(&b, "    task %s: %s failed=%v restarts=%d\n", name, st.State, st.Failed, st.Restarts)
			for _, e := range st.Events {
				fmt.Fprintf(&b, "      %s: %s\n", e.Type, e.Message)
			}
		}
	}
	return b.String()
}

func allStatus(status string, n int) func([]*cluster.Allocation) bool {
	return func(allocs []*cluster.Allocation) bool {
		c := 0
		for _, a := range allocs {
			if a.ClientStatus == status {
				c++
			}
		}
		return c >= n
	}
}

func hasEvent(st *cluster.TaskState, typ, msg string) bool {
	if st == nil {
		return false
	}
	for _, e := range st.Events {
		if e.Type == typ && (msg == "" || e.Message == msg) {
			return true
		}
	}
	return false
}

// waitFile polls for a file a task writes: the outside world, not the
// agent, which is only ever awaited through blocking queries.
func waitFile(t testing.TB, path string) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 && strings.HasSuffix(string(b), "\n") {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func allocDirOf(ta *testAgent, allocID string) string {
	return filepath.Join(ta.cfg.DataDir, "allocs", allocID)
}
