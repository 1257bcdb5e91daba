//go:build linux

package exec

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/drivers"
)

func TestFingerprint(t *testing.T) {
	d := newDriver(t)
	fp := d.Fingerprint(t.Context())
	if !fp.Detected || !fp.Healthy {
		t.Fatalf("fingerprint = %+v", fp)
	}
	cg := d.cgroups()
	wantCg, wantLimits := "none", "false"
	if cg.enabled {
		wantCg, wantLimits = "v"+strconv.Itoa(cg.version), "true"
	}
	if fp.Attributes["driver.exec.cgroups"] != wantCg || fp.Attributes["driver.exec.limits_enforced"] != wantLimits {
		t.Errorf("attributes = %v, want cgroups=%s limits_enforced=%s", fp.Attributes, wantCg, wantLimits)
	}
	if !cg.enabled && fp.Attributes["driver.exec.limits_reason"] == "" {
		t.Error("limits not enforced, and no reason given")
	}
	if want := strconv.FormatBool(os.Geteuid() == 0); fp.Attributes["driver.exec.user_switching"] != want {
		t.Errorf("user_switching = %q, want %s", fp.Attributes["driver.exec.user_switching"], want)
	}
	t.Logf("fingerprint: %s %v", fp.Description, fp.Attributes)
}

func TestCgroupLimitsEnforced(t *testing.T) {
	d := newDriver(t)
	cg := d.cgroups()
	if !cg.enabled {
		t.Skipf("SKIPPED — CGROUP LIMITS ARE NOT TESTED ON THIS HOST: %s", cg.reason)
	}
	cfg := shTask(t, "sleep 300")
	cfg.Resources.CPU, cfg.Resources.MemoryMB = 500, 64
	h := start(t, d, cfg)
	st := state(t, h)
	var dirs []string
	switch cg.version {
	case 2:
		if st.Cgroup == "" {
			t.Fatal("no cgroup in the handle")
		}
		if got := strings.TrimSpace(readFile(t, filepath.Join(st.Cgroup, "memory.max"))); got != strconv.Itoa(64<<20) {
			t.Errorf("memory.max = %s", got)
		}
		if got := strings.TrimSpace(readFile(t, filepath.Join(st.Cgroup, "cpu.weight"))); got != strconv.Itoa(cpuWeight(500)) {
			t.Errorf("cpu.weight = %s", got)
		}
		dirs = []string{st.Cgroup}
	case 1:
		if len(st.CgroupV1) != 2 {
			t.Fatalf("cgroup v1 dirs in the handle = %v, want memory and cpu", st.CgroupV1)
		}
		mem, cpu := st.CgroupV1[0], st.CgroupV1[1]
		if got := strings.TrimSpace(readFile(t, filepath.Join(mem, "memory.limit_in_bytes"))); got != strconv.Itoa(64<<20) {
			t.Errorf("memory.limit_in_bytes = %s", got)
		}
		if _, err := os.Stat(filepath.Join(mem, "memory.memsw.limit_in_bytes")); err == nil {
			if got := strings.TrimSpace(readFile(t, filepath.Join(mem, "memory.memsw.limit_in_bytes"))); got != strconv.Itoa(64<<20) {
				t.Errorf("memory.memsw.limit_in_bytes = %s", got)
			}
		}
		if got := strings.TrimSpace(readFile(t, filepath.Join(cpu, "cpu.shares"))); got != "500" {
			t.Errorf("cpu.shares = %s", got)
		}
		dirs = st.CgroupV1
	}
	for _, dir := range dirs {
		procs := strings.Fields(readFile(t, filepath.Join(dir, "cgroup.procs")))
		if !slices.Contains(procs, strconv.Itoa(st.PID)) {
			t.Errorf("task %d is not in its cgroup %s (procs %v)", st.PID, dir, procs)
		}
		// The shim forked the task from a thread it moved into the
		// cgroup and then threw away: the shim itself stays outside.
		if slices.Contains(procs, strconv.Itoa(st.ShimPID)) {
			t.Errorf("shim %d is in the task's cgroup %s", st.ShimPID, dir)
		}
	}
	if err := d.Destroy(testCtx(t), h); err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s left after Destroy: %v", dir, err)
		}
	}
}

func TestCgroupV2(t *testing.T) {
	d := newDriver(t)
	if cg := d.cgroups(); cg.version != 2 {
		t.Skipf("SKIPPED — CGROUP V2 IS NOT TESTED: THIS HOST HAS NO CGROUP V2 HIERARCHY WITH CPU AND MEMORY AT /sys/fs/cgroup (cgroups: v%d %s)", cg.version, cg.reason)
	}
	// TestCgroupLimitsEnforced and TestCgroupOOMKill cover v2 on such a
	// host; this one only makes the skip visible on others.
}

func TestCgroupOOMKill(t *testing.T) {
	d := newDriver(t)
	if cg := d.cgroups(); !cg.enabled {
		t.Skipf("SKIPPED — CGROUP OOM KILL IS NOT TESTED ON THIS HOST: %s", cg.reason)
	}
	// 64 MiB of shell string in a 16 MiB cgroup.
	cfg := shTask(t, `x=$(head -c 67108864 /dev/zero | tr '\0' a); echo ${#x}`)
	cfg.Resources.MemoryMB = 16
	res := wait(t, d, start(t, d, cfg))
	if !res.OOMKilled {
		t.Errorf("exit = %+v, want OOMKilled", res)
	}
}

func TestStats(t *testing.T) {
	d := newDriver(t)
	// Busy for a while, holding ~8 MiB in a shell variable.
	cfg := shTask(t, `x=$(head -c 8388608 /dev/zero | tr '\0' a); echo $$ > ready; while :; do :; done`)
	h := start(t, d, cfg)
	waitFor(t, "task ready", exists(filepath.Join(cfg.Dir, "ready")))
	time.Sleep(200 * time.Millisecond) // let it burn some CPU
	var sr drivers.StatsReporter = d
	s, err := sr.Stats(t.Context(), h)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if s.MemoryRSSByte < 8<<20 {
		t.Errorf("RSS = %d bytes, want at least the 8 MiB the task holds", s.MemoryRSSByte)
	}
	if s.CPUUserTime+s.CPUSystemTime < 50*time.Millisecond {
		t.Errorf("CPU = %v user + %v system, want the busy loop's time", s.CPUUserTime, s.CPUSystemTime)
	}
	if err := d.Stop(testCtx(t), h, "SIGKILL", time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := sr.Stats(t.Context(), h); err == nil {
		t.Error("Stats of an exited task succeeded")
	}
}
