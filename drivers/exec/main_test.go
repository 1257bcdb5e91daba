package exec

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/drivers/driverstest"
)

// The test binary doubles as the shim and as a throwaway agent, the way
// os/exec's own tests re-execute themselves, so no cmd/ change is needed.
const (
	shimEnvVar  = "DROVER_EXEC_TEST_SHIM"
	agentEnvVar = "DROVER_EXEC_TEST_AGENT" // value: a TaskConfig as JSON
	// agentIsolatedEnvVar=1 makes that agent's driver isolate its task.
	agentIsolatedEnvVar = "DROVER_EXEC_TEST_AGENT_ISOLATED"
)

func TestMain(m *testing.M) {
	if os.Getenv(shimEnvVar) == "1" {
		os.Exit(ShimMain(os.Args[1:]))
	}
	if cfg := os.Getenv(agentEnvVar); cfg != "" {
		os.Exit(agentMain(cfg, os.Getenv(agentIsolatedEnvVar) == "1"))
	}
	os.Exit(m.Run())
}

// agentMain is an agent that starts one task, prints its handle, and
// waits to be killed: the test then plays the restarted agent.
func agentMain(cfgJSON string, isolated bool) int {
	var cfg drivers.TaskConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	dcfg := testConfig(nil)
	if isolated {
		dcfg.Isolation = DefaultIsolation()
	}
	d, err := New(dcfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	h, err := d.Start(context.Background(), &cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := json.NewEncoder(os.Stdout).Encode(h); err != nil {
		return 2
	}
	time.Sleep(time.Hour)
	return 0
}

// testConfig runs tasks as host processes, the raw_exec way, which most
// tests here are about (shim, logs, signals, re-attach); isolation_test.go
// tests isolated tasks.
func testConfig(log *slog.Logger) Config {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	cfg := DefaultConfig()
	cfg.ShimCommand = []string{exe}
	// A race-enabled binary sleeps a second at exit by default; the shim
	// is one, and Wait would measure that sleep.
	cfg.ShimEnv = []string{shimEnvVar + "=1", "GORACE=atexit_sleep_ms=0"}
	cfg.CgroupParent = "drover-test"
	cfg.Isolation = nil
	cfg.Logger = log
	return cfg
}

func newDriver(t testing.TB) *Driver {
	t.Helper()
	log := driverstest.Logger(t)
	if _, bench := t.(*testing.B); bench {
		log = nil // a log line per iteration drowns the result
	}
	d, err := New(testConfig(log))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// shTask is a task running script with /bin/sh in a fresh alloc dir.
func shTask(t testing.TB, script string) *drivers.TaskConfig {
	t.Helper()
	alloc := t.TempDir()
	dir := filepath.Join(alloc, "web")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &drivers.TaskConfig{
		ID:       "a1b2c3/web",
		AllocID:  "a1b2c3",
		JobName:  "job",
		TaskName: "web",
		Config:   map[string]any{"command": "/bin/sh", "args": []any{"-c", script}},
		Env:      map[string]string{"PATH": "/usr/bin:/bin"},
		Dir:      dir,
		AllocDir: alloc,
		Logs:     drivers.LogConfig{MaxFiles: 3, MaxFileSizeMB: 1},
	}
}

func start(t testing.TB, d *Driver, cfg *drivers.TaskConfig) *drivers.TaskHandle {
	t.Helper()
	h, err := d.Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Destroy(ctx, h)
	})
	return h
}

func wait(t testing.TB, d *Driver, h *drivers.TaskHandle) drivers.ExitResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	res, err := d.Wait(ctx, h)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return res
}

func state(t testing.TB, h *drivers.TaskHandle) handleState {
	t.Helper()
	return driverstest.State[handleState](t, h)
}

// waitFor polls a condition of the outside world (a file the task
// writes); the driver itself is never polled in these tests.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func exists(path string) func() bool {
	return func() bool { _, err := os.Stat(path); return err == nil }
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testCtx bounds a call that would hang if the driver were broken.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
