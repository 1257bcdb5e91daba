package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/agent/allocrunner"
	"github.com/droverhq/drover/agent/localstate"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

// execTemplateRun runs one allocation of a service task on the real,
// isolated exec driver (`sleep` in its own namespaces and chroot, as
// nobody) with one template, on a clock the test moves on by a year to
// change what `{{ timestamp "2006" }}` renders.
type execTemplateRun struct {
	t      *testing.T
	r      *allocrunner.Runner
	offset atomic.Int64
}

func startExecTemplateRun(t *testing.T, tmpl jobspec.Template) *execTemplateRun {
	t.Helper()
	return startExecTemplateRunWith(t, tmpl, map[string]any{"command": "/bin/sleep", "args": []any{"1000"}})
}

// startExecTemplateRunWith is startExecTemplateRun with the task's
// config block.
func startExecTemplateRunWith(t *testing.T, tmpl jobspec.Template, config map[string]any) *execTemplateRun {
	t.Helper()
	ds := nodeDrivers(t, false) // skips loudly without root
	reg, err := drivers.NewRegistry(ds...)
	if err != nil {
		t.Fatal(err)
	}
	top := t.TempDir()
	allocs := filepath.Join(top, "data", "allocs")
	if err := os.MkdirAll(allocs, 0o711); err != nil {
		t.Fatal(err)
	}
	db, err := localstate.Open(filepath.Join(top, "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	job := &jobspec.Job{ID: "tmpl", Type: jobspec.JobTypeService, Groups: []*jobspec.Group{{Name: "g", Count: 1, Tasks: []*jobspec.Task{{
		Name: "t", Driver: "exec", Config: config,
		Resources: jobspec.Resources{CPU: 20, MemoryMB: 32}, KillTimeout: time.Second,
		Restart: &jobspec.RestartPolicy{Mode: "fail"}, Templates: []jobspec.Template{tmpl},
	}}}}}
	run := &execTemplateRun{t: t}
	base, start := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), time.Now()
	const id = "7e3c0b1a-5d2f-4e8a-9b6c-0d1e2f3a4b5c"
	run.r, err = allocrunner.New(allocrunner.Config{
		Alloc: &cluster.Allocation{ID: id, JobID: job.ID, TaskGroup: "g", DesiredStatus: cluster.AllocDesiredRun},
		Job:   job, Dir: filepath.Join(allocs, id), Drivers: reg, DB: db,
		Now: func() time.Time { return base.Add(time.Since(start) + time.Duration(run.offset.Load())) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); run.r.Run(ctx) }()
	t.Cleanup(func() {
		// Stop the task for good, then the runner.
		run.r.Stop()
		select {
		case <-run.r.Done():
		case <-time.After(waitTimeout):
			t.Errorf("the allocation did not stop")
		}
		cancel()
		<-done
		_ = run.r.Destroy(context.Background())
	})
	run.waitFor("the task to run", func(st *cluster.TaskState) bool { return st.State == cluster.TaskStateRunning })
	return run
}

func (run *execTemplateRun) state() *cluster.TaskState { return run.r.ClientAlloc().TaskStates["t"] }

func (run *execTemplateRun) waitFor(what string, cond func(*cluster.TaskState) bool) *cluster.TaskState {
	run.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		st := run.state()
		if st != nil && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			run.t.Fatalf("timed out waiting for %s; task: %s", what, taskEvents(st))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (run *execTemplateRun) change() {
	run.offset.Add(int64(366 * 24 * time.Hour))
	run.r.TemplatesChanged()
}

func taskEvents(st *cluster.TaskState) string {
	if st == nil {
		return "<none>"
	}
	var b strings.Builder
	b.WriteString(st.State)
	for _, e := range st.Events {
		b.WriteString("\n  " + e.Type + ": " + e.Message)
	}
	return b.String()
}

func eventWith(st *cluster.TaskState, typ, sub string) bool {
	return slices.ContainsFunc(st.Events, func(e cluster.TaskEvent) bool { return e.Type == typ && strings.Contains(e.Message, sub) })
}

// TestTemplateChangeScriptInExecTask: a template re-rendered while its
// exec task runs runs its change_script inside the task (its chroot,
// its user, its environment): the script reads the new file at the
// path the task sees and writes where only the task's directory is.
func TestTemplateChangeScriptInExecTask(t *testing.T) {
	run := startExecTemplateRun(t, jobspec.Template{
		Data: `year {{ timestamp "2006" }}`, Destination: "local/app.conf", ChangeMode: "script",
		ChangeScript: &jobspec.ChangeScript{Command: "/bin/sh",
			Args: []string{"-c", `{ cat "$NOMAD_TASK_DIR/app.conf"; echo; id -un; } >> "$NOMAD_TASK_DIR/reloads"`}},
	})
	run.change()
	st := run.waitFor("the script", func(st *cluster.TaskState) bool {
		return eventWith(st, "Task hook message", "Template successfully ran script /bin/sh") || eventWith(st, "Task hook failed", "")
	})
	if eventWith(st, "Task hook failed", "") {
		t.Fatalf("the change script failed: %s", taskEvents(st))
	}
	b, err := os.ReadFile(filepath.Join(run.r.Dir(), "t", "local", "reloads"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != "year 2027\nnobody\n" {
		t.Errorf("the script wrote %q; want the new file's text, as the task's user (nobody)", got)
	}
	if st.State != cluster.TaskStateRunning || st.Restarts != 0 {
		t.Errorf("after the script the task is %s with %d restarts; want running, none", st.State, st.Restarts)
	}
}

// TestTemplateChangeScriptFailKillsExecTask: with fail_on_error, a
// script that exits non-zero kills the task and fails it; a script that
// outlives its timeout is killed and reported.
func TestTemplateChangeScriptFailKillsExecTask(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		run := startExecTemplateRun(t, jobspec.Template{
			Data: `year {{ timestamp "2006" }}`, Destination: "local/app.conf", ChangeMode: "script",
			ChangeScript: &jobspec.ChangeScript{Command: "/bin/sleep", Args: []string{"30"}, Timeout: 500 * time.Millisecond},
		})
		start := time.Now()
		run.change()
		run.waitFor("the timeout", func(st *cluster.TaskState) bool {
			return eventWith(st, "Task hook failed", "Template ran script /bin/sleep with arguments [\"30\"] on change but it timed out after 500ms")
		})
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("the timed-out script was reported after %v", took)
		}
		if st := run.state(); st.State != cluster.TaskStateRunning {
			t.Errorf("without fail_on_error the task stopped: %s", taskEvents(st))
		}
	})
	t.Run("fail_on_error", func(t *testing.T) {
		run := startExecTemplateRun(t, jobspec.Template{
			Data: `year {{ timestamp "2006" }}`, Destination: "local/app.conf", ChangeMode: "script",
			ChangeScript: &jobspec.ChangeScript{Command: "/bin/sh", Args: []string{"-c", "echo cannot reload >&2; exit 7"}, FailOnError: true},
		})
		run.change()
		st := run.waitFor("the task to be killed", func(st *cluster.TaskState) bool { return st.State == cluster.TaskStateDead })
		if !st.Failed || !eventWith(st, "Task hook failed", "exited with code 7: cannot reload") ||
			!eventWith(st, "Killing", "Template script failed, task is being killed") {
			t.Errorf("failed=%v: %s", st.Failed, taskEvents(st))
		}
		if a := run.r.ClientAlloc(); a.ClientStatus != cluster.AllocClientFailed {
			t.Errorf("allocation %s (%s), want failed", a.ClientStatus, a.ClientDescription)
		}
	})
}

// TestTemplateOptionsFromJobFile: the options as a job file writes
// them reach the agent with their meaning: the file owned by uid/gid,
// rendered again after wait.min, the script run within splay, inside
// the exec task.
func TestTemplateOptionsFromJobFile(t *testing.T) {
	f, diags := jobspec.Parse("opts.nomad.hcl", []byte(`job "opts" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      template {
        data                 = "year {{ timestamp \"2006\" }}"
        destination          = "local/app.conf"
        change_mode          = "script"
        splay                = "500ms"
        uid                  = 65534
        gid                  = 65534
        error_on_missing_key = true
        wait {
          min = "300ms"
          max = "2s"
        }
        change_script {
          command       = "/bin/sh"
          args          = ["-c", "cat $NOMAD_TASK_DIR/app.conf > $NOMAD_TASK_DIR/seen"]
          timeout       = "2s"
          fail_on_error = true
        }
      }
    }
  }
}`), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	tmpl := f.Job.Groups[0].Tasks[0].Templates[0]
	run := startExecTemplateRun(t, tmpl)
	conf := filepath.Join(run.r.Dir(), "t", "local", "app.conf")
	fi, err := os.Stat(conf)
	if err != nil {
		t.Fatal(err)
	}
	if owner := fileOwner(fi); owner != "65534:65534" {
		t.Errorf("local/app.conf owned by %s, want 65534:65534 (uid, gid)", owner)
	}
	start := time.Now()
	run.change()
	st := run.waitFor("the script", func(st *cluster.TaskState) bool {
		return eventWith(st, "Task hook message", "Template successfully ran script") || st.State == cluster.TaskStateDead
	})
	took := time.Since(start)
	if st.State != cluster.TaskStateRunning {
		t.Fatalf("task: %s", taskEvents(st))
	}
	if took < 300*time.Millisecond || took > 10*time.Second {
		t.Errorf("script ran %v after the change; want after wait.min (300ms), within splay (500ms) of it", took)
	}
	if b, _ := os.ReadFile(filepath.Join(run.r.Dir(), "t", "local", "seen")); string(b) != "year 2027" {
		t.Errorf("the script saw %q, want the re-rendered year 2027", b)
	}
	if fi, err := os.Stat(conf); err != nil || fileOwner(fi) != "65534:65534" {
		t.Errorf("the re-rendered file lost its owner: %v", err)
	}
}

// fileOwner is "uid:gid" of a file.
func fileOwner(fi os.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
	}
	return "unknown"
}

// TestTemplateChangeSignalInExecTask: change_mode = "signal" delivers
// change_signal to the isolated exec task, whose trap sees the new file;
// the task runs on, not restarted.
func TestTemplateChangeSignalInExecTask(t *testing.T) {
	run := startExecTemplateRunWith(t,
		jobspec.Template{Data: `year {{ timestamp "2006" }}`, Destination: "local/app.conf", ChangeMode: "signal", ChangeSignal: "SIGHUP"},
		map[string]any{"command": "/bin/sh", "args": []any{"-c",
			`trap 'cat "$NOMAD_TASK_DIR/app.conf" >> "$NOMAD_TASK_DIR/got"; echo >> "$NOMAD_TASK_DIR/got"' HUP; : > "$NOMAD_TASK_DIR/ready"; while :; do sleep 0.1; done`}})
	// A SIGHUP before the trap is set would end the shell.
	ready := filepath.Join(run.r.Dir(), "t", "local", "ready")
	run.waitFor("the trap to be set", func(*cluster.TaskState) bool {
		_, err := os.Stat(ready)
		return err == nil
	})
	run.change()
	got := filepath.Join(run.r.Dir(), "t", "local", "got")
	run.waitFor("the trap to run", func(*cluster.TaskState) bool {
		b, _ := os.ReadFile(got)
		return string(b) == "year 2027\n"
	})
	st := run.state()
	if st.State != cluster.TaskStateRunning || st.Restarts != 0 || !eventWith(st, "Signaling", "SIGHUP") {
		t.Errorf("after the signal: %s", taskEvents(st))
	}
}

// TestTemplateChangeRestartInExecTask: change_mode = "restart" stops the
// exec task and starts it again at once, uncounted by its restart
// policy (which allows none), with the new file.
func TestTemplateChangeRestartInExecTask(t *testing.T) {
	run := startExecTemplateRunWith(t,
		jobspec.Template{Data: `year {{ timestamp "2006" }}`, Destination: "local/app.conf", ChangeMode: "restart"},
		map[string]any{"command": "/bin/sh", "args": []any{"-c", `cat "$NOMAD_TASK_DIR/app.conf" >> "$NOMAD_TASK_DIR/starts"; echo >> "$NOMAD_TASK_DIR/starts"; exec sleep 1000`}})
	starts := filepath.Join(run.r.Dir(), "t", "local", "starts")
	// The task must have written its first line before the change: a
	// restart that kills the shell before its cat ran would leave only
	// the second.
	run.waitFor("the first start", func(*cluster.TaskState) bool {
		b, _ := os.ReadFile(starts)
		return string(b) == "year 2026\n"
	})
	run.change()
	st := run.waitFor("the restart", func(st *cluster.TaskState) bool { return st.Restarts == 1 && st.State == cluster.TaskStateRunning })
	run.waitFor("the second start", func(*cluster.TaskState) bool {
		b, _ := os.ReadFile(starts)
		return string(b) == "year 2026\nyear 2027\n"
	})
	if st.Failed || !eventWith(st, "Restart Signaled", "Template with change_mode restart re-rendered") {
		t.Errorf("after the restart: %s", taskEvents(st))
	}
}
