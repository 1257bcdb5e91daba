package agent

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/droverhq/drover/metrics/metricstest"
	"github.com/droverhq/drover/server/servertest"
)

// TestAgentMetrics runs a task that crashes and one that runs on a real
// agent, scraping its metrics while they do: restarts are counted, each
// driver start is timed, the running task's memory and CPU come from
// the driver, and the scrape passes promtool.
func TestAgentMetrics(t *testing.T) {
	srv := servertest.Single(t)
	ta := startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	cleanupTasks(t, srv, "crash", "sleeper")
	submit(t, srv.Client, `
job "crash" {
  datacenters = ["dc1"]
  group "g" {
    restart {
      attempts = 10
      interval = "10m"
      delay    = "200ms"
      mode     = "fail"
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "exit 1"]
      }
      resources {
        cpu    = 20
        memory = 32
      }
    }
  }
}`)
	submit(t, srv.Client, `
job "sleeper" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["600"]
      }
      resources {
        cpu    = 20
        memory = 32
      }
    }
  }
}`)
	scrape := func() string { return scrapeAgent(t, ta) }
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		v, _, err := metricstest.Value(scrape(), name, labels)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	deadline := time.Now().Add(waitTimeout)
	for value("drover_client_task_restarts_total", map[string]string{"driver": "exec"}) < 2 ||
		value("drover_client_allocation_memory_rss_bytes", map[string]string{"job": "sleeper"}) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no restarts or no memory after %v:\n%s", waitTimeout, scrape())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := value("drover_client_driver_start_duration_seconds", map[string]string{"driver": "exec", "result": "ok"}); v < 3 {
		t.Fatalf("driver starts timed: %v, want at least 3 (the sleeper, the crash and its restarts)", v)
	}
	if v := value("drover_client_tasks", map[string]string{"driver": "exec", "state": "running"}); v < 1 {
		t.Fatalf("running exec tasks: %v, want at least the sleeper", v)
	}
	metricstest.PromtoolCheck(t, scrape())
}

// scrapeAgent reads the agent's metrics as a Prometheus scrape would.
func scrapeAgent(t *testing.T, ta *testAgent) string {
	t.Helper()
	rec := httptest.NewRecorder()
	ta.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}
