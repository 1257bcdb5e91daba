package reconciler

import (
	"time"

	"github.com/droverhq/drover/cluster"
)

// Observer hears what reconcile passes take and decide, for metrics
// (package metrics implements it; the server hands it in). Its methods
// must be cheap and never block.
type Observer interface {
	// ReconcileStep: the time a pass spent in one step (fetch, load,
	// decide, submit, track).
	ReconcileStep(source, step string, d time.Duration)
	// ReconcilePass: a whole pass, by its outcome ("" when it did not
	// complete).
	ReconcilePass(source, outcome string, d time.Duration)
	// CommitOutcome: a commit's outcome was recorded (applied,
	// rejected, failed, rolling_out), once per commit and attempt.
	CommitOutcome(source, outcome string)
}

// Step names, as Observer hears them.
const (
	stepFetch  = "fetch"
	stepLoad   = "load"
	stepDecide = "decide"
	stepSubmit = "submit"
	stepTrack  = "track"
)

// observeStep reports the time since start in step; a no-op without an
// observer. Durations come from the wall clock, not r.clock: they
// measure, they decide nothing.
func (r *Reconciler) observeStep(step string, start time.Time) {
	if r.observer != nil {
		r.observer.ReconcileStep(r.cfg.Name, step, time.Since(start))
	}
}

// observeOutcome reports the commit outcome that st records and prev did
// not: a new commit's, or a new attempt's. Passes that find a commit
// already recorded count nothing, so a rejected commit polled for an hour
// counts once.
func (r *Reconciler) observeOutcome(prev *cluster.SyncStatus, st *cluster.SyncStatus) {
	if r.observer == nil {
		return
	}
	if o := NewOutcome(prev, st); o != "" {
		r.observer.CommitOutcome(r.cfg.Name, o)
	}
}

// NewOutcome returns the newest commit outcome st records that prev did
// not (a new commit's, a new attempt's, or a commit's new outcome), ""
// when there is none: what a commit counter counts once.
func NewOutcome(prev, st *cluster.SyncStatus) string {
	if st == nil || len(st.Commits) == 0 {
		return ""
	}
	o := st.Commits[0]
	if prev != nil && len(prev.Commits) > 0 {
		p := prev.Commits[0]
		if p.Commit == o.Commit && p.Outcome == o.Outcome && p.Retry == o.Retry {
			return ""
		}
	}
	return o.Outcome
}
