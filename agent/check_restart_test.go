package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

// eventsOf returns the task's events of type typ, oldest first.
func eventsOf(st *cluster.TaskState, typ string) []cluster.TaskEvent {
	var out []cluster.TaskEvent
	if st == nil {
		return nil
	}
	for _, e := range st.Events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// A real agent runs an exec task whose http check never passes (nothing
// listens on its port) with check_restart { limit = 2, grace = "2s" } and
// a restart policy of one attempt in mode "fail": the agent restarts the
// task after two failures past grace (Restart Signaled with Nomad's
// reason, Restarting, restart count 1), then, the attempt spent, fails
// it (Not Restarting) and with it the allocation.
func TestCheckRestartRestartsThenFailsPerPolicy(t *testing.T) {
	srv := servertest.Single(t)
	ta := startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	cleanupTasks(t, srv, "crfail")
	const (
		grace    = 2 * time.Second
		interval = time.Second
		limit    = 2
	)
	submit(t, srv.Client, fmt.Sprintf(`
job "crfail" {
  datacenters = ["dc1"]
  group "g" {
    network {
      port "http" {}
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    restart {
      attempts = 1
      interval = "10m"
      delay    = "500ms"
      mode     = "fail"
    }
    task "t" {
      driver       = "exec"
      kill_timeout = "2s"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo run >> $NOMAD_ALLOC_DIR/starts; exec sleep 1000"]
      }
      service {
        name = "web"
        port = "http"
        check {
          name     = "alive"
          type     = "http"
          path     = "/"
          interval = "%v"
          timeout  = "1s"
          check_restart {
            limit = %d
            grace = "%v"
          }
        }
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}`, interval, limit, grace))
	allocs := waitAllocs(t, srv.Client, "crfail", "the allocation to fail", allStatus(cluster.AllocClientFailed, 1))
	a := allocs[0]
	st := a.TaskStates["t"]
	if st == nil || !st.Failed || st.State != cluster.TaskStateDead {
		t.Fatalf("task not dead and failed:\n%s", describeAllocs(allocs))
	}
	if st.Restarts != 1 {
		t.Errorf("restarts %d, want 1 (one attempt):\n%s", st.Restarts, describeAllocs(allocs))
	}
	signals := eventsOf(st, "Restart Signaled")
	if len(signals) != 2 {
		t.Fatalf("%d Restart Signaled events, want 2 (one per run):\n%s", len(signals), describeAllocs(allocs))
	}
	for _, e := range signals {
		if want := `healthcheck: check "alive" unhealthy`; e.Message != want {
			t.Errorf("Restart Signaled %q, want %q", e.Message, want)
		}
	}
	if !hasEvent(st, "Restarting", "Task restarting in 500ms") {
		t.Errorf("no Restarting event:\n%s", describeAllocs(allocs))
	}
	if !hasEvent(st, "Not Restarting", `Exceeded allowed attempts 1 in interval 10m0s and mode is "fail"`) {
		t.Errorf("no Not Restarting event:\n%s", describeAllocs(allocs))
	}
	// Each restart came no sooner than grace plus limit-1 intervals after
	// its run started (the tolerance is for ticks delivered late).
	starts := eventsOf(st, "Started")
	if len(starts) != 2 {
		t.Fatalf("%d Started events, want 2:\n%s", len(starts), describeAllocs(allocs))
	}
	least := grace + (limit-1)*interval - 300*time.Millisecond
	for i := range starts {
		if d := signals[i].Time.Sub(starts[i].Time); d < least || d < grace {
			t.Errorf("run %d restarted %v after it started, want at least %v (grace %v, limit %d, interval %v)", i+1, d, least, grace, limit, interval)
		}
	}
	b, err := os.ReadFile(filepath.Join(allocDirOf(ta, a.ID), "alloc", "starts"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "run\n"); n != 2 {
		t.Errorf("the task ran %d times, want 2", n)
	}
}

// A task that serves its check only some 2s after it starts, with
// check_restart { limit = 1, grace = "10s" }: the check fails within
// grace (reported critical) and is not counted, though limit 1 would
// restart on it; then it passes, and the task is never restarted, up to
// three intervals past grace.
func TestCheckRestartGraceAndPassingCheck(t *testing.T) {
	py := python(t)
	const grace = 10 * time.Second
	srv := servertest.Single(t)
	startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	cleanupTasks(t, srv, "crpass")
	submit(t, srv.Client, fmt.Sprintf(`
job "crpass" {
  datacenters = ["dc1"]
  group "g" {
    network {
      port "http" {}
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    restart {
      attempts = 3
      interval = "10m"
      delay    = "100ms"
      mode     = "fail"
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "sleep 2; exec %s -m http.server --bind 127.0.0.1 ${DROVER_PORT_http}"]
      }
      service {
        name = "web"
        port = "http"
        check {
          name     = "alive"
          type     = "http"
          path     = "/"
          interval = "1s"
          timeout  = "1s"
          check_restart {
            limit = 1
            grace = "%v"
          }
        }
      }
      resources {
        cpu    = 20
        memory = 32
      }
    }
  }
}`, py, grace))
	checkIs := func(status string) func([]*cluster.Allocation) bool {
		return func(allocs []*cluster.Allocation) bool {
			for _, a := range allocs {
				for _, cs := range a.CheckStatuses {
					if cs.Name == "alive" && cs.Status == status {
						return true
					}
				}
			}
			return false
		}
	}
	// The server sleeps 2s first: the check fails within grace.
	waitAllocs(t, srv.Client, "crpass", "the check to fail within grace", checkIs(cluster.ServiceHealthCritical))
	waitAllocs(t, srv.Client, "crpass", "the check to pass", checkIs(cluster.ServiceHealthPassing))
	allocs := waitAllocs(t, srv.Client, "crpass", "the allocation", func(as []*cluster.Allocation) bool { return len(as) > 0 })
	// Three intervals past grace of a passing check: the outside world's
	// clock, since absence is what is tested.
	time.Sleep(time.Until(startedAt(allocs[0]).Add(grace + 3*time.Second)))
	allocs = waitAllocs(t, srv.Client, "crpass", "the allocation", func(as []*cluster.Allocation) bool { return len(as) > 0 })
	st := allocs[0].TaskStates["t"]
	if st == nil || st.State != cluster.TaskStateRunning || st.Restarts != 0 || hasEvent(st, "Restart Signaled", "") {
		t.Fatalf("a check that failed only within grace, then passed, restarted the task:\n%s", describeAllocs(allocs))
	}
}

// A group service's script checks (run inside task "a" through the exec
// driver): one that only warns, under ignore_warnings, never restarts
// anything; one that turns critical once alloc/broken exists restarts
// every running task of the allocation, through each task's restart
// policy, until the single attempt is spent and the allocation fails.
func TestCheckRestartGroupScriptCheck(t *testing.T) {
	srv := servertest.Single(t)
	ta := startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	cleanupTasks(t, srv, "crgroup")
	task := func(name string) string {
		return fmt.Sprintf(`
    task %q {
      driver       = "exec"
      kill_timeout = "2s"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo run >> $NOMAD_ALLOC_DIR/starts-%s; exec sleep 1000"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }`, name, name)
	}
	submit(t, srv.Client, `
job "crgroup" {
  datacenters = ["dc1"]
  group "g" {
    reschedule {
      attempts  = 0
      unlimited = false
    }
    restart {
      attempts = 1
      interval = "10m"
      delay    = "200ms"
      mode     = "fail"
    }
    service {
      name = "svc"
      check {
        name     = "warn"
        type     = "script"
        task     = "a"
        command  = "/bin/sh"
        args     = ["-c", "echo degraded; exit 1"]
        interval = "1s"
        timeout  = "5s"
        check_restart {
          limit           = 1
          ignore_warnings = true
        }
      }
      check {
        name     = "broken"
        type     = "script"
        task     = "a"
        command  = "/bin/sh"
        args     = ["-c", "test ! -e $NOMAD_ALLOC_DIR/broken || exit 2"]
        interval = "1s"
        timeout  = "5s"
        check_restart {
          limit = 1
        }
      }
    }`+task("a")+task("b")+`
  }
}`)
	reported := func(allocs []*cluster.Allocation) bool {
		got := map[string]string{}
		for _, a := range allocs {
			for _, cs := range a.CheckStatuses {
				got[cs.Name] = cs.Status
			}
		}
		return got["warn"] == cluster.ServiceHealthWarning && got["broken"] == cluster.ServiceHealthPassing
	}
	waitAllocs(t, srv.Client, "crgroup", "the checks to warn and pass", reported)
	// Three intervals of warnings: ignored.
	time.Sleep(3 * time.Second)
	allocs := waitAllocs(t, srv.Client, "crgroup", "the allocation", reported)
	for _, name := range []string{"a", "b"} {
		if st := allocs[0].TaskStates[name]; st == nil || st.Restarts != 0 || hasEvent(st, "Restart Signaled", "") {
			t.Fatalf("a warning under ignore_warnings restarted task %s:\n%s", name, describeAllocs(allocs))
		}
	}

	dir := allocDirOf(ta, allocs[0].ID)
	if err := os.WriteFile(filepath.Join(dir, "alloc", "broken"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	allocs = waitAllocs(t, srv.Client, "crgroup", "the allocation to fail", allStatus(cluster.AllocClientFailed, 1))
	for _, name := range []string{"a", "b"} {
		st := allocs[0].TaskStates[name]
		// One signal per run: the warning check, failing too while the
		// task stops, does not signal it again.
		signals := eventsOf(st, "Restart Signaled")
		if len(signals) != 2 {
			t.Errorf("task %s: %d Restart Signaled events, want 2 (one per run):\n%s", name, len(signals), describeAllocs(allocs))
		}
		for _, e := range signals {
			if e.Message != `healthcheck: check "broken" unhealthy` {
				t.Errorf("task %s: Restart Signaled %q, want Nomad's reason for check broken", name, e.Message)
			}
		}
		if st.Restarts != 1 {
			t.Errorf("task %s: %d restarts, want 1:\n%s", name, st.Restarts, describeAllocs(allocs))
		}
		b, err := os.ReadFile(filepath.Join(dir, "alloc", "starts-"+name))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), "run\n"); n != 2 {
			t.Errorf("task %s ran %d times, want 2", name, n)
		}
	}
}
