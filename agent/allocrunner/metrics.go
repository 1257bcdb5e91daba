package allocrunner

import (
	"context"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
)

// TaskObserver hears task events for metrics (package metrics
// implements it; the agent hands it in through Config). Its methods must
// be cheap and never block.
type TaskObserver interface {
	// TaskRestarted: the runner restarts a task after it exited.
	TaskRestarted(driver string)
	// DriverStarted: how long the driver's Start took, and whether it
	// failed.
	DriverStarted(driver string, d time.Duration, err error)
}

// TaskSample is one task of the allocation at a point in time.
type TaskSample struct {
	Task, Driver string
	// State is pending, running or dead.
	State string
	// Stats is the driver's resource use of a running task; nil when the
	// driver reports none (docker and qemu do not yet) or it failed.
	Stats *drivers.TaskStats
}

// TaskSamples returns the allocation's tasks with their state and, for
// the running ones whose driver reports it, their resource use. Each
// driver call is bounded by ctx.
func (r *Runner) TaskSamples(ctx context.Context) []TaskSample {
	out := make([]TaskSample, 0, len(r.order))
	for _, tr := range r.order {
		tr.mu.Lock()
		s := TaskSample{Task: tr.task.Name, Driver: tr.task.Driver, State: tr.state.State}
		h := tr.handle
		tr.mu.Unlock()
		if h != nil && s.State == cluster.TaskStateRunning {
			if sr, ok := r.driverFor(tr.task).(drivers.StatsReporter); ok {
				if st, err := sr.Stats(ctx, h); err == nil {
					s.Stats = st
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// observer returns the configured TaskObserver, or one that hears
// nothing.
func (r *Runner) observer() TaskObserver {
	if r.cfg.Metrics == nil {
		return nopObserver{}
	}
	return r.cfg.Metrics
}

type nopObserver struct{}

func (nopObserver) TaskRestarted(string)                       {}
func (nopObserver) DriverStarted(string, time.Duration, error) {}
