package allocrunner

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

// A check's check_restart restarts its task once the check has been
// unhealthy for limit consecutive results, as Nomad's check watcher does
// (client/serviceregistration/watcher.go): results within grace of the
// task's (re)start are not counted; a passing result, or a warning under
// ignore_warnings, starts the count again; limit 0 turns it off. The
// restart goes through the task's restart policy as a failure, so it
// counts toward attempts, and once they are spent the policy's mode
// decides (fail: the task fails, and with it the allocation).
//
// The decision (nextCheckRestart) is pure; applyCheckRestart, called by
// each check's goroutine in runCheckStatuses with that goroutine's own
// state, acts on it.

// checkRestartState is what one check's watcher remembers between two
// results.
type checkRestartState struct {
	// Run is the start of the run the count is about: a result for a
	// newer run (the task restarted) starts from zero.
	Run time.Time
	// Failures is the number of consecutive unhealthy results counted
	// for Run.
	Failures int
	// Signaled is set once a restart was asked for Run: the results that
	// arrive while the task stops must not ask again.
	Signaled bool
}

// nextCheckRestart takes one check result st, seen at now, for the run
// of its task that started at runStart, and returns the new state and
// whether to restart the task now. p is the check's check_restart.
func nextCheckRestart(p jobspec.CheckRestart, s checkRestartState, st checkStatus, runStart, now time.Time) (checkRestartState, bool) {
	if p.Limit <= 0 {
		return s, false
	}
	if !runStart.Equal(s.Run) {
		s = checkRestartState{Run: runStart}
	}
	if s.Signaled {
		return s, false
	}
	if st == checkPassing || st == checkWarning && p.IgnoreWarnings {
		s.Failures = 0
		return s, false
	}
	// Within grace an unhealthy result neither counts nor resets the
	// count (Nomad's restarter.apply); at grace's end it counts.
	if now.Before(runStart.Add(p.Grace)) {
		return s, false
	}
	s.Failures++
	if s.Failures < p.Limit {
		return s, false
	}
	s.Signaled = true
	return s, true
}

// checkRestartReason is the Restart Signaled event's message, Nomad's.
func checkRestartReason(check string) string {
	return fmt.Sprintf("healthcheck: check %q unhealthy", check)
}

// checkRestartTargets are the tasks a check's check_restart restarts: the
// task whose service it is, or, for a group service, every task of the
// allocation that runs now (Nomad restarts the allocation's running
// tasks for a group service's check).
func (r *Runner) checkRestartTargets(c checkSpec) []*taskRunner {
	var out []*taskRunner
	for _, tr := range r.order {
		if c.owner != "" && tr.task.Name != c.owner {
			continue
		}
		if v := tr.view(); v.Running && !v.Dead {
			out = append(out, tr)
		}
	}
	return out
}

// applyCheckRestart feeds one result of check c to its check_restart and
// restarts the check's tasks when it says so. s is the calling check
// goroutine's own state; the new state is returned.
func (r *Runner) applyCheckRestart(ctx context.Context, c checkSpec, s checkRestartState, st checkStatus) checkRestartState {
	if c.restart == nil || c.restart.Limit <= 0 {
		return s
	}
	targets := r.checkRestartTargets(c)
	if len(targets) == 0 {
		return s // nothing runs: nothing to restart, and no run to count for
	}
	// The latest start among the targets: grace runs from the last
	// (re)start of any of them.
	var runStart time.Time
	for _, tr := range targets {
		if at := tr.snapshot().StartedAt; at.After(runStart) {
			runStart = at
		}
	}
	s, restart := nextCheckRestart(*c.restart, s, st, runStart, r.now())
	if !restart {
		return s
	}
	// Every target is claimed before any is stopped: the other checks
	// of a stopping task fail too (a script check cannot exec into it)
	// and must find its siblings already claimed rather than signal
	// them with their own name.
	type claimed struct {
		tr *taskRunner
		h  *drivers.TaskHandle
	}
	var stop []claimed
	for _, tr := range targets {
		if h := tr.claimCheckRestart(); h != nil {
			stop = append(stop, claimed{tr, h})
		}
	}
	// Stopped together, as Nomad restarts a group's tasks concurrently;
	// each Stop returns once its task has exited.
	var wg sync.WaitGroup
	for _, t := range stop {
		wg.Go(func() { t.tr.restartForCheck(ctx, t.h, c) })
	}
	wg.Wait()
	return s
}

// claimCheckRestart marks the task's current run as stopped by
// check_restart and returns its handle; nil when the run is not running
// (stopped meanwhile, killed for good) or already claimed: a run is
// restarted once, however many of its checks fail.
func (tr *taskRunner) claimCheckRestart() *drivers.TaskHandle {
	if tr.killed() {
		return nil
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	run := tr.state.StartedAt
	if tr.handle == nil || tr.state.State != cluster.TaskStateRunning || tr.done || tr.checkRestartRun.Equal(run) {
		return nil
	}
	tr.checkRestartRun = run
	return tr.handle
}

// restartForCheck stops run h, claimed for check c's check_restart. The
// run loop then sees the exit and applies the restart policy, the exit
// counting as a failure (exitKindOf) whatever its code: a process that
// exits 0 on SIGTERM was still restarted for being unhealthy.
func (tr *taskRunner) restartForCheck(ctx context.Context, h *drivers.TaskHandle, c checkSpec) {
	tr.log.Warn("check unhealthy: restarting task", "check", c.name, "service", c.service, "limit", c.restart.Limit)
	tr.emit(EventRestartSignal, checkRestartReason(c.name))
	if err := tr.ar.driverFor(tr.task).Stop(ctx, h, "", 0); err != nil && ctx.Err() == nil {
		tr.log.Warn("stop task for check_restart", "err", err)
	}
}

// exitKindOf is how the run that just ended counts for the restart
// policy: a failure when check_restart stopped it (Nomad's check watcher
// restarts are always failures), else as its exit says. It clears the
// mark, which names the run it was set for: a mark left by a run that
// ended otherwise (a template restart) never applies to a later run.
func (tr *taskRunner) exitKindOf(res drivers.ExitResult) exitKind {
	tr.mu.Lock()
	signaled := !tr.checkRestartRun.IsZero() && tr.checkRestartRun.Equal(tr.state.StartedAt)
	tr.checkRestartRun = time.Time{}
	tr.mu.Unlock()
	if signaled {
		return exitFailure
	}
	return kindOf(res)
}
