//go:build linux

package exec

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/drivers/driverstest"
)

// startInAgent starts cfg from a separate agent process and kills that
// agent with SIGKILL, as a crash would; the task's shim must carry on
// without its parent. It returns the handle as the agent persisted it.
func startInAgent(t *testing.T, cfg *drivers.TaskConfig, env ...string) *drivers.TaskHandle {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	agent := osexec.Command(exe, "-test.run=^$")
	agent.Env = append(append(os.Environ(), agentEnvVar+"="+string(b)), env...)
	agent.Stderr = driverstest.LogWriter(t)
	out, err := agent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	var h drivers.TaskHandle
	if err := json.NewDecoder(out).Decode(&h); err != nil {
		_ = agent.Process.Kill()
		_ = agent.Wait()
		t.Fatalf("agent did not report a handle: %v", err)
	}
	_ = agent.Process.Kill()
	_ = agent.Wait()
	return &h
}

func TestRecoverAfterAgentCrash(t *testing.T) {
	cfg := shTask(t, `echo $$ > pid; echo before; while [ ! -e go ]; do sleep 0.02; done; echo after; exit 7`)
	h := startInAgent(t, cfg)
	st := state(t, h)
	waitFor(t, "task pid file", exists(filepath.Join(cfg.Dir, "pid")))
	if !running(st.ShimPID, st.ShimStartTime) || !running(st.PID, st.StartTime) {
		t.Fatal("the agent's death took the shim or the task with it")
	}

	d := newDriver(t) // the restarted agent
	if err := d.Recover(t.Context(), h); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	t.Cleanup(func() { _ = d.Destroy(context.Background(), h) })
	if got := pidsIn(t, filepath.Join(cfg.Dir, "pid"))[0]; got != st.PID {
		t.Errorf("task pid %d, handle says %d", got, st.PID)
	}
	if err := os.WriteFile(filepath.Join(cfg.Dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := wait(t, d, h); res.ExitCode != 7 || res.Err != nil {
		t.Fatalf("exit = %+v, want 7", res)
	}
	if got := readFile(t, filepath.Join(cfg.AllocDir, "logs", "web.stdout.0")); got != "before\nafter\n" {
		t.Errorf("stdout = %q: logging stopped with the agent", got)
	}
}

func TestRecoverTaskThatExitedWhileAgentWasDown(t *testing.T) {
	cfg := shTask(t, `while [ ! -e go ]; do sleep 0.02; done; exit 4`)
	h := startInAgent(t, cfg)
	st := state(t, h)
	if err := os.WriteFile(filepath.Join(cfg.Dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "exit status file", exists(st.StatusPath))
	waitFor(t, "shim exit", func() bool { return !running(st.ShimPID, st.ShimStartTime) })

	d := newDriver(t)
	if err := d.Recover(t.Context(), h); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if res := wait(t, d, h); res.ExitCode != 4 || res.Err != nil {
		t.Fatalf("exit = %+v, want the recorded 4", res)
	}
	if err := d.Destroy(testCtx(t), h); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if _, err := os.Stat(st.StatusPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Destroy left the status file: %v", err)
	}
}

func TestRecoverNeverSignalsARecycledPID(t *testing.T) {
	// A live process that is not our task, at the pid the handle names.
	stranger := osexec.Command("sleep", "30")
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stranger.Process.Kill(); _ = stranger.Wait() })
	pid := stranger.Process.Pid
	realStart, err := procStartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(handleState{
		PID: pid, StartTime: realStart + 1, ShimPID: pid, ShimStartTime: realStart + 1,
		StatusPath: filepath.Join(t.TempDir(), statusFile),
	})
	h := &drivers.TaskHandle{Driver: Name, TaskID: "old/web", State: raw}

	d := newDriver(t)
	if err := d.Recover(t.Context(), h); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	res := wait(t, d, h)
	if !errors.Is(res.Err, drivers.ErrExitUnknown) {
		t.Errorf("exit = %+v, want ErrExitUnknown", res)
	}
	if err := d.Stop(testCtx(t), h, "SIGKILL", 10*time.Millisecond); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := d.Destroy(testCtx(t), h); err != nil {
		t.Errorf("Destroy: %v", err)
	}
	if !running(pid, realStart) {
		t.Fatal("the driver killed a process that merely reused the task's pid")
	}
}
