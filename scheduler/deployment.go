package scheduler

import (
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// rollout is the deployment side of one evaluation of a service job.
type rollout struct {
	// active is the running deployment of the job's version, if any.
	active *cluster.Deployment
	// frozen is set when this version's deployment failed or was
	// cancelled: no more destructive updates until a new version.
	frozen bool
	// failed is this version's failed or cancelled deployment.
	failed *cluster.Deployment
	// rolledOut is set when this version was already deployed.
	rolledOut bool
	// cancel is an older version's deployment that the new one replaces.
	cancel *cluster.Deployment
	// paused is set when an operator paused the active deployment: no
	// more destructive updates until it resumes.
	paused bool
	// inFlight counts, per group, placements of the active deployment
	// whose health is not known yet.
	inFlight map[string]int
}

func newRollout(st State, job *cluster.Job, allocs []*cluster.Allocation) rollout {
	var r rollout
	if job == nil || job.Stop || job.Spec.Type != jobspec.JobTypeService {
		return r
	}
	d := st.LatestDeployment(job.Namespace, job.ID)
	switch {
	case d == nil:
	case d.JobVersion != job.Version:
		if d.Active() {
			r.cancel = d
		}
	case d.Active():
		r.active = d
		r.paused = d.Status == cluster.DeploymentPaused
	case d.Status == cluster.DeploymentSuccessful:
		r.rolledOut = true
	default:
		r.frozen = true
		r.failed = d
	}
	if r.active != nil {
		r.inFlight = map[string]int{}
		for _, a := range allocs {
			if a.DeploymentID != r.active.ID || a.JobVersion != job.Version || a.Terminal() {
				continue
			}
			if a.ClientStatus == cluster.AllocClientUnknown {
				// Its node is away: it cannot become healthy before it
				// returns, and its replacement is counted instead.
				continue
			}
			if a.DeploymentStatus == nil || a.DeploymentStatus.Healthy == nil {
				r.inFlight[a.TaskGroup]++
			}
		}
	}
	return r
}

// destructiveLimit is how many destructive updates group g may start in
// this evaluation: max_parallel less those still becoming healthy.
func (r rollout) destructiveLimit(g *jobspec.Group) int {
	if r.frozen || r.paused {
		return 0
	}
	if g.Update == nil || g.Update.MaxParallel <= 0 {
		return -1
	}
	return max(g.Update.MaxParallel-r.inFlight[g.Name], 0)
}

// canaries is group g's canary phase in this evaluation.
func (r rollout) canaries(g *jobspec.Group) canaryState {
	if g == nil || g.Update == nil || g.Update.Canary <= 0 || r.rolledOut {
		return canaryState{}
	}
	var d *cluster.Deployment
	switch {
	case r.active != nil:
		d = r.active
	case r.failed != nil:
		d = r.failed
	default:
		// The deployment this evaluation creates.
		return canaryState{want: g.Update.Canary}
	}
	dg := d.TaskGroups[g.Name]
	if dg == nil {
		return canaryState{}
	}
	return canaryState{want: dg.DesiredCanaries, promoted: dg.Promoted, blocked: r.paused, failed: r.failed != nil}
}

// deploymentID is the deployment new allocations belong to: the active
// one, or the one this plan creates.
func (r rollout) deploymentID(created *cluster.Deployment) string {
	if created != nil {
		return created.ID
	}
	if r.active != nil {
		return r.active.ID
	}
	return ""
}

// newDeployment returns the deployment to create for the job's version,
// or nil: only a service job's version that has no deployment yet, and
// whose groups with an update strategy get placements, destructive or
// in-place updates in this plan, gets one. In-place updates count as in
// Nomad: an auto-revert that only moves healthy allocations back to the
// stable spec then ends in a successful deployment of its own, so the
// job's latest deployment is not the failed one it reverted.
func (r rollout) newDeployment(job *cluster.Job, results []*groupResult, newID func() string, now time.Time) *cluster.Deployment {
	if job == nil || job.Stop || job.Spec.Type != jobspec.JobTypeService || r.active != nil || r.frozen || r.rolledOut {
		return nil
	}
	needed := false
	for _, res := range results {
		g := job.Spec.Group(res.name)
		if g != nil && hasStrategy(g) && (res.desired.Place > 0 || res.desired.DestructiveUpdate > 0 || res.desired.Canary > 0 || res.desired.InPlaceUpdate > 0) {
			needed = true
		}
	}
	if !needed {
		return nil
	}
	d := &cluster.Deployment{
		ID: newID(), Namespace: job.Namespace, JobID: job.ID, JobVersion: job.Version,
		Status: cluster.DeploymentRunning, StatusDescription: "Deployment is running",
		TaskGroups: map[string]*cluster.DeploymentGroup{}, CreateTime: now, ModifyTime: now,
	}
	for _, g := range job.Spec.Groups {
		if !hasStrategy(g) {
			continue
		}
		canaries := 0
		if res := resultOf(results, g.Name); res != nil && res.desired.Canary > 0 {
			canaries = g.Update.Canary
		}
		d.TaskGroups[g.Name] = &cluster.DeploymentGroup{
			DesiredCanaries: canaries,
			AutoRevert:      g.Update.AutoRevert, AutoPromote: g.Update.AutoPromote,
			DesiredTotal: g.Count, ProgressDeadline: g.Update.ProgressDeadline,
			RequireProgressBy: requireBy(now, g.Update.ProgressDeadline),
		}
	}
	return d
}

func resultOf(results []*groupResult, name string) *groupResult {
	for _, r := range results {
		if r.name == name {
			return r
		}
	}
	return nil
}

func requireBy(now time.Time, deadline time.Duration) time.Time {
	if deadline <= 0 {
		return time.Time{}
	}
	return now.Add(deadline)
}

func hasStrategy(g *jobspec.Group) bool {
	return g.Update != nil && g.Update.MaxParallel > 0
}
