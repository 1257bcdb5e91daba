package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

// BenchmarkTemplateRerender measures live templates with a real server
// and agent: how long after their data changes a task's rendered file
// on disk shows it.
//
//   - service: api's count alternates 2 ↔ 3 (a new job version each
//     time); the clock starts when a blocking query on the catalog
//     sees the new instance list and stops when web's file lists it.
//   - variable: from the PUT of a variable (its Raft write included)
//     to the file showing the new value.
//
// Run with a fixed count: go test ./agent -run '^$' -bench TemplateRerender -benchtime 20x
func BenchmarkTemplateRerender(b *testing.B) {
	srv := servertest.Single(b)
	ta := startAgent(b, agentConfig(b, srv, b.TempDir(), "n1"))
	cleanupTasks(b, srv, "web", "api", "benchvar")
	report := func(b *testing.B, lat []time.Duration) {
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
		b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
		b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	}
	template := func(data string) string {
		return `
      template {
        data        = "` + data + `"
        destination = "local/out"
        change_mode = "noop"
      }`
	}

	b.Run("service", func(b *testing.B) {
		submit(b, srv.Client, strings.Replace(apiJob, "COUNT", "2", 1))
		waitAllocs(b, srv.Client, "api", "api to run", allStatus(cluster.AllocClientRunning, 2))
		submit(b, srv.Client, `job "web" {
  datacenters = ["dc1"]
  group "g" {`+strings.Replace(hupTask, "%s", template(`{{ range nomadService \"api\" }}{{ .Address }}:{{ .Port }}\n{{ end }}`), 1)+`
  }
}`)
		web := waitAllocs(b, srv.Client, "web", "web to run", allStatus(cluster.AllocClientRunning, 1))
		out := filepath.Join(allocDirOf(ta, web[0].ID), "t", "local", "out")
		lines := func() int {
			data, _ := os.ReadFile(out)
			return strings.Count(string(data), "\n")
		}
		var lat []time.Duration
		b.ResetTimer()
		for i := range b.N {
			want := 3 - i%2
			seen := make(chan time.Time, 1)
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			go func() { seen <- catalogSeen(ctx, srv.Client, "api", want) }()
			submit(b, srv.Client, strings.Replace(apiJob, "COUNT", fmt.Sprint(want), 1))
			deadline := time.Now().Add(waitTimeout)
			for lines() != want {
				if time.Now().After(deadline) {
					b.Fatalf("web's file has %d instances, want %d", lines(), want)
				}
				time.Sleep(200 * time.Microsecond)
			}
			rendered := time.Now()
			at := <-seen
			cancel()
			lat = append(lat, max(rendered.Sub(at), 0))
		}
		report(b, lat)
	})

	b.Run("variable", func(b *testing.B) {
		putVar(b, srv.Client, "nomad/jobs/benchvar", map[string]string{"n": "start"})
		submit(b, srv.Client, `job "benchvar" {
  datacenters = ["dc1"]
  group "g" {`+strings.Replace(hupTask, "%s", template(`{{ with nomadVar \"nomad/jobs/benchvar\" }}{{ .n }}{{ end }}`), 1)+`
  }
}`)
		allocs := waitAllocs(b, srv.Client, "benchvar", "benchvar to run", allStatus(cluster.AllocClientRunning, 1))
		out := filepath.Join(allocDirOf(ta, allocs[0].ID), "t", "local", "out")
		var lat []time.Duration
		b.ResetTimer()
		for i := range b.N {
			want := fmt.Sprint(i)
			start := time.Now()
			putVar(b, srv.Client, "nomad/jobs/benchvar", map[string]string{"n": want})
			deadline := start.Add(waitTimeout)
			for {
				if data, _ := os.ReadFile(out); string(data) == want {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("the file never showed %s", want)
				}
				time.Sleep(200 * time.Microsecond)
			}
			lat = append(lat, time.Since(start))
		}
		report(b, lat)
	})
}

// catalogSeen follows a service with blocking queries and returns when
// it first has n healthy instances.
func catalogSeen(ctx context.Context, c *api.Client, name string, n int) time.Time {
	var index uint64
	for ctx.Err() == nil {
		regs, meta, err := c.Services().Get(ctx, name, &api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second})
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if len(regs) == n {
			return time.Now()
		}
		index = meta.LastIndex
	}
	return time.Now()
}
