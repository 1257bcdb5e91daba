package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/state"
)

// Periodic jobs, Nomad's model: a periodic job is a template the leader
// launches on its cron schedule as child jobs `<id>/periodic-<unix>`,
// each registered with an evaluation like any batch job. Each launch is
// one Raft command (state.MsgPeriodicLaunch) that registers the child
// and records the launch time, so a new leader carries on after the
// recorded launch: a time is never launched twice, and of the times
// that came due while no server led, the latest is launched once (at
// the moment the new leader notices).

// periodicRetry is how long the loop waits after a launch failed before
// trying again: long enough not to spin on a broken Raft, short enough
// that a launch is late by seconds, not minutes.
const periodicRetry = time.Second

// periodicDue is one launch the plan asks for.
type periodicDue struct {
	job    *cluster.Job
	launch time.Time
	// skip: prohibit_overlap and a child still runs; the launch is
	// recorded without a child.
	skip bool
}

// planPeriodic decides, from state alone, which periodic jobs are due at
// now and when the next one comes due (zero: none scheduled). It returns
// the jobs whose schedule does not compute as errs, for the caller to
// log; validation at register time makes them rare.
func planPeriodic(snap *state.Snapshot, now time.Time) (due []periodicDue, wake time.Time, errs []error) {
	type key struct{ ns, id string }
	jobs := snap.Jobs()
	running := map[key]bool{} // parents with a child not yet finished
	for _, j := range jobs {
		if j.ParentID != "" && !j.Stop && jobSummaryStatus(j, snap.JobSummary(j.Namespace, j.ID)) != cluster.JobStatusDead {
			running[key{j.Namespace, j.ParentID}] = true
		}
	}
	for _, j := range jobs {
		// nextPeriodicLaunch is shared with the job list's
		// next_periodic_launch, so that status shows what this does.
		launch, isDue, err := nextPeriodicLaunch(snap, j, now)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("periodic job %s/%s: %w", j.Namespace, j.ID, err))
			continue
		case launch.IsZero():
			continue
		case !isDue:
			if wake.IsZero() || launch.Before(wake) {
				wake = launch
			}
			continue
		}
		due = append(due, periodicDue{job: j, launch: launch, skip: j.Spec.Periodic.ProhibitOverlap && running[key{j.Namespace, j.ID}]})
	}
	return due, wake, errs
}

// periodicChild derives the child a periodic job launches at launch: a
// copy of its spec under the child's ID, without the periodic block.
func periodicChild(parent *cluster.Job, launch time.Time) (*cluster.Job, *cluster.Evaluation, error) {
	// A JSON round trip is a deep copy: the spec is plain data, and the
	// parent's record is shared with the store.
	raw, err := json.Marshal(parent.Spec)
	if err != nil {
		return nil, nil, err
	}
	spec := new(jobspec.Job)
	if err := json.Unmarshal(raw, spec); err != nil {
		return nil, nil, err
	}
	id := fmt.Sprintf("%s/periodic-%d", parent.ID, launch.Unix())
	spec.ID, spec.Name, spec.Periodic = id, id, nil
	// No Source: the child comes from no file, and a Git source must
	// neither prune it nor count it as one of its jobs. ParentID says
	// where it came from.
	child := &cluster.Job{Namespace: parent.Namespace, ID: id, Spec: spec, Hash: spec.Hash(), ParentID: parent.ID}
	eval := &cluster.Evaluation{
		ID: newID(), Namespace: parent.Namespace, JobID: id, Type: spec.Type, Priority: evalPriority(spec),
		TriggeredBy: cluster.EvalTriggerPeriodicJob, Status: cluster.EvalStatusPending,
	}
	return child, eval, nil
}

// launchPeriodic commits one launch (or, with skip, its record alone).
func (s *Server) launchPeriodic(ctx context.Context, d periodicDue, force bool) (uint64, *state.PeriodicLaunchResponse, *cluster.Evaluation, error) {
	req := &state.PeriodicLaunchRequest{
		Namespace: d.job.Namespace, JobID: d.job.ID, Launch: d.launch, Force: force, Now: s.now(),
	}
	if !d.skip {
		child, eval, err := periodicChild(d.job, d.launch)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("derive child of %s: %w", d.job.ID, err)
		}
		req.Child, req.Eval = child, eval
	}
	idx, raw, err := s.raft.Apply(ctx, state.MsgPeriodicLaunch, req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("launch %s at %s: %w", d.job.ID, d.launch.Format(time.RFC3339), err)
	}
	resp, _ := raw.(*state.PeriodicLaunchResponse)
	if resp == nil {
		resp = &state.PeriodicLaunchResponse{}
	}
	return idx, resp, req.Eval, nil
}

// runPeriodic is the leader's periodic launcher; it returns when ctx
// ends. It sleeps until the next launch is due or the jobs change (a
// periodic job registered, updated or stopped, or a launch recorded).
func (s *Server) runPeriodic(ctx context.Context) {
	tables := []string{state.TableJobs, state.TablePeriodicLaunch}
	for ctx.Err() == nil {
		snap := s.raft.Store().Snapshot()
		// At least 1: Blocking returns at once for 0, and an idle
		// cluster that never wrote these tables must not spin.
		index := max(snap.Index(tables...), 1)
		now := s.now()
		due, wake, errs := planPeriodic(snap, now)
		for _, err := range errs {
			s.logger.Warn("periodic job not scheduled", "err", err)
		}
		failed := false
		for _, d := range due {
			_, resp, _, err := s.launchPeriodic(ctx, d, false)
			switch {
			case err != nil && ctx.Err() == nil:
				s.logger.Warn("periodic launch", "job", d.job.ID, "namespace", d.job.Namespace, "err", err)
				failed = true
			case err != nil:
			case d.skip:
				s.logger.Info("periodic launch skipped: prohibit_overlap and a child still runs",
					"job", d.job.ID, "namespace", d.job.Namespace, "launch", d.launch)
			case resp.Launched:
				s.logger.Info("periodic job launched", "job", d.job.ID, "namespace", d.job.Namespace,
					"child", resp.ChildID, "launch", d.launch)
			}
		}
		if failed {
			if !sleepCtx(ctx, periodicRetry) {
				return
			}
			continue
		}
		if len(due) > 0 {
			// The launches moved the records: plan again at once.
			continue
		}
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if !wake.IsZero() {
			// A timer on the real clock, for the time the (possibly
			// injected) clock says is left.
			wctx, cancel = context.WithTimeout(ctx, max(wake.Sub(now), 0))
		}
		_, _, _ = s.raft.Store().Blocking(wctx, index, tables, func(sn *state.Snapshot) (uint64, any) {
			return sn.Index(tables...), nil
		})
		cancel()
	}
}

// jobPeriodicForce launches a periodic job's child now
// (POST /v1/job/{id}/periodic/force).
func (s *Server) jobPeriodicForce(w http.ResponseWriter, r *http.Request) error {
	ns, id := namespace(r), r.PathValue("id")
	setAuditObject(r.Context(), id)
	j := s.raft.Store().Snapshot().Job(ns, id)
	switch {
	case j == nil:
		return errorf(http.StatusNotFound, "job %q not found", id)
	case j.Spec == nil || j.Spec.Periodic == nil:
		return errorf(http.StatusBadRequest, "job %q is not periodic: only a job with a periodic block can be forced", id)
	case j.Stop:
		return errorf(http.StatusBadRequest, "job %q is stopped: run it again before forcing a launch", id)
	}
	idx, resp, eval, err := s.launchPeriodic(r.Context(), periodicDue{job: j, launch: s.now().Truncate(time.Second)}, true)
	if err != nil {
		if errors.Is(err, state.ErrCASConflict) {
			return errorf(http.StatusConflict, "job %q already launched a child this second; try again in a second", id)
		}
		return err
	}
	return s.reply(w, idx, &api.PeriodicForceResponse{ChildID: resp.ChildID, EvalID: eval.ID, EvalCreateIndex: idx, Index: idx})
}
