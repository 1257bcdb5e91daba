//go:build linux

package exec

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/drivers"
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

// BenchmarkExecStartParallel starts 100 isolated `sleep` tasks at once, as
// an agent handed many allocations does, and reports the wall time until
// all run, per task, and the median and slowest single Start. Each shim's
// start is mostly CPU, so on a small node these queue for the cores.
func BenchmarkExecStartParallel(b *testing.B) {
	const n = 100
	d := isolatedDriver(b)
	var total time.Duration
	var starts []time.Duration
	for b.Loop() {
		cfgs := make([]*drivers.TaskConfig, n)
		for i := range cfgs {
			c := isoTask(b, "")
			c.ID = fmt.Sprintf("a%d/web", i)
			c.AllocID = fmt.Sprintf("a%d", i)
			c.Config = map[string]any{"command": "/bin/sleep", "args": []any{"100"}}
			cfgs[i] = c
		}
		handles := make([]*drivers.TaskHandle, n)
		took := make([]time.Duration, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		t0 := time.Now()
		for i, c := range cfgs {
			wg.Go(func() {
				s := time.Now()
				handles[i], errs[i] = d.Start(b.Context(), c)
				took[i] = time.Since(s)
			})
		}
		wg.Wait()
		total += time.Since(t0)
		for _, h := range handles {
			if h == nil {
				continue
			}
			wg.Go(func() {
				if err := d.Destroy(context.Background(), h); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			b.Fatal(err)
		}
		starts = append(starts, took...)
	}
	slices.Sort(starts)
	b.ReportMetric(float64(total.Microseconds())/float64(b.N*n), "wall-µs/task")
	b.ReportMetric(float64(starts[len(starts)/2].Milliseconds()), "p50-start-ms")
	b.ReportMetric(float64(starts[len(starts)-1].Milliseconds()), "max-start-ms")
}
