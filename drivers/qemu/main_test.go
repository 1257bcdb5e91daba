package qemu

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
	"testing"
	"time"

	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/drivers/driverstest"
	execdriver "github.com/droverhq/drover/drivers/exec"
	"github.com/droverhq/drover/drivers/qemu/qemutest"
)

// The test binary doubles as the exec driver's shim, the process runner
// that keeps qemu across agent restarts.
const shimEnvVar = "DROVER_QEMU_TEST_SHIM"

func TestMain(m *testing.M) {
	if os.Getenv(shimEnvVar) == "1" {
		os.Exit(execdriver.ShimMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// newRunner is the exec driver an agent would pass, with the test binary
// as its shim.
func newRunner(t testing.TB) *execdriver.Driver {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := execdriver.DefaultConfig()
	cfg.ShimCommand = []string{exe}
	cfg.ShimEnv = []string{shimEnvVar + "=1", "GORACE=atexit_sleep_ms=0"}
	cfg.CgroupParent = "drover-qemu-test"
	cfg.Isolation = nil // the agent's qemu runner runs QEMU on the host
	cfg.Logger = driverstest.Logger(t)
	r, err := execdriver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// newDriver is a qemu driver over a fresh runner.
func newDriver(t testing.TB, mod ...func(*Config)) (*Driver, *execdriver.Driver) {
	t.Helper()
	r := newRunner(t)
	cfg := DefaultConfig(r)
	cfg.Logger = driverstest.Logger(t)
	for _, m := range mod {
		m(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d, r
}

// requireQEMU skips the test, loudly, when QEMU is not installed.
func requireQEMU(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip(qemutest.SkipNoQEMU)
	}
}

// vmTask is a task with a blank disk image in its directory and one
// group port, "http", on a free host port forwarded to the guest's 80.
func vmTask(t testing.TB, allocID string) (*drivers.TaskConfig, int) {
	t.Helper()
	alloc := t.TempDir()
	dir := filepath.Join(alloc, "vm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "disk.img"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	return &drivers.TaskConfig{
		ID:          allocID + "/vm",
		AllocID:     allocID,
		JobName:     "vm-job",
		TaskName:    "vm",
		Config:      map[string]any{"image_path": "disk.img"},
		Env:         map[string]string{"PATH": "/usr/bin:/bin"},
		Dir:         dir,
		AllocDir:    alloc,
		Logs:        drivers.LogConfig{MaxFiles: 2, MaxFileSizeMB: 1},
		Ports:       []drivers.Port{{Label: "http", HostIP: "127.0.0.1", HostPort: port, ContainerPort: 80}},
		KillTimeout: 30 * time.Second,
	}, port
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// get polls url until it answers 200 within d, and returns the body.
func get(t testing.TB, url string, d time.Duration) string {
	t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(d)
	for {
		resp, err := c.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(body)
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: no 200 within %v: %v", url, d, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func console(t testing.TB, cfg *drivers.TaskConfig) string {
	t.Helper()
	var all []byte
	for i := range 5 {
		b, err := os.ReadFile(filepath.Join(cfg.AllocDir, "logs", fmt.Sprintf("vm.stdout.%d", i)))
		if err == nil {
			all = append(all, b...)
		}
	}
	return string(all)
}

// qemuPID is the qemu process's pid, from the runner's handle state.
func qemuPID(t testing.TB, h *drivers.TaskHandle) int {
	t.Helper()
	st := stateOf(t, h)
	var rs struct {
		PID int `json:"pid"`
	}
	if err := json.Unmarshal(st.Runner.State, &rs); err != nil || rs.PID <= 0 {
		t.Fatalf("no pid in the runner's state %s: %v", st.Runner.State, err)
	}
	return rs.PID
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
