// Package deploymentwatcher decides, from a deployment, its job and the
// job's history, what should happen to a running deployment: nothing yet,
// success (and the version marked stable), or failure (and perhaps a
// revert to the last stable version). It is pure: the server's executor
// feeds it a snapshot and the time, and applies the decision through Raft.
//
// Compare Nomad's nomad/deploymentwatcher, which mixes the decisions with
// the Raft writes and the watches; here they are apart.
package deploymentwatcher

import (
	"fmt"
	"slices"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/scheduler"
)

// Input is what Decide looks at.
type Input struct {
	Deployment *cluster.Deployment
	// Versions are the job's stored versions (any order); the revert
	// target is chosen among them.
	Versions []*cluster.Job
	// Allocs are the deployment's allocations: an unhealthy one that the
	// scheduler replaces does not fail a group with a progress deadline.
	Allocs []*cluster.Allocation
	Now    time.Time
}

// Decision is what to do with the deployment. The zero value is "nothing
// yet".
type Decision struct {
	// Status is the deployment's new status, or "" to leave it.
	Status      string
	Description string
	// MarkStable marks the deployed job version stable (on success).
	MarkStable bool
	// Promote promotes the deployment's canaries (auto_promote).
	Promote bool
	// RevertTo is the stable version to register again (on failure with
	// auto_revert), or nil.
	RevertTo *cluster.Job
	// Next is when the decision may change by time alone (a progress
	// deadline), or zero.
	Next time.Time
}

// Descriptions, as Nomad words them where it has an equivalent.
const (
	DescSuccessful       = "Deployment completed successfully"
	DescUnhealthy        = "Failed due to unhealthy allocations"
	DescProgressDeadline = "Failed due to progress deadline"
	DescNeedsPromotion   = "Deployment is running but requires manual promotion"
	DescAutoPromoting    = "Deployment is running; promoting canaries automatically"
)

// Decide decides one deployment.
func Decide(in Input) Decision {
	d := in.Deployment
	if d == nil || d.Status != cluster.DeploymentRunning {
		// Paused deployments wait for an operator; finished ones are done.
		return Decision{}
	}
	groups := make([]string, 0, len(d.TaskGroups))
	for name := range d.TaskGroups {
		groups = append(groups, name)
	}
	slices.Sort(groups)

	replacing := replaced(in)
	var fail string
	var next time.Time
	done, revert := true, false
	for _, name := range groups {
		g := d.TaskGroups[name]
		revert = revert || g.AutoRevert
		// As in Nomad, a group with a progress_deadline does not fail on
		// an unhealthy allocation that gets replaced: it fails when no
		// allocation turns healthy before the deadline. Without one, the
		// first unhealthy allocation fails it. Drover replaces only a
		// failed allocation (its reschedule policy allowing), not a
		// running one that its checks find unhealthy, so that one fails
		// the deployment at once rather than at the deadline.
		if g.UnhealthyAllocs > replacing[name] {
			fail = DescUnhealthy
			continue
		}
		if g.HealthyAllocs >= g.DesiredTotal && (g.DesiredCanaries == 0 || g.Promoted) {
			continue
		}
		done = false
		if by := g.RequireProgressBy; !by.IsZero() {
			if !in.Now.Before(by) {
				if fail == "" {
					fail = DescProgressDeadline
				}
			} else if next.IsZero() || by.Before(next) {
				next = by
			}
		}
	}
	// Canaries: all healthy in every group that has them → promote when
	// every such group allows auto_promote, else wait for an operator.
	canaryGroups, canariesHealthy, auto := 0, true, true
	for _, name := range groups {
		g := d.TaskGroups[name]
		if g.DesiredCanaries == 0 || g.Promoted {
			continue
		}
		canaryGroups++
		canariesHealthy = canariesHealthy && g.HealthyAllocs >= g.DesiredCanaries
		auto = auto && g.AutoPromote
	}
	switch {
	case fail != "":
		out := Decision{Status: cluster.DeploymentFailed, Description: fail}
		if revert {
			if st := LastStable(in.Versions, d.JobVersion); st != nil {
				out.RevertTo = st
				out.Description += fmt.Sprintf(" - rolling back to job version %d", st.Version)
			} else {
				out.Description += " - no stable job version to auto revert to"
			}
		}
		return out
	case done:
		return Decision{Status: cluster.DeploymentSuccessful, Description: DescSuccessful, MarkStable: true}
	case canaryGroups > 0 && canariesHealthy && auto:
		return Decision{Promote: true, Description: DescAutoPromoting}
	case canaryGroups > 0 && canariesHealthy && d.StatusDescription != DescNeedsPromotion:
		return Decision{Status: cluster.DeploymentRunning, Description: DescNeedsPromotion, Next: next}
	}
	return Decision{Next: next}
}

// LastStable returns the newest stable, not stopped version older than
// version, or nil.
func LastStable(versions []*cluster.Job, version uint64) *cluster.Job {
	var best *cluster.Job
	for _, j := range versions {
		if j.Stable && !j.Stop && j.Version < version && (best == nil || j.Version > best.Version) {
			best = j
		}
	}
	return best
}

// Verdicts is the number of health verdicts a deployment has counted: a
// change means the scheduler may place the next batch.
func Verdicts(d *cluster.Deployment) int {
	n := 0
	for _, g := range d.TaskGroups {
		n += g.HealthyAllocs + g.UnhealthyAllocs
	}
	return n
}

// replaced counts, per group with a progress deadline, the unhealthy
// allocations of the deployment that the scheduler replaces: failed, and
// already replaced or allowed another attempt by the group's reschedule
// policy.
func replaced(in Input) map[string]int {
	d := in.Deployment
	var spec *jobspec.Job
	for _, v := range in.Versions {
		if v.Version == d.JobVersion {
			spec = v.Spec
		}
	}
	out := map[string]int{}
	for _, a := range in.Allocs {
		g := d.TaskGroups[a.TaskGroup]
		if a.DeploymentID != d.ID || g == nil || g.ProgressDeadline == 0 || a.ClientStatus != cluster.AllocClientFailed ||
			a.DeploymentStatus == nil || a.DeploymentStatus.Healthy == nil || *a.DeploymentStatus.Healthy {
			continue
		}
		var policy *jobspec.ReschedulePolicy
		if spec != nil {
			if tg := spec.Group(a.TaskGroup); tg != nil {
				policy = tg.Reschedule
			}
		}
		if a.NextAllocation != "" || scheduler.Reschedulable(a, policy) {
			out[a.TaskGroup]++
		}
	}
	return out
}
