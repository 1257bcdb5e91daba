package agent

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/server/servertest"
)

// BenchmarkPlacementToRunning measures, for 200 allocations placed one
// after another on one agent, the time from the plan that placed each
// (its CreateTime, stamped when the plan is applied) to its task's
// process running (StartedAt, stamped when the exec driver reported the
// process started). Both clocks are this machine's.
func BenchmarkPlacementToRunning(b *testing.B) {
	// isolation=chroot is the default exec (namespaces, chroot of bind
	// mounts, nobody); isolation=none is the host process the exec
	// driver started before issue 13, as raw_exec still does: side by
	// side, the cost of isolation.
	b.Run("isolation=chroot", func(b *testing.B) {
		benchPlacementToRunning(b, nodeDrivers(b, false))
	})
	b.Run("isolation=none", func(b *testing.B) {
		benchPlacementToRunning(b, []drivers.Driver{testDriver(b)})
	})
}

func benchPlacementToRunning(b *testing.B, ds []drivers.Driver) {
	const n = 200
	srv := servertest.Single(b)
	cfg := agentConfig(b, srv, b.TempDir(), "bench")
	cfg.Drivers = ds
	startAgent(b, cfg)
	var ids []string
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		for _, id := range ids {
			_, _ = srv.Client.Jobs().Deregister(ctx, id, false)
		}
		for _, id := range ids {
			waitAllocs(b, srv.Client, id, "stop", func(as []*cluster.Allocation) bool {
				return len(as) == 0 || as[0].ClientStatus != cluster.AllocClientRunning
			})
		}
	})
	var lat []time.Duration
	b.ResetTimer()
	for it := range b.N {
		for i := range n {
			id := fmt.Sprintf("bench-%d-%d", it, i)
			ids = append(ids, id)
			submit(b, srv.Client, fmt.Sprintf(`
job %q {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      resources {
        cpu    = 1
        memory = 10
      }
    }
  }
}`, id))
			allocs := waitAllocs(b, srv.Client, id, "running", allStatus(cluster.AllocClientRunning, 1))
			lat = append(lat, allocs[0].TaskStates["t"].StartedAt.Sub(allocs[0].CreateTime))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
