package allocrunner

import (
	"fmt"
	"time"

	"github.com/droverhq/drover/agent/localstate"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

// Default restart policies, Nomad's, for a task whose job left them out.
var (
	defaultServiceRestart = jobspec.RestartPolicy{Attempts: 2, Interval: 30 * time.Minute, Delay: 15 * time.Second, Mode: "fail"}
	defaultBatchRestart   = jobspec.RestartPolicy{Attempts: 3, Interval: 24 * time.Hour, Delay: 15 * time.Second, Mode: "fail"}
)

// restartDecision is what to do after a run ended.
type restartDecision struct {
	Restart bool
	Delay   time.Duration
	// Failed marks the task failed when it will not restart.
	Failed bool
	// Reason is the event message: "Task restarting in 15s", "Exceeded
	// allowed attempts 2 in interval 30m0s and mode is \"fail\"".
	Reason string
}

// exitKind says how a run ended, for the restart decision.
type exitKind int

const (
	exitSuccess exitKind = iota // exited 0 on its own
	exitFailure                 // non-zero, signal, OOM, or unknown
)

func kindOf(res drivers.ExitResult) exitKind {
	if res.Successful() {
		return exitSuccess
	}
	return exitFailure
}

// nextRestart applies a restart policy: pure, the clock comes in as now.
// runsToCompletion is true for batch jobs and non-sidecar lifecycle
// hooks, whose successful exit is the end of the task rather than
// something to restart.
func nextRestart(p *jobspec.RestartPolicy, batch, runsToCompletion bool, kind exitKind, c localstate.RestartCounters, now time.Time) (restartDecision, localstate.RestartCounters) {
	if kind == exitSuccess && runsToCompletion {
		return restartDecision{Reason: "Task completed successfully"}, c
	}
	pol := defaultServiceRestart
	if batch {
		pol = defaultBatchRestart
	}
	if p != nil {
		pol = *p
	}
	if c.WindowStart.IsZero() || now.Sub(c.WindowStart) > pol.Interval {
		c = localstate.RestartCounters{WindowStart: now}
	}
	c.Count++
	if pol.Attempts <= 0 && pol.Mode != "delay" {
		return restartDecision{Failed: true, Reason: "Policy allows no restarts"}, c
	}
	if c.Count > pol.Attempts {
		if pol.Mode == "delay" {
			wait := max(c.WindowStart.Add(pol.Interval).Sub(now), pol.Delay)
			reason := fmt.Sprintf("Exceeded allowed attempts %d in interval %v and mode is %q; task restarting in %v", pol.Attempts, pol.Interval, pol.Mode, wait)
			// The next window starts when this wait ends.
			return restartDecision{Restart: true, Delay: wait, Reason: reason}, localstate.RestartCounters{}
		}
		return restartDecision{Failed: true, Reason: fmt.Sprintf("Exceeded allowed attempts %d in interval %v and mode is %q", pol.Attempts, pol.Interval, pol.Mode)}, c
	}
	return restartDecision{Restart: true, Delay: pol.Delay, Reason: fmt.Sprintf("Task restarting in %v", pol.Delay)}, c
}
