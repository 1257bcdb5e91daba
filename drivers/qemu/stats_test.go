package qemu

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/drivers"
)

// A running VM (TCG, the BIOS looking for something to boot on a blank
// disk) reports the qemu process's use through the runner: the memory of
// QEMU and the guest RAM it touched, and the CPU time of emulation.
// Stopped and destroyed VMs report errors, not zeros.
func TestStatsRunningVM(t *testing.T) {
	requireQEMU(t)
	d, _ := newDriver(t)
	cfg, _ := vmTask(t, "stats1")
	cfg.Config["accelerator"] = "tcg"
	h, err := d.Start(testCtx(t, time.Minute), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = d.Destroy(testCtx(t, 30*time.Second), h) })

	var s *drivers.TaskStats
	deadline := time.Now().Add(30 * time.Second)
	for {
		if s, err = d.Stats(testCtx(t, 10*time.Second), h); err != nil {
			t.Fatalf("Stats: %v", err)
		}
		if s.MemoryRSSByte > 16<<20 && s.CPUUserTime+s.CPUSystemTime > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s the VM reports rss %d bytes and CPU %v+%v; want over 16 MiB and some CPU", s.MemoryRSSByte, s.CPUUserTime, s.CPUSystemTime)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("VM (pid %d): rss %d MiB, user %v, system %v", qemuPID(t, h), s.MemoryRSSByte>>20, s.CPUUserTime, s.CPUSystemTime)

	if err := d.Stop(testCtx(t, 30*time.Second), h, "SIGKILL", time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if s, err := d.Stats(testCtx(t, 10*time.Second), h); err == nil {
		t.Errorf("Stats of a stopped VM = %+v, want an error", s)
	}
	if err := d.Destroy(testCtx(t, 30*time.Second), h); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if s, err := d.Stats(testCtx(t, 10*time.Second), h); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Errorf("Stats of a destroyed VM = %+v, %v; want ErrTaskNotFound", s, err)
	}
}

// statslessRunner is the exec driver with its Stats hidden: a process
// runner that can run QEMU but not measure it.
type statslessRunner struct{ drivers.Driver }

// A runner that cannot report is an error that says so, not zeros.
func TestStatsRunnerWithoutStats(t *testing.T) {
	d, err := New(Config{Runner: statslessRunner{newRunner(t)}})
	if err != nil {
		t.Fatal(err)
	}
	h := &drivers.TaskHandle{Driver: Name, TaskID: "a/vm", State: []byte(`{}`)}
	s, err := d.Stats(t.Context(), h)
	if err == nil || !strings.Contains(err.Error(), `the process runner (driver "exec") cannot report resource use`) {
		t.Fatalf("Stats = %+v, %v; want the runner's inability", s, err)
	}
}
