package server

import (
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

// periodicActive is Nomad's Job.IsPeriodicActive: the leader launches
// children of j on its schedule. Not of a disabled, stopped or
// parameterized job: a parameterized periodic job is a template whose
// dispatched children are periodic, not a schedule of its own.
func periodicActive(j *cluster.Job) bool {
	return j != nil && !j.Stop && j.Spec != nil && j.Spec.Periodic != nil &&
		j.Spec.Periodic.Enabled && j.Spec.Parameterized == nil
}

// nextPeriodicLaunch is the launch the leader makes next for the
// periodic job j, from state and the clock alone: the first scheduled
// time after the later of its last recorded launch and the submission
// of its current version. due says that time is not after now; the
// leader then launches it at once, and when a later scheduled time has
// passed too (no leader for a while) it launches once, at now, as
// Nomad does: launch is then now, to the second. The time is in the
// job's time_zone. Zero, not due, for a job that is not active
// (periodicActive) or whose schedule never fires again.
//
// planPeriodic (the leader's launcher) and the job list's
// next_periodic_launch both come from here, so that what `drover job
// status` shows is what the leader does, on the server's clock.
func nextPeriodicLaunch(snap *state.Snapshot, j *cluster.Job, now time.Time) (launch time.Time, due bool, err error) {
	if !periodicActive(j) {
		return time.Time{}, false, nil
	}
	p := j.Spec.Periodic
	// Count from the later of the last launch and the current
	// version's submission, as Nomad does (it computes the next launch
	// from now when a job is registered or updated): registering,
	// updating or re-running a stopped job does not launch a time
	// already past.
	base := j.SubmitTime
	if rec := snap.PeriodicLaunch(j.Namespace, j.ID); rec != nil && rec.Launch.After(base) {
		base = rec.Launch
	}
	next, err := p.Next(base)
	if err != nil || next.IsZero() {
		return time.Time{}, false, err
	}
	if next.After(now) {
		return next, false, nil
	}
	// Due. When more than one time passed unlaunched, launch only once,
	// now.
	if after, err := p.Next(next); err == nil && !after.IsZero() && !after.After(now) {
		next = now.Truncate(time.Second).In(next.Location())
	}
	return next, true, nil
}

// jobNextPeriodicLaunch is the job list's next_periodic_launch for j:
// nil when the leader launches nothing of it (not periodic, disabled,
// stopped, parameterized, a schedule that never fires again or does not
// compute). A launch already due is the one the leader is making: its
// child is named after that time.
func jobNextPeriodicLaunch(snap *state.Snapshot, j *cluster.Job, now time.Time) *time.Time {
	launch, _, err := nextPeriodicLaunch(snap, j, now)
	if err != nil || launch.IsZero() {
		return nil
	}
	return &launch
}
