//go:build linux

package exec

import (
	"bufio"
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/drivers"
)

// gone reports whether pid has exited (zombies included: they run no
// code and hold nothing but a slot).
func gone(pid int) bool {
	st, err := readProcStat(pid)
	return err != nil || st.state == 'Z'
}

func pidsIn(t *testing.T, path string) []int {
	t.Helper()
	var pids []int
	sc := bufio.NewScanner(strings.NewReader(readFile(t, path)))
	for sc.Scan() {
		n, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		pids = append(pids, n)
	}
	return pids
}

func TestStopEscalatesToKillForWholeGroup(t *testing.T) {
	d := newDriver(t)
	// The shell ignores SIGINT; its background children do too (POSIX
	// makes async lists of a non-interactive shell ignore it).
	cfg := shTask(t, `trap "" INT; sleep 300 & echo $! > kids; sleep 300 & echo $! >> kids; echo $$ > ready; wait`)
	h := start(t, d, cfg)
	waitFor(t, "task ready", exists(filepath.Join(cfg.Dir, "ready")))
	pids := append(pidsIn(t, filepath.Join(cfg.Dir, "kids")), state(t, h).PID)
	for _, p := range pids {
		if gone(p) {
			t.Fatalf("pid %d gone before Stop", p)
		}
	}

	const timeout = 300 * time.Millisecond
	began := time.Now()
	if err := d.Stop(testCtx(t), h, "SIGINT", timeout); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(began); took < timeout {
		t.Errorf("Stop returned after %v, before the kill timeout %v, though the task ignores SIGINT", took, timeout)
	}
	for _, p := range pids {
		if !gone(p) {
			t.Errorf("pid %d survived Stop", p)
		}
	}
	if res := wait(t, d, h); res.Signal != int(syscall.SIGKILL) || res.ExitCode != 128+9 {
		t.Errorf("exit = %+v, want killed by SIGKILL", res)
	}
}

func TestStopGracefulWithTaskKillSignal(t *testing.T) {
	d := newDriver(t)
	cfg := shTask(t, `trap 'echo bye; exit 0' TERM; echo $$ > ready; while :; do sleep 0.05; done`)
	cfg.KillSignal, cfg.KillTimeout = "term", 20*time.Second
	h := start(t, d, cfg)
	waitFor(t, "task ready", exists(filepath.Join(cfg.Dir, "ready")))

	began := time.Now()
	if err := d.Stop(testCtx(t), h, "", 0); err != nil { // signal and timeout from the task
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("graceful stop took %v: SIGTERM was not delivered", took)
	}
	if res := wait(t, d, h); !res.Successful() {
		t.Errorf("exit = %+v, want 0 from the trap", res)
	}
	if got := readFile(t, filepath.Join(cfg.AllocDir, "logs", "web.stdout.0")); got != "bye\n" {
		t.Errorf("stdout = %q", got)
	}
}

func TestStopRejectsUnknownSignal(t *testing.T) {
	d := newDriver(t)
	cfg := shTask(t, "sleep 30")
	h := start(t, d, cfg)
	err := d.Stop(testCtx(t), h, "SIGNOPE", time.Second)
	if err == nil || !strings.Contains(err.Error(), `unknown signal "SIGNOPE"`) {
		t.Fatalf("Stop with a bad signal: %v", err)
	}
	if gone(state(t, h).PID) {
		t.Error("a bad signal name killed the task")
	}
}

func TestExitedTaskKillsItsLeftovers(t *testing.T) {
	d := newDriver(t)
	cfg := shTask(t, `sleep 300 & echo $! > kid; exit 2`)
	h := start(t, d, cfg)
	if res := wait(t, d, h); res.ExitCode != 2 {
		t.Fatalf("exit = %+v", res)
	}
	if kid := pidsIn(t, filepath.Join(cfg.Dir, "kid"))[0]; !gone(kid) {
		t.Errorf("background child %d outlived its task", kid)
	}
}

func TestWaitAndStopUnknownHandle(t *testing.T) {
	d := newDriver(t)
	h := &drivers.TaskHandle{Driver: Name, TaskID: "nope"}
	if _, err := d.Wait(t.Context(), h); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Errorf("Wait: %v", err)
	}
	if err := d.Stop(testCtx(t), h, "", 0); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Errorf("Stop: %v", err)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	d := newDriver(t)
	h := start(t, d, shTask(t, "sleep 30"))
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := d.Wait(ctx, h); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want deadline exceeded", err)
	}
}

func TestDestroyKillsAndForgets(t *testing.T) {
	d := newDriver(t)
	h := start(t, d, shTask(t, "sleep 300"))
	st := state(t, h)
	if err := d.Destroy(testCtx(t), h); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if !gone(st.PID) {
		t.Error("task survived Destroy")
	}
	if _, err := d.Wait(t.Context(), h); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Errorf("Wait after Destroy: %v", err)
	}
}
