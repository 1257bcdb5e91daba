package allocrunner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/droverhq/drover/agent/localstate"
	"github.com/droverhq/drover/agent/taskenv"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

// taskRunner runs one task through its restarts. Its run goroutine is the
// only writer of the task's runtime; the allocation runner reads a
// snapshot (view) and asks it to stop (kill).
type taskRunner struct {
	ar   *Runner
	task *jobspec.Task
	log  *slog.Logger

	mu       sync.Mutex
	state    *cluster.TaskState
	handle   *drivers.TaskHandle
	restart  localstate.RestartCounters
	launched bool
	done     bool
	// execEnv and execDir are the environment and directory the task
	// last started with: where script checks run.
	execEnv map[string]string
	execDir string
	// tmpl re-renders the task's templates while it runs
	// (template_options.go).
	tmpl templateState
	// identities are the workload identities the task last started
	// with, and secretsDir where their files are (identity.go).
	identities []SignedIdentity
	secretsDir string
	// reattachIDs: the run was re-attached after an agent restart and
	// its identities are fetched afresh before renewal (reattach.go).
	reattachIDs bool

	killOnce   sync.Once
	killC      chan struct{} // closed by kill
	killReason string        // set before killC is closed
	// suspending (set before killC is closed) makes a kill park the
	// task instead of ending it: see Runner.Suspend.
	suspending bool
	// timedOut (set before killC is closed) makes a kill a failure: the
	// run outlasted max_run_duration (dispatch.go).
	timedOut bool
	// checkRestartRun is the start of the run check_restart stopped
	// (check_restart.go); zero otherwise.
	checkRestartRun time.Time
}

func newTaskRunner(ar *Runner, t *jobspec.Task, rec *localstate.TaskRecord) *taskRunner {
	tr := &taskRunner{ar: ar, task: t, log: ar.log.With("task", t.Name), killC: make(chan struct{})}
	if rec != nil && rec.State != nil {
		tr.state = rec.State
		tr.handle = rec.Handle
		tr.restart = rec.Restart
		tr.launched = rec.Launched
		tr.done = rec.Done
	} else {
		tr.state = &cluster.TaskState{State: cluster.TaskStatePending}
	}
	return tr
}

func (tr *taskRunner) hook() (hook string, sidecar bool) {
	if l := tr.task.Lifecycle; l != nil {
		return l.Hook, l.Sidecar
	}
	return hookMain, false
}

func (tr *taskRunner) view() taskView {
	hook, sidecar := tr.hook()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return taskView{
		Name: tr.task.Name, Hook: hook, Sidecar: sidecar, Leader: tr.task.Leader,
		Launched: tr.launched, Running: tr.state.State == cluster.TaskStateRunning,
		Dead: tr.done, Failed: tr.state.Failed, TimedOut: timedOut(tr.state),
	}
}

func (tr *taskRunner) snapshot() *cluster.TaskState {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return copyTaskState(tr.state)
}

// update changes the task's record under the lock, persists it, and
// tells the allocation runner. Persisting first means a crash never
// loses a handle the servers were told about.
func (tr *taskRunner) update(f func(st *cluster.TaskState)) {
	tr.mu.Lock()
	f(tr.state)
	rec := &localstate.TaskRecord{
		State: copyTaskState(tr.state), Handle: tr.handle, Restart: tr.restart,
		Launched: tr.launched, Done: tr.done,
	}
	tr.mu.Unlock()
	if err := tr.ar.cfg.DB.PutTask(tr.ar.id, tr.task.Name, rec); err != nil {
		tr.log.Error("persist task state", "err", err)
	}
	tr.ar.kickLoop()
}

func (tr *taskRunner) emit(typ, msg string) {
	now := tr.ar.now()
	tr.update(func(st *cluster.TaskState) { appendEvent(st, event(now, typ, msg)) })
}

// kill asks the task to stop for good; the first reason wins.
func (tr *taskRunner) kill(reason string) { tr.stop(reason, false) }

// suspend asks the task to stop until the next agent starts it again.
func (tr *taskRunner) suspend(reason string) { tr.stop(reason, true) }

func (tr *taskRunner) stop(reason string, suspend bool) {
	tr.killOnce.Do(func() {
		tr.killReason = reason
		tr.suspending = suspend
		close(tr.killC)
	})
}

// timeout kills a run that outlasted max_run_duration d, for good and as
// a failure.
func (tr *taskRunner) timeout(d time.Duration) {
	tr.killOnce.Do(func() {
		tr.killReason = maxRunMessage(d)
		tr.timedOut = true
		close(tr.killC)
	})
}

// killedFor ends a run that was killed: dead for good, or parked when
// suspending. Only called after killC was closed.
func (tr *taskRunner) killedFor(msg string) {
	if tr.timedOut {
		tr.finish(true, EventKilled, tr.killReason)
		return
	}
	if !tr.suspending {
		tr.finish(false, EventKilled, msg)
		return
	}
	now := tr.ar.now()
	tr.update(func(st *cluster.TaskState) {
		appendEvent(st, event(now, EventKilled, "Task stopped with the agent ("+tr.killReason+"); it starts again when the agent does"))
		tr.handle = nil
		tr.launched = false
		st.State = cluster.TaskStatePending
		st.FinishedAt = now
	})
}

func (tr *taskRunner) killed() bool {
	select {
	case <-tr.killC:
		return true
	default:
		return false
	}
}

// skip marks a task that will never be launched dead.
func (tr *taskRunner) skip() {
	now := tr.ar.now()
	tr.update(func(st *cluster.TaskState) {
		tr.done = true
		st.State = cluster.TaskStateDead
		if st.FinishedAt.IsZero() {
			st.FinishedAt = now
		}
	})
}

// finish marks the task dead for good.
func (tr *taskRunner) finish(failed bool, typ, msg string) {
	now := tr.ar.now()
	tr.update(func(st *cluster.TaskState) {
		if typ != "" {
			appendEvent(st, event(now, typ, msg))
		}
		tr.done = true
		tr.handle = nil
		st.State = cluster.TaskStateDead
		st.Failed = st.Failed || failed
		st.FinishedAt = now
	})
}

// run starts the task and restarts it per its policy until it is done,
// killed, or ctx ends. When ctx ends (the agent shuts down) the task is
// left running: the next agent re-attaches to it.
func (tr *taskRunner) run(ctx context.Context) {
	defer tr.startLive(ctx)() // template_live.go: watchers live as long as this loop
	tr.mu.Lock()
	attach := tr.handle
	tr.mu.Unlock()
	for {
		var h *drivers.TaskHandle
		var res drivers.ExitResult
		if attach != nil {
			h, attach = attach, nil
			if err := tr.ar.driverFor(tr.task).Recover(ctx, h); err != nil {
				if ctx.Err() != nil {
					return
				}
				tr.log.Warn("re-attach failed", "err", err)
				tr.emit(EventDriverFailure, "failed to re-attach to the task after an agent restart: "+err.Error())
				res = drivers.ExitResult{ExitCode: -1, Err: err}
				h = nil
			} else {
				tr.log.Info("re-attached to task")
				tr.reattach() // reattach.go: templates and identities live again
			}
		} else {
			if tr.killed() {
				tr.killedFor("Task killed before it started: " + tr.killReason)
				return
			}
			var ok bool
			if h, ok = tr.start(ctx); !ok {
				return
			}
		}

		if h != nil {
			var killed bool
			var err error
			stopDeadline := tr.deadline()
			res, killed, err = tr.wait(ctx, h)
			stopDeadline()
			if err != nil { // the agent is shutting down
				return
			}
			tr.destroy(ctx, h)
			if killed {
				// How it ended matters even when we ended it: a task that
				// ignores SIGTERM and is SIGKILLed after kill_timeout
				// shows it here, as in Nomad.
				now := tr.ar.now()
				tr.update(func(st *cluster.TaskState) { appendEvent(st, exitEvent(now, res)) })
				tr.killedFor("Task successfully killed")
				return
			}
		}
		now := tr.ar.now()
		tr.update(func(st *cluster.TaskState) {
			appendEvent(st, exitEvent(now, res))
			st.FinishedAt = now
		})
		if tr.templateRestarted() { // change_mode = "restart": again at once, uncounted
			continue
		}

		// A batch job's tasks and a non-sidecar hook run to completion:
		// exit 0 ends them; a service's main task and sidecars restart.
		hook, sidecar := tr.hook()
		toCompletion := !sidecar && (tr.ar.batch() || hook != hookMain)
		kind := tr.exitKindOf(res) // a check_restart stop is a failure (check_restart.go)
		tr.mu.Lock()
		dec, counters := nextRestart(tr.task.Restart, tr.ar.batch(), toCompletion, kind, tr.restart, now)
		tr.restart = counters
		tr.mu.Unlock()
		if !dec.Restart {
			if dec.Failed {
				tr.finish(true, EventNotRestarting, dec.Reason)
			} else {
				tr.finish(false, "", "")
			}
			return
		}
		tr.update(func(st *cluster.TaskState) {
			appendEvent(st, cluster.TaskEvent{Type: EventRestarting, Time: now, Message: dec.Reason})
			st.State = cluster.TaskStatePending
			st.Restarts++
		})
		tr.ar.observer().TaskRestarted(tr.task.Driver)
		timer := time.NewTimer(dec.Delay)
		select {
		case <-timer.C:
		case <-tr.killC:
			timer.Stop()
			tr.killedFor("Task killed while waiting to restart: " + tr.killReason)
			return
		case <-ctx.Done():
			timer.Stop()
			return
		}
	}
}

// start prepares and starts one run. It returns ok=false when the task
// is finished (it failed to start) or ctx ended.
func (tr *taskRunner) start(ctx context.Context) (*drivers.TaskHandle, bool) {
	cfg, typ, err := tr.prepare()
	if err == nil {
		typ, err = tr.withIdentities(ctx, cfg) // identity.go
	}
	if err != nil && ctx.Err() != nil {
		return nil, false
	}
	if err != nil && tr.killed() { // while its templates waited for data (template_live.go)
		tr.killedFor("Task killed before it started: " + tr.killReason)
		return nil, false
	}
	if err != nil {
		tr.log.Warn("task setup failed", "err", err)
		tr.finish(true, typ, err.Error())
		return nil, false
	}
	d := tr.ar.driverFor(tr.task)
	if d == nil {
		tr.finish(true, EventDriverFailure, fmt.Sprintf("driver %q is not available on this node", tr.task.Driver))
		return nil, false
	}
	startedAt := time.Now()
	h, err := d.Start(ctx, cfg)
	tr.ar.observer().DriverStarted(tr.task.Driver, time.Since(startedAt), err) // metrics.go
	if err != nil {
		if ctx.Err() != nil {
			return nil, false
		}
		// A start error is the job's fault (no such command, no such
		// user, a bad config): retrying cannot help, so the task fails
		// at once with the driver's own words.
		tr.log.Warn("task failed to start", "err", err)
		tr.finish(true, EventDriverFailure, err.Error())
		return nil, false
	}
	now := tr.ar.now()
	tr.mu.Lock()
	tr.handle = h
	tr.mu.Unlock()
	tr.update(func(st *cluster.TaskState) {
		appendEvent(st, event(now, EventStarted, "Task started by client"))
		st.State = cluster.TaskStateRunning
		st.StartedAt = now
		st.FinishedAt = time.Time{}
	})
	tr.log.Debug("task started")
	return h, true
}

// prepare builds the task directory, renders templates and resolves the
// environment and config. On error it returns the event type to report.
func (tr *taskRunner) prepare() (*drivers.TaskConfig, string, error) {
	ar, t := tr.ar, tr.task
	first := tr.snapshot().StartedAt.IsZero()
	if first {
		tr.emit(EventSetup, "Building Task Directory")
	}
	dirs, err := ar.dir.buildTask(t.Name, t.User)
	if err != nil {
		return nil, EventSetupFailure, err
	}
	if err := writeDispatchPayload(t, ar.cfg.Job.Payload, dirs.Local); err != nil { // dispatch.go
		return nil, EventSetupFailure, err
	}
	in := taskenv.Input{Alloc: ar.Alloc(), Job: ar.cfg.Job, Group: ar.group, Task: t, Node: ar.cfg.Node, Dirs: dirs.Dirs, IP: ar.cfg.IP}
	env := taskenv.Build(in, nil)
	if len(t.Templates) > 0 {
		tenv, err := tr.renderTemplates(dirs.Dirs, env, taskenv.NewResolver(in, env))
		if err != nil {
			return nil, EventTemplateFailure, err
		}
		env = taskenv.Build(in, tenv)
	}
	tr.mu.Lock()
	tr.execEnv, tr.execDir = env, dirs.Task
	tr.mu.Unlock()
	r := taskenv.NewResolver(in, env)
	config, _ := r.InterpolateAny(t.Config).(map[string]any)
	var ports []drivers.Port
	for _, p := range ar.Alloc().Resources.Ports {
		ip := p.HostIP
		if ip == "" {
			ip = ar.cfg.IP
		}
		ports = append(ports, drivers.Port{Label: p.Label, HostIP: ip, HostPort: p.Value, ContainerPort: p.To})
	}
	mounts, err := volumeMounts(ar.group, t, ar.cfg.Node, ar.Alloc().Name)
	if err != nil {
		return nil, EventSetupFailure, err
	}
	hostname, err := taskHostname(ar.group, r) // hostname.go
	if err != nil {
		return nil, EventSetupFailure, err
	}
	return &drivers.TaskConfig{
		ID:         ar.id + "/" + t.Name,
		AllocID:    ar.id,
		JobName:    ar.jobName(),
		GroupName:  ar.group.Name,
		TaskName:   t.Name,
		Config:     config,
		Env:        env,
		User:       t.User,
		Dir:        dirs.Task,
		AllocDir:   dirs.Alloc,
		LocalDir:   dirs.Local,
		SecretsDir: dirs.Secrets,
		TmpDir:     dirs.Tmp,
		StateDir:   dirs.State,
		Resources:  t.Resources,
		Ports:      ports,
		Mounts:     mounts,
		Hostname:   hostname,
		Logs: drivers.LogConfig{
			Dir: ar.dir.logs(), MaxFiles: t.Logs.MaxFiles, MaxFileSizeMB: t.Logs.MaxFileSizeMB, Disabled: t.Logs.Disabled,
		},
		KillSignal:  t.KillSignal,
		KillTimeout: t.KillTimeout,
	}, "", nil
}

// wait blocks until the run exits or is killed. err is set only when ctx
// ended first, i.e. the agent is shutting down.
func (tr *taskRunner) wait(ctx context.Context, h *drivers.TaskHandle) (drivers.ExitResult, bool, error) {
	d := tr.ar.driverFor(tr.task)
	type result struct {
		res drivers.ExitResult
		err error
	}
	wctx, cancel := context.WithCancel(ctx)
	resC := make(chan result, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		res, err := d.Wait(wctx, h)
		resC <- result{res, err}
	})
	wg.Go(func() { tr.watchTemplates(wctx, h) }) // template_options.go
	// identity.go
	wg.Go(func() { tr.renewIdentities(wctx, h) })
	defer func() {
		cancel()
		wg.Wait()
	}()
	select {
	case r := <-resC:
		if r.err != nil && ctx.Err() != nil {
			return r.res, false, ctx.Err()
		}
		if r.err != nil {
			return drivers.ExitResult{ExitCode: -1, Err: r.err}, false, nil
		}
		return r.res, false, nil
	case <-ctx.Done():
		return drivers.ExitResult{}, false, ctx.Err()
	case <-tr.killC:
	}
	timeout := h.Config.KillTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	signal := h.Config.KillSignal
	if signal == "" {
		signal = "SIGINT"
	}
	tr.emit(EventKilling, fmt.Sprintf("Sent %s (%s). Waiting %v before force killing", signal, tr.killReason, timeout))
	if err := d.Stop(ctx, h, "", 0); err != nil {
		if ctx.Err() != nil {
			return drivers.ExitResult{}, true, ctx.Err()
		}
		tr.log.Warn("stop task", "err", err)
	}
	select {
	case r := <-resC:
		return r.res, true, nil
	case <-ctx.Done():
		return drivers.ExitResult{}, true, ctx.Err()
	}
}

// destroy releases what the driver holds for a finished run; the logs
// and directories stay.
func (tr *taskRunner) destroy(ctx context.Context, h *drivers.TaskHandle) {
	if err := tr.ar.driverFor(tr.task).Destroy(ctx, h); err != nil && !errors.Is(err, context.Canceled) {
		tr.log.Warn("release task", "err", err)
	}
	tr.mu.Lock()
	tr.handle = nil
	tr.mu.Unlock()
}
