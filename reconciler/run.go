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

// trackTimeout is how long a rollout may stay pending before the track
// step gives up on it and records the commit as failed.
const trackTimeout = 10 * time.Minute

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
		if res.Outcome == PassApplied || res.Outcome == PassHealed {
			tr = r.startTracking(res)
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
	return &tracking{commit: res.Commit, subject: res.Subject, since: r.clock(), jobs: jobs}
}

// track is the track step of the loop: it assesses every tracked
// rollout and returns nil once all are healthy, or one failed (recorded).
func (r *Reconciler) track(ctx context.Context, tr *tracking) *tracking {
	rr := r.cluster.(RolloutReader)
	var failures []string
	pending := false
	for _, s := range tr.jobs {
		ro, err := rr.Rollout(ctx, s.Namespace, s.ID, s.Version)
		if err != nil {
			return tr // try again at the next tick
		}
		switch h := Assess(ro); h.State {
		case RolloutFailed:
			failures = append(failures, "job "+s.ID+": "+h.Reason)
		case RolloutPending:
			pending = true
		}
	}
	if len(failures) == 0 && pending && r.clock().Sub(tr.since) < trackTimeout {
		return tr
	}
	if len(failures) == 0 && pending {
		failures = []string{"the rollout was not healthy after " + trackTimeout.String()}
	}
	if len(failures) > 0 {
		r.logger.Warn("rollout failed", "commit", shortSHA(tr.commit), "reasons", strings.Join(failures, "; "))
		r.recordFailed(ctx, tr, failures)
		r.notify(tr.commit, DeployFailure, strings.Join(failures, "; "))
	} else {
		r.logger.Info("rollout healthy", "commit", shortSHA(tr.commit), "jobs", len(tr.jobs))
		r.notify(tr.commit, DeploySuccess, "every rollout is healthy")
	}
	return nil
}

func (r *Reconciler) recordFailed(ctx context.Context, tr *tracking, failures []string) {
	// The server's deployment watcher writes the same status: a conflict
	// means it did, so read again and retry.
	for range 5 {
		prev, err := r.status.SyncStatus(ctx, r.cfg.Name)
		if err != nil {
			return
		}
		st := cloneStatus(prev, r.cfg.Name, gitsource.RedactURL(r.cfg.URL), r.cfg.Branch)
		st = withOutcome(st, cluster.CommitOutcome{Commit: tr.commit, Subject: tr.subject, Outcome: cluster.CommitFailed, Time: r.clock(), Errors: failures})
		err = r.status.PutSyncStatus(ctx, &st)
		if err == nil || !errors.Is(err, ErrConflict) {
			if err != nil {
				r.logger.Warn("record failed rollout", "err", err)
			}
			return
		}
	}
	r.logger.Warn("record failed rollout: the sync status kept changing; giving up")
}
