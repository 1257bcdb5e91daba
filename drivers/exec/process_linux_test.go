//go:build linux

package exec

import (
	"os"
	osexec "os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func startSleep(t *testing.T, secs string) (*osexec.Cmd, uint64) {
	t.Helper()
	cmd := osexec.Command("sleep", secs)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	start, err := procStartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return cmd, start
}

func TestWaitGoneWakesOnExit(t *testing.T) {
	cmd, start := startSleep(t, "0.03")
	began := time.Now()
	if !waitGone(make(chan struct{}), cmd.Process.Pid, start) {
		t.Fatal("waitGone reported stopped")
	}
	// The pidfd wakes at once; the ticker fallback would take 250ms.
	if took := time.Since(began); took > 200*time.Millisecond {
		t.Errorf("waitGone took %v for a 30ms process: not woken by its pidfd", took)
	}
	if running(cmd.Process.Pid, start) {
		t.Error("waitGone returned while the process runs")
	}
}

func TestWaitGoneStops(t *testing.T) {
	cmd, start := startSleep(t, "30")
	stop := make(chan struct{})
	time.AfterFunc(20*time.Millisecond, func() { close(stop) })
	if waitGone(stop, cmd.Process.Pid, start) {
		t.Fatal("waitGone reported exit of a running process")
	}
}

func TestWaitGoneWrongStartTime(t *testing.T) {
	cmd, start := startSleep(t, "30")
	if !waitGone(make(chan struct{}), cmd.Process.Pid, start+1) {
		t.Fatal("a process with another start time is not ours; it is gone")
	}
}

func TestSignalGroupChecksStartTime(t *testing.T) {
	cmd := osexec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	start, _ := procStartTime(pid)
	if sent, err := signalGroup(pid, start+1, syscall.SIGKILL); sent || err != nil {
		t.Fatalf("signalGroup with a stale start time: sent=%v err=%v", sent, err)
	}
	if !running(pid, start) {
		t.Fatal("stale handle killed the process")
	}
	if sent, err := signalGroup(pid, start, syscall.SIGKILL); !sent || err != nil {
		t.Fatalf("signalGroup: sent=%v err=%v", sent, err)
	}
	_ = cmd.Wait()
	if sent, _ := signalGroup(pid, start, syscall.SIGKILL); sent {
		t.Error("signalled an exited process")
	}
}

func TestReadProcStatOddName(t *testing.T) {
	// comm may hold ") " and spaces: the parser must split after the
	// last ')'.
	bin := filepath.Join(t.TempDir(), "a) b (c")
	sleep, err := osexec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := osexec.Command(bin, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	st, err := readProcStat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	self, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.state != 'S' && st.state != 'R' {
		t.Errorf("state = %q", st.state)
	}
	if st.startTime < self.startTime {
		t.Errorf("child start time %d before ours %d", st.startTime, self.startTime)
	}
}
