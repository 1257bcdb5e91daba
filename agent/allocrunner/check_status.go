package allocrunner

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// checkStatuses holds the last result of each of the allocation's service
// checks, what the agent reports with the allocation's client view so
// that the servers' catalog takes each instance's health from its own
// checks. Results are reported only when a status changes: a check that
// keeps passing every interval sends nothing.
type checkStatuses struct {
	mu   sync.Mutex
	last []cluster.CheckStatus // in checkSpec order; Status "" until run
	code []checkStatus         // last[i].Status as a checkStatus
}

// snapshot is what ClientAlloc reports: the checks that have run.
func (c *checkStatuses) snapshot() []cluster.CheckStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []cluster.CheckStatus
	for _, s := range c.last {
		if s.Status != "" && len(out) < cluster.MaxCheckStatuses {
			out = append(out, s)
		}
	}
	return out
}

// status is check i's last status, and whether it has run.
func (c *checkStatuses) status(i int) (checkStatus, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i >= len(c.last) || c.last[i].Status == "" {
		return checkCritical, false
	}
	return c.code[i], true
}

// record stores one run's result and reports whether the status changed
// (a first result counts as a change).
func (c *checkStatuses) record(i int, code checkStatus, st cluster.CheckStatus) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last[i].Status == st.Status {
		return false
	}
	c.last[i], c.code[i] = st, code
	return true
}

// checkResult turns one run's error into what is reported.
func checkResult(c checkSpec, err error, now time.Time) cluster.CheckStatus {
	st := cluster.CheckStatus{Name: c.name, Service: c.service, Task: c.owner, Status: statusOf(err).String(), Timestamp: now.UTC()}
	if err != nil {
		st.Output = cluster.TruncateCheckOutput(strings.TrimSpace(err.Error()))
	}
	return st
}

// runCheckStatuses runs every service check of a service allocation at
// its interval for as long as the allocation runs, once every main task
// runs (as Consul starts a check once its service is registered), and
// reports the allocation whenever a check's status changes.
func (r *Runner) runCheckStatuses(ctx context.Context) {
	checks, err := r.healthChecks()
	if err != nil {
		r.log.Warn("service checks", "err", err)
		return
	}
	if len(checks) > cluster.MaxCheckStatuses {
		// All run, for deployment health; the servers take no more.
		r.log.Warn("service checks: only the first are reported to the servers", "checks", len(checks), "max", cluster.MaxCheckStatuses)
	}
	if len(checks) == 0 {
		return
	}
	r.checks.mu.Lock()
	r.checks.last = make([]cluster.CheckStatus, len(checks))
	r.checks.code = make([]checkStatus, len(checks))
	r.checks.mu.Unlock()
	var wg sync.WaitGroup
	defer wg.Wait()
	for i, c := range checks {
		wg.Go(func() {
			t := time.NewTicker(c.interval)
			defer t.Stop()
			var restart checkRestartState // this goroutine's own (check_restart.go)
			for {
				if r.Finished() {
					return
				}
				if allOK(healthTaskStates, r.views(), nil) {
					err := r.runCheck(ctx, c)
					if ctx.Err() != nil {
						return
					}
					if st := checkResult(c, err, r.now()); r.checks.record(i, statusOf(err), st) {
						level := slog.LevelInfo
						if st.Status != cluster.ServiceHealthPassing {
							level = slog.LevelWarn
						}
						r.log.Log(ctx, level, "check "+st.Status, "check", c.name, "service", c.service, "on_update", c.onUpdate, "output", st.Output)
						r.report()
					}
					// After the report: a restart waits for the task to stop.
					restart = r.applyCheckRestart(ctx, c, restart, statusOf(err))
				}
				select {
				case <-ctx.Done():
					return
				case <-r.done:
					return
				case <-t.C:
				}
			}
		})
	}
}

// hasServiceChecks reports whether any service of the group has a check.
func (r *Runner) hasServiceChecks() bool {
	if slices.ContainsFunc(r.group.Services, func(s jobspec.Service) bool { return len(s.Checks) > 0 }) {
		return true
	}
	for _, t := range r.group.Tasks {
		if slices.ContainsFunc(t.Services, func(s jobspec.Service) bool { return len(s.Checks) > 0 }) {
			return true
		}
	}
	return false
}
