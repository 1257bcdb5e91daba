//go:build linux

package exec

import (
	"testing"
	"time"
)

// BenchmarkExecStart measures Start until the task's process runs (the
// shim reported its pid), plus Destroy, for `sleep 10`.
func BenchmarkExecStart(b *testing.B) {
	d := newDriver(b)
	cfg := shTask(b, "")
	cfg.Config = map[string]any{"command": "sleep", "args": []any{"10"}}
	var started time.Duration
	for b.Loop() {
		t0 := time.Now()
		h, err := d.Start(b.Context(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		started += time.Since(t0)
		if st := state(b, h); !running(st.PID, st.StartTime) {
			b.Fatal("task not running after Start")
		}
		if err := d.Destroy(b.Context(), h); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(started.Microseconds())/float64(b.N), "start-µs/op")
}
