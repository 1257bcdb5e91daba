package docker

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/droverhq/drover/drivers"
)

// A container that holds some 16 MB in its shell and then spins: the
// daemon's one-shot sample reports that memory and CPU time that grows
// between two samples; a stopped and a destroyed task report an error,
// not zeros.
func TestStatsRunningContainer(t *testing.T) {
	d := newDriver(t)
	ensureBusyboxImage(t, d)
	a := newTestAlloc(t, "stats1")
	const held = 16 << 20
	cfg := a.shellTask(t, "burn", `bb=/bin/busybox
x=$($bb yes aaaaaaaaaaaaaaa | $bb head -c 16777216)
echo holding ${#x} bytes
while :; do :; done`)
	h := start(t, d, cfg)
	waitFor(t, "the task to hold its memory", func() bool { return strings.Contains(taskLog(t, cfg, "stdout"), "holding ") })
	t.Logf("task: %s", strings.TrimSpace(taskLog(t, cfg, "stdout")))

	first, err := d.Stats(testCtx(t), h)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	t.Logf("first sample: rss %d MiB, user %v, system %v", first.MemoryRSSByte>>20, first.CPUUserTime, first.CPUSystemTime)
	if first.MemoryRSSByte < held/2 {
		t.Errorf("rss %d bytes, want at least %d: the shell holds a %d-byte string", first.MemoryRSSByte, held/2, held)
	}
	if first.MemoryRSSByte > 1<<30 {
		t.Errorf("rss %d bytes for a shell holding 16 MiB: not the container's own", first.MemoryRSSByte)
	}
	if since := time.Since(first.Time); first.Time.IsZero() || since < -time.Minute || since > time.Minute {
		t.Errorf("sample time %v is not now", first.Time)
	}

	// The shell spins; cgroup v1 counts CPU time in 10 ms ticks, so give
	// the counter a moment rather than expecting it to move at once.
	var second *drivers.TaskStats
	waitFor(t, "CPU time to grow between samples", func() bool {
		second, err = d.Stats(testCtx(t), h)
		if err != nil {
			t.Fatalf("second Stats: %v", err)
		}
		return second.CPUUserTime+second.CPUSystemTime > first.CPUUserTime+first.CPUSystemTime
	})
	t.Logf("second sample: rss %d MiB, user %v, system %v", second.MemoryRSSByte>>20, second.CPUUserTime, second.CPUSystemTime)
	if second.CPUUserTime < first.CPUUserTime || second.CPUSystemTime < first.CPUSystemTime {
		t.Errorf("a CPU counter went backwards: %+v then %+v", first, second)
	}
	if second.CPUUserTime == 0 {
		t.Errorf("a spinning shell used no user CPU time: %+v", second)
	}
	if second.MemoryRSSByte < held/2 {
		t.Errorf("second rss %d bytes, want at least %d", second.MemoryRSSByte, held/2)
	}

	if err := d.Stop(testCtx(t), h, "SIGKILL", time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if s, err := d.Stats(testCtx(t), h); err == nil {
		t.Errorf("Stats of a stopped task = %+v, want an error", s)
	}
	if err := d.Destroy(testCtx(t), h); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if s, err := d.Stats(testCtx(t), h); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Errorf("Stats of a destroyed task = %+v, %v; want ErrTaskNotFound", s, err)
	}
}

func TestStatsMemoryRSS(t *testing.T) {
	for _, tc := range []struct {
		name   string
		m      container.MemoryStats
		want   uint64
		wantOK bool
	}{
		{"cgroup v1 prefers the subtree's rss", container.MemoryStats{Usage: 900, Stats: map[string]uint64{"rss": 100, "total_rss": 150, "total_inactive_file": 500}}, 150, true},
		{"cgroup v1 rss alone", container.MemoryStats{Usage: 900, Stats: map[string]uint64{"rss": 100}}, 100, true},
		{"cgroup v1 rss of zero is an answer", container.MemoryStats{Usage: 900, Stats: map[string]uint64{"total_rss": 0, "total_inactive_file": 100}}, 0, true},
		{"cgroup v2 anon", container.MemoryStats{Usage: 900, Stats: map[string]uint64{"anon": 300, "inactive_file": 400, "file": 500}}, 300, true},
		{"v1 fallback: usage less inactive cache", container.MemoryStats{Usage: 900, Stats: map[string]uint64{"total_inactive_file": 400, "inactive_file": 100}}, 500, true},
		{"v2 fallback: usage less inactive cache", container.MemoryStats{Usage: 900, Stats: map[string]uint64{"inactive_file": 400}}, 500, true},
		{"inactive cache over usage is ignored", container.MemoryStats{Usage: 300, Stats: map[string]uint64{"inactive_file": 400}}, 300, true},
		{"usage only", container.MemoryStats{Usage: 700}, 700, true},
		{"no memory figures", container.MemoryStats{}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := memoryRSS(tc.m)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("memoryRSS(%+v) = %d, %v; want %d, %v", tc.m, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestStatsDecode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		want    drivers.TaskStats
		wantErr string
	}{
		{"cgroup v1 sample", `{"read":"2026-01-02T03:04:05Z","cpu_stats":{"cpu_usage":{"total_usage":3000000000,"usage_in_usermode":2000000000,"usage_in_kernelmode":500000000}},"memory_stats":{"usage":9000000,"stats":{"rss":4000000,"total_rss":4096000}}}`,
			drivers.TaskStats{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), MemoryRSSByte: 4096000, CPUUserTime: 2 * time.Second, CPUSystemTime: 500 * time.Millisecond}, ""},
		// What the daemon sends for a stopped container with stream=false.
		{"empty sample of a stopped container", `{"read":"0001-01-01T00:00:00Z","name":"/x","id":"abc","cpu_stats":{"cpu_usage":{"total_usage":0}},"memory_stats":{}}`,
			drivers.TaskStats{}, "not running"},
		{"no memory figures", `{"read":"2026-01-02T03:04:05Z","cpu_stats":{"cpu_usage":{"usage_in_usermode":1}},"memory_stats":{}}`,
			drivers.TaskStats{}, "memory cgroup controller"},
		{"not JSON", `<html>`, drivers.TaskStats{}, "decode the daemon's stats"},
		{"over the bound", `{"read":"2026-01-02T03:04:05Z","name":"` + strings.Repeat("a", maxStatsBody) + `"}`,
			drivers.TaskStats{}, "over 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeStats(strings.NewReader(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("decodeStats = %+v, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Time.Equal(tc.want.Time) || got.MemoryRSSByte != tc.want.MemoryRSSByte || got.CPUUserTime != tc.want.CPUUserTime || got.CPUSystemTime != tc.want.CPUSystemTime {
				t.Errorf("decodeStats = %+v, want %+v", *got, tc.want)
			}
		})
	}
}
