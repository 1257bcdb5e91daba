package agent

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

func TestRestartPolicyThenFail(t *testing.T) {
	srv := servertest.Single(t)
	startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	cleanupTasks(t, srv, "flaky")
	submit(t, srv.Client, `
job "flaky" {
  datacenters = ["dc1"]
  group "g" {
    reschedule {
      attempts  = 0
      unlimited = false
    }
    restart {
      attempts = 2
      interval = "30m"
      delay    = "100ms"
      mode     = "fail"
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo failing; exit 1"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}`)
	allocs := waitAllocs(t, srv.Client, "flaky", "the allocation to fail", allStatus(cluster.AllocClientFailed, 1))
	st := allocs[0].TaskStates["t"]
	restarting, terminated := 0, 0
	for _, e := range st.Events {
		switch e.Type {
		case "Restarting":
			restarting++
			if e.Message != "Task restarting in 100ms" {
				t.Errorf("Restarting message = %q", e.Message)
			}
		case "Terminated":
			terminated++
			if e.Message != "Exit Code: 1" || e.ExitCode != 1 {
				t.Errorf("Terminated = %+v", e)
			}
		}
	}
	if restarting != 2 || terminated != 3 || st.Restarts != 2 {
		t.Errorf("restarting=%d terminated=%d restarts=%d, want 2, 3, 2:\n%s", restarting, terminated, st.Restarts, describeAllocs(allocs))
	}
	if !hasEvent(st, "Not Restarting", `Exceeded allowed attempts 2 in interval 30m0s and mode is "fail"`) || !st.Failed || st.State != "dead" {
		t.Errorf("want a failed dead task with Not Restarting:\n%s", describeAllocs(allocs))
	}
}

func TestPrestartRunsBeforeMainAndSidecarAlongside(t *testing.T) {
	srv := servertest.Single(t)
	ta := startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	cleanupTasks(t, srv, "hooks")
	submit(t, srv.Client, `
job "hooks" {
  datacenters = ["dc1"]
  group "g" {
    task "init" {
      lifecycle {
        hook = "prestart"
      }
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "sleep 0.3; echo ready > $NOMAD_ALLOC_DIR/init-done"]
      }
    }
    task "side" {
      lifecycle {
        hook    = "prestart"
        sidecar = true
      }
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
    }
    task "main" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "if [ -f $NOMAD_ALLOC_DIR/init-done ]; then echo yes; else echo no; fi > $NOMAD_ALLOC_DIR/saw-init; exec sleep 1000"]
      }
    }
    task "after" {
      lifecycle {
        hook = "poststart"
      }
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo after > $NOMAD_ALLOC_DIR/poststart"]
      }
    }
  }
}`)
	allocs := waitAllocs(t, srv.Client, "hooks", "main running and poststart done", func(as []*cluster.Allocation) bool {
		if len(as) == 0 || as[0].ClientStatus != cluster.AllocClientRunning {
			return false
		}
		st := as[0].TaskStates
		return st["main"] != nil && st["main"].State == "running" && st["after"] != nil && st["after"].State == "dead"
	})
	dir := allocDirOf(ta, allocs[0].ID)
	if got := waitFile(t, filepath.Join(dir, "alloc", "saw-init")); got != "yes\n" {
		t.Errorf("main saw init-done: %q, want yes", got)
	}
	st := allocs[0].TaskStates
	if st["init"].State != "dead" || st["init"].Failed {
		t.Errorf("init = %+v", st["init"])
	}
	if st["side"].State != "running" {
		t.Errorf("sidecar = %+v", st["side"])
	}
	if st["after"].Failed {
		t.Errorf("poststart = %+v", st["after"])
	}
	if !st["init"].FinishedAt.Before(st["main"].StartedAt) && !st["init"].FinishedAt.Equal(st["main"].StartedAt) {
		t.Errorf("init finished %v, main started %v", st["init"].FinishedAt, st["main"].StartedAt)
	}

	// Stopping the job kills main and the sidecar: complete, not failed.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := srv.Client.Jobs().Deregister(ctx, "hooks", false); err != nil {
		t.Fatal(err)
	}
	allocs = waitAllocs(t, srv.Client, "hooks", "the allocation to complete", allStatus(cluster.AllocClientComplete, 1))
	for _, name := range []string{"main", "side"} {
		if !hasEvent(allocs[0].TaskStates[name], "Killed", "Task successfully killed") {
			t.Errorf("%s not killed:\n%s", name, describeAllocs(allocs))
		}
		// How the killed process ended is recorded before Killed.
		var types []string
		for _, e := range allocs[0].TaskStates[name].Events {
			types = append(types, e.Type)
		}
		if i := slices.Index(types, "Terminated"); i < 0 || i > slices.Index(types, "Killed") {
			t.Errorf("%s events %q: want Terminated (with the exit status) before Killed", name, types)
		}
	}
}

// Bad input fails the allocation, with an event that says why, and
// nothing else.
func TestBadInputFailsOnlyThatAllocation(t *testing.T) {
	srv := servertest.Single(t)
	startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port

	job := func(id, task, group string) string {
		return `job "` + id + `" {
  datacenters = ["dc1"]
  group "g" {
    reschedule {
      attempts  = 0
      unlimited = false
    }
    ` + group + `
    task "t" {
      driver = "exec"
      ` + task + `
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}`
	}
	cases := []struct {
		id, task, group, event, msgPart string
	}{
		{"nocmd", `config {
        command = "no-such-command-xyz"
      }`, "", "Driver Failure", `exec: command "no-such-command-xyz" not found in PATH`},
		{"nouser", `user = "no-such-user-xyz"
      config {
        command = "/bin/true"
      }`, "", "Driver Failure", `exec: user "no-such-user-xyz" does not exist on this node`},
		{"badtmpl", `config {
        command = "/bin/true"
      }
      template {
        data        = "{{ nosuchfunc }}"
        destination = "local/x.conf"
      }`, "", "Template Failure", `template local/x.conf: template: template:1: function "nosuchfunc" not defined`},
		{"porttaken", `config {
        command = "/bin/true"
      }`, `network {
      port "http" {
        static = ` + strconv.Itoa(taken) + `
      }
    }`, "Setup Failure", `port ` + strconv.Itoa(taken) + ` (label "http") is already in use on this host`},
	}
	ids := []string{"good"}
	for _, c := range cases {
		ids = append(ids, c.id)
	}
	cleanupTasks(t, srv, ids...)
	submit(t, srv.Client, job("good", `config {
        command = "/bin/sleep"
        args    = ["1000"]
      }`, ""))
	waitAllocs(t, srv.Client, "good", "the good job to run", allStatus(cluster.AllocClientRunning, 1))
	for _, c := range cases {
		submit(t, srv.Client, job(c.id, c.task, c.group))
	}
	for _, c := range cases {
		allocs := waitAllocs(t, srv.Client, c.id, c.id+" to fail", allStatus(cluster.AllocClientFailed, 1))
		st := allocs[0].TaskStates["t"]
		found := false
		for _, e := range st.Events {
			if e.Type == c.event && strings.Contains(e.Message, c.msgPart) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: want a %q event containing %q:\n%s", c.id, c.event, c.msgPart, describeAllocs(allocs))
		}
	}
	// The good allocation still runs.
	allocs := waitAllocs(t, srv.Client, "good", "the good job", func([]*cluster.Allocation) bool { return true })
	if allocs[0].ClientStatus != cluster.AllocClientRunning {
		t.Errorf("good job:\n%s", describeAllocs(allocs))
	}
}

// A restarted agent re-attaches to its running task (same PID), and
// reports a task that died while it was away with its exit code.
func TestAgentRestartReattaches(t *testing.T) {
	srv := servertest.Single(t)
	dataDir := t.TempDir()
	ta := startAgent(t, agentConfig(t, srv, dataDir, "n1"))
	cleanupTasks(t, srv, "sticky")
	submit(t, srv.Client, `
job "sticky" {
  datacenters = ["dc1"]
  group "g" {
    restart {
      attempts = 3
      interval = "30m"
      delay    = "100ms"
      mode     = "fail"
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo $$ >> $NOMAD_ALLOC_DIR/pids; exec sleep 1000"]
      }
    }
  }
}`)
	allocs := waitAllocs(t, srv.Client, "sticky", "the task to run", allStatus(cluster.AllocClientRunning, 1))
	alloc := allocs[0]
	pidFile := filepath.Join(allocDirOf(ta, alloc.ID), "alloc", "pids")
	pid := strings.TrimSpace(waitFile(t, pidFile))
	started := alloc.TaskStates["t"].StartedAt

	ta.stop(t)
	ta2 := startAgent(t, agentConfig(t, srv, dataDir, "n1"))
	cleanupTasks(t, srv, "sticky") // again: ta2 must still run when it does
	if ta2.NodeID() != ta.NodeID() {
		t.Fatalf("node ID changed across restarts: %s → %s", ta.NodeID(), ta2.NodeID())
	}
	if !alive(pid) {
		t.Fatalf("task %s died with the agent", pid)
	}
	if got := strings.TrimSpace(waitFile(t, pidFile)); got != pid {
		t.Fatalf("task was started again: pids %q", got)
	}
	// Killing it now is noticed by the new agent: it was re-attached.
	n, _ := strconv.Atoi(pid)
	if err := syscall.Kill(n, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	allocs = waitAllocs(t, srv.Client, "sticky", "the task to be restarted", func(as []*cluster.Allocation) bool {
		st := as[0].TaskStates["t"]
		return st.Restarts == 1 && st.State == "running"
	})
	st := allocs[0].TaskStates["t"]
	if !hasEvent(st, "Terminated", "Exit Code: 137, Signal: 9") {
		t.Errorf("want the SIGKILL reported:\n%s", describeAllocs(allocs))
	}
	if !st.StartedAt.After(started) {
		t.Errorf("StartedAt %v not after %v", st.StartedAt, started)
	}
	pids := strings.Fields(waitFile(t, pidFile))
	if len(pids) != 2 || pids[1] == pid {
		t.Errorf("pids = %v", pids)
	}
}

func alive(pid string) bool {
	_, err := os.Stat("/proc/" + pid)
	return err == nil
}
