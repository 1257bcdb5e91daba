package reconciler

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource"
)

// Trigger asks a reconciler for a pass now. Kicks coalesce: a burst of a
// thousand webhooks while a pass runs leaves one pending kick, so it
// costs at most two passes, and the last one sees the newest commit.
type Trigger struct {
	c chan struct{}
}

// NewTrigger returns a Trigger with no pending kick.
func NewTrigger() *Trigger { return &Trigger{c: make(chan struct{}, 1)} }

// Kick asks for a pass; it never blocks.
func (t *Trigger) Kick() {
	select {
	case t.c <- struct{}{}:
	default:
	}
}

// C is closed-over by the loop: it receives once per pending kick.
func (t *Trigger) C() <-chan struct{} { return t.c }

// RolloutReader is the optional part of a Cluster that the track step
// reads; a Cluster without it is not tracked.
type RolloutReader interface {
	Rollout(ctx context.Context, namespace, id string, version uint64) (Rollout, error)
}

// Jitter adds up to a tenth of d, at random, so that servers and sources
// do not poll in lockstep.
func Jitter(d time.Duration, rnd func(int64) int64) time.Duration {
	if d <= 0 {
		return d
	}
	return d + time.Duration(rnd(int64(d)/10+1))
}

// trackPatience is how long a rollout may stay pending before the track
// step says so in the log and looks at it less often. It does not fail
// the commit: only the cluster does that (a failed deployment, or an
// allocation with no reschedule left), see Assess.
const trackPatience = 10 * time.Minute

// slowTrack is how often a rollout pending past trackPatience is looked at.
const slowTrack = 10 * time.Second

// waveRecheck is how often a commit rolling out in waves is looked at
// again: a pass costs a ref listing and a few reads of the state.
const waveRecheck = time.Second

// tracking is the rollout the loop follows: the last applied commit's
// submitted versions.
type tracking struct {
	commit  string
	subject string
	since   time.Time
	jobs    []Submitted
	// heal: the versions put back drift of a commit applied before; a
	// commit's record changes only if they fail.
	heal bool
	// slow is set once the rollout was pending past trackPatience.
	slow     bool
	lastLook time.Time
}

// Run reconciles until ctx ends: at once, on every kick of t, at the poll
// interval (with jitter), and sooner after a transient failure. It
// follows the rollout of each applied commit and records the commit as
// failed when a rollout fails.
func (r *Reconciler) Run(ctx context.Context, t *Trigger) {
	var tr *tracking
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		res, err := r.Pass(ctx)
		wait := Jitter(r.cfg.PollInterval, rand.Int64N)
		switch KindOf(err) {
		case Waiting, Failed:
			backoff = min(max(2*backoff, 500*time.Millisecond), r.cfg.PollInterval)
			wait = backoff
		default:
			backoff = 0
		}
		if res.Outcome == PassWaiting {
			// Jobs wait for their dependencies' rollouts: look again soon
			// rather than at the next poll.
			wait = min(wait, waveRecheck)
		}
		old := tr
		switch {
		case res.Outcome == PassApplied:
			tr = r.startTracking(res)
		case res.Outcome == PassHealed && (tr == nil || tr.heal):
			tr = r.startTracking(res)
		case res.Progressing != nil && (tr == nil || tr.commit != res.Commit):
			// Recorded progressing but not followed here: a new leader,
			// or a restart. Follow it on.
			tr = r.resumeTracking(res)
		}
		r.notifyPass(res, old, tr)
		kicked := r.wait(ctx, t, wait, &tr)
		r.reuseFetch = res.Outcome == PassWaiting && !kicked
	}
}

// wait sleeps until a kick, the timer or the end of ctx, running the
// track step every second meanwhile while a rollout is followed. It
// reports whether a kick ended it.
func (r *Reconciler) wait(ctx context.Context, t *Trigger, d time.Duration, tr **tracking) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		var tick <-chan time.Time
		if *tr != nil {
			tick = ticker.C
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C():
			return true
		case <-timer.C:
			return false
		case <-tick:
			*tr = r.track(ctx, *tr)
		}
	}
}

func (r *Reconciler) startTracking(res PassResult) *tracking {
	if _, ok := r.cluster.(RolloutReader); !ok {
		return nil
	}
	var jobs []Submitted
	for _, s := range res.Submitted {
		if !s.Unchanged {
			jobs = append(jobs, s)
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	return &tracking{commit: res.Commit, subject: res.Subject, since: r.clock(), jobs: jobs, heal: res.Outcome == PassHealed}
}

func (r *Reconciler) resumeTracking(res PassResult) *tracking {
	if _, ok := r.cluster.(RolloutReader); !ok {
		return nil
	}
	o := res.Progressing
	tr := &tracking{commit: o.Commit, subject: o.Subject, since: o.Time}
	for _, v := range o.Rollouts {
		tr.jobs = append(tr.jobs, Submitted{Namespace: v.Namespace, ID: v.ID, Version: v.Version})
	}
	r.logger.Info("following the rollout of an applied commit", "commit", shortSHA(o.Commit), "jobs", len(tr.jobs))
	return tr
}

// track is the track step of the loop: it assesses every tracked
// rollout and returns nil once all are healthy (recorded), or one failed
// (recorded). A rollout that stays pending is followed on, however long:
// a deployment waiting for `drover deployment promote` is not a failure.
func (r *Reconciler) track(ctx context.Context, tr *tracking) *tracking {
	now := r.clock()
	if tr.slow && now.Sub(tr.lastLook) < slowTrack {
		return tr
	}
	tr.lastLook = now
	defer r.observeStep(stepTrack, time.Now())
	rr := r.cluster.(RolloutReader)
	var failures, waits []string
	for _, s := range tr.jobs {
		ro, err := rr.Rollout(ctx, s.Namespace, s.ID, s.Version)
		if err != nil {
			return tr // try again at the next tick
		}
		switch h := Assess(ro); h.State {
		case RolloutFailed:
			failures = append(failures, "job "+s.ID+": "+h.Reason)
		case RolloutPending:
			waits = append(waits, "job "+s.ID+": "+pendingText(h))
		}
	}
	if len(failures) == 0 && len(waits) > 0 {
		if !tr.slow && now.Sub(tr.since) >= trackPatience {
			tr.slow = true
			r.logger.Warn("rollout still progressing; following it on", "commit", shortSHA(tr.commit),
				"after", trackPatience.String(), "waiting", strings.Join(waits, "; "))
		}
		return tr
	}
	if len(failures) > 0 {
		r.logger.Warn("rollout failed", "commit", shortSHA(tr.commit), "reasons", strings.Join(failures, "; "))
		r.recordFailed(ctx, tr, failures)
		r.notify(tr.commit, DeployFailure, strings.Join(failures, "; "))
		return nil
	}
	r.logger.Info("rollout healthy", "commit", shortSHA(tr.commit), "jobs", len(tr.jobs))
	if !tr.heal {
		r.recordHealthy(ctx, tr)
	}
	r.notify(tr.commit, DeploySuccess, "every rollout is healthy")
	return nil
}

// updateStatus applies change to the source's status and writes it with
// check-and-set: the server's deployment watcher writes the same status,
// so a conflict reads again and retries. change reports whether there is
// anything to write.
func (r *Reconciler) updateStatus(ctx context.Context, what string, change func(cluster.SyncStatus) (cluster.SyncStatus, bool)) {
	for range 5 {
		prev, err := r.status.SyncStatus(ctx, r.cfg.Name)
		if err != nil {
			return
		}
		st, ok := change(cloneStatus(prev, r.cfg.Name, gitsource.RedactURL(r.cfg.URL), r.cfg.Branch))
		if !ok {
			return
		}
		err = r.status.PutSyncStatus(ctx, &st)
		if err == nil {
			r.observeOutcome(prev, &st)
		}
		if err == nil || !errors.Is(err, ErrConflict) {
			if err != nil {
				r.logger.Warn("record "+what, "err", err)
			}
			return
		}
	}
	r.logger.Warn("record " + what + ": the sync status kept changing; giving up")
}

func (r *Reconciler) recordFailed(ctx context.Context, tr *tracking, failures []string) {
	r.updateStatus(ctx, "failed rollout", func(st cluster.SyncStatus) (cluster.SyncStatus, bool) {
		return withOutcome(st, cluster.CommitOutcome{Commit: tr.commit, Subject: tr.subject, Outcome: cluster.CommitFailed, Time: r.clock(), Errors: failures}), true
	})
}

func (r *Reconciler) recordHealthy(ctx context.Context, tr *tracking) {
	r.updateStatus(ctx, "healthy rollout", func(st cluster.SyncStatus) (cluster.SyncStatus, bool) {
		return withHealth(st, tr.commit)
	})
}
