package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/metrics/metricstest"
)

// metricsCrashJob exits at once and is restarted after a second, again
// and again; metricsSleeperJob runs, so that its resource use is
// reported.
const metricsCrashJob = `job "crash" {
  datacenters = ["dc1"]
  group "g" {
    restart {
      attempts = 10
      interval = "10m"
      delay    = "1s"
      mode     = "fail"
    }
    task "t" {
      driver = "raw_exec"
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
}
`

const metricsSleeperJob = `job "sleeper" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
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
}
`

// TestE2EMetrics scrapes a real server and agent (the binaries) on both
// endpoints, the API's /v1/metrics with a token and the separate
// listener's /metrics without, lints every scrape with promtool, and
// checks that series move: an applied commit increments
// drover_sync_commits_applied_total, an invalid one
// drover_sync_commits_rejected_total, a crashing task
// drover_client_task_restarts_total.
func TestE2EMetrics(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	gittest.RequireGit(t)
	repo := gittest.New(t)
	head := repo.Commit("Add jobs", map[string]string{"crash.nomad.hcl": metricsCrashJob, "sleeper.nomad.hcl": metricsSleeperJob})

	serverMetrics, agentMetrics := freeAddr(t), freeAddr(t)
	conf := filepath.Join(t.TempDir(), "server.hcl")
	writeFile(t, conf, fmt.Sprintf(`source "apps" {
  url           = %q
  branch        = "main"
  poll_interval = "1h"
}
telemetry {
  prometheus_listen = %q
}
`, repo.Dir, serverMetrics))
	s := startServer(t, "-config", conf)
	s.startAgent(t, "metrics-node", t.TempDir(), withRawExec(t, "-metrics-addr", agentMetrics)...)
	nodes := waitNodes(t, s.client, 1)
	rc := &rolloutCluster{Addr: s.addr, Client: s.client}
	t.Cleanup(rc.stopTasks(t)) // before the agent stops: raw_exec tasks outlive it
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node, _, err := s.client.Nodes().Info(ctx, nodes[0].ID, nil)
	if err != nil {
		t.Fatal(err)
	}

	get := func(url, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	endpoints := map[string]string{
		"server API":      s.addr + "/v1/metrics?format=prometheus",
		"server listener": "http://" + serverMetrics + "/metrics",
		// The agent answers plain HTTP on loopback, HTTPS elsewhere.
		"agent API":      "http://" + strings.TrimPrefix(node.HTTPAddr, "https://") + "/v1/metrics?format=prometheus",
		"agent listener": "http://" + agentMetrics + "/metrics",
	}
	scrape := func(which string) string {
		t.Helper()
		code, body := get(endpoints[which], s.token)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", which, code, body)
		}
		return body
	}
	value := func(which, name string, labels map[string]string) float64 {
		t.Helper()
		v, _, err := metricstest.Value(scrape(which), name, labels)
		if err != nil {
			t.Fatalf("%s: %v", which, err)
		}
		return v
	}
	apps := map[string]string{"source": "apps"}

	// The API needs a token with agent:read; the listener none.
	for _, which := range []string{"server API", "agent API"} {
		if code, body := get(endpoints[which], ""); code != http.StatusForbidden && code != http.StatusUnauthorized {
			t.Fatalf("%s without a token: %d %s, want 401 or 403", which, code, body)
		}
	}
	if code, body := get(s.addr+"/v1/metrics?format=json", s.token); code != http.StatusBadRequest || !strings.Contains(body, "format=prometheus") {
		t.Fatalf("format=json: %d %s, want 400 naming format=prometheus", code, body)
	}

	// 1. The first commit is applied once.
	waitUntil(t, "the first commit applied", func() bool {
		return value("server listener", "drover_sync_commits_applied_total", apps) == 1
	})
	if v := value("server API", "drover_sync_state", map[string]string{"source": "apps", "state": "rejected"}); v != 0 {
		t.Fatalf("sync state rejected = %v before any rejection", v)
	}

	// 2. The crashing task is restarted; the sleeper's memory is seen.
	waitUntil(t, "a task restart counted", func() bool {
		return value("agent listener", "drover_client_task_restarts_total", map[string]string{"driver": "raw_exec"}) >= 1
	})
	waitUntil(t, "the sleeper's memory", func() bool {
		return value("agent API", "drover_client_allocation_memory_rss_bytes", map[string]string{"job": "sleeper"}) > 0
	})
	if v := value("agent API", "drover_client_driver_start_duration_seconds", map[string]string{"driver": "raw_exec", "result": "ok"}); v < 2 {
		t.Fatalf("driver starts timed: %v, want at least 2 (sleeper, crash)", v)
	}

	// 3. A commit with a typo is rejected, and counted once however
	// often the source is polled or kicked.
	bad := repo.Commit("Typo", map[string]string{"crash.nomad.hcl": strings.Replace(metricsCrashJob, "datacenters", "datacentres", 1)})
	waitUntil(t, "the typo rejected", func() bool {
		return value("server API", "drover_sync_commits_rejected_total", apps) == 1
	})
	// A ref change kicks another pass over the same rejected commit.
	if out, err := exec.Command("git", "-C", repo.Dir, "branch", "kick").CombinedOutput(); err != nil {
		t.Fatalf("git branch: %v\n%s", err, out)
	}
	waitUntil(t, "a second pass over the rejected commit", func() bool {
		return value("server API", "drover_reconcile_pass_duration_seconds", map[string]string{"source": "apps", "outcome": "rejected"}) >= 2
	})
	if v := value("server API", "drover_sync_commits_rejected_total", apps); v != 1 {
		t.Fatalf("rejected commits = %v after a second pass over the same commit, want 1", v)
	}
	t.Logf("server scrape, drover_ series:\n%s", grepLines(scrape("server API"), "drover_"))
	st, _, err := s.client.Sync().Info(ctx, "apps", nil)
	if err != nil || st.LastSeen != bad || st.LastApplied != head {
		t.Fatalf("sync status: %+v %v", st, err)
	}
	if v := value("server API", "drover_sync_state", map[string]string{"source": "apps", "state": "rejected"}); v != 1 {
		t.Fatalf("sync state rejected = %v, want 1", v)
	}

	// Every other family the issue names is there, and every scrape
	// passes promtool.
	srv := scrape("server API")
	for _, name := range []string{
		"drover_reconcile_step_duration_seconds", "drover_sync_last_applied_timestamp_seconds",
		"drover_raft_apply_duration_seconds", "drover_raft_commit_index", "drover_raft_leader_changes_total",
		"drover_fsm_apply_duration_seconds", "drover_scheduler_evaluation_duration_seconds", "drover_scheduler_placements_total",
		"drover_allocations", "drover_node_allocations", "drover_http_requests_total", "drover_http_request_duration_seconds",
	} {
		if _, ok, _ := metricstest.Value(srv, name, nil); !ok {
			t.Errorf("server scrape lacks %s", name)
		}
	}
	if v, _, _ := metricstest.Value(srv, "drover_http_requests_total", map[string]string{"route": "GET /v1/node/{id}", "code": "200"}); v < 1 {
		t.Errorf("HTTP requests are not counted by route pattern:\n%s", grepLines(srv, "drover_http_requests_total"))
	}
	if strings.Contains(srv, node.ID) && strings.Contains(grepLines(srv, "drover_http_requests_total"), node.ID) {
		t.Errorf("a raw path reached the route label")
	}
	for which := range endpoints {
		t.Run("promtool "+which, func(t *testing.T) { metricstest.PromtoolCheck(t, scrape(which)) })
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}
