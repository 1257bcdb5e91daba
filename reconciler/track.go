package reconciler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/scheduler"
)

// RolloutState is where the rollout of one job version stands.
type RolloutState uint8

const (
	RolloutPending RolloutState = iota
	RolloutHealthy
	RolloutFailed
)

func (s RolloutState) String() string {
	switch s {
	case RolloutHealthy:
		return "healthy"
	case RolloutFailed:
		return "failed"
	}
	return "pending"
}

// Rollout is what the cluster shows of one submitted job version.
type Rollout struct {
	// Version is the submitted version; Latest the job's newest now.
	Version uint64
	Latest  *cluster.Job
	Allocs  []*cluster.Allocation
	// Deployment is the version's deployment, if the scheduler made one.
	Deployment *cluster.Deployment
}

// Health is a rollout's state with the numbers behind it.
type Health struct {
	State   RolloutState
	Reason  string
	Ready   int // allocations running (service, system) or complete (batch)
	Desired int
}

// Assess says whether a rollout is healthy. Pure: it reads only r. It is
// the one rule for the servers' reconciler (a commit's outcome in
// `drover sync status`) and `drover reconcile --once`.
//
// A rollout fails only when the cluster has given up on it:
//   - a version rolled out by a deployment is what its deployment says:
//     successful is healthy, failed is failed (with the watcher's reason,
//     after its own reschedules and progress_deadline), and running or
//     paused is pending with the deployment's progress, whatever single
//     allocations do meanwhile: the deployment watcher decides, not one
//     task's exit;
//   - without a deployment, an allocation fails the rollout only when it
//     failed for good: not replaced, and its group's reschedule policy
//     allows no further attempt. A failed allocation that will be (or
//     was) rescheduled, a lost one that will be replaced, and a task the
//     agent is restarting are pending. Healthy is every allocation of
//     the version running (service, system) or complete (batch).
func Assess(r Rollout) Health {
	// A failed deployment of the version fails it even once superseded:
	// auto_revert registers the stable version right after the failure.
	if d := r.Deployment; d != nil && d.JobVersion == r.Version && d.Status == cluster.DeploymentFailed {
		return Health{State: RolloutFailed, Reason: "deployment failed: " + d.StatusDescription}
	}
	j := r.Latest
	switch {
	case j == nil:
		return Health{State: RolloutHealthy, Reason: "the job was purged"}
	case j.Version != r.Version:
		return Health{State: RolloutHealthy, Reason: fmt.Sprintf("superseded by version %d", j.Version)}
	case j.Stop:
		for _, a := range r.Allocs {
			if !a.Terminal() {
				return Health{State: RolloutPending, Reason: "allocations are stopping"}
			}
		}
		return Health{State: RolloutHealthy, Reason: "stopped"}
	case j.Spec != nil && j.Spec.Periodic != nil:
		// The job itself is a template: its children, launched on
		// schedule by the leader, are jobs of their own.
		return Health{State: RolloutHealthy, Reason: "periodic; launched on schedule"}
	case j.Spec == nil:
		return Health{State: RolloutHealthy, Reason: "stored; not launched"}
	case j.Spec.Parameterized != nil:
		// Like a periodic job: a template whose dispatched children are
		// the jobs that run.
		return Health{State: RolloutHealthy, Reason: "parameterized; runs when dispatched"}
	}
	var deploying *cluster.Deployment
	if d := r.Deployment; d != nil && d.JobVersion == r.Version {
		switch d.Status {
		case cluster.DeploymentSuccessful:
			n := 0
			for _, g := range d.TaskGroups {
				n += g.DesiredTotal
			}
			return Health{State: RolloutHealthy, Reason: "deployment successful", Ready: n, Desired: n}
		case cluster.DeploymentRunning, cluster.DeploymentPaused:
			deploying = d
		}
	}
	batch := j.Spec.Type == jobspec.JobTypeBatch || j.Spec.Type == jobspec.JobTypeSysBatch
	system := j.Spec.Type == jobspec.JobTypeSystem || j.Spec.Type == jobspec.JobTypeSysBatch
	h := Health{}
	if !system {
		for _, g := range j.Spec.Groups {
			h.Desired += g.Count
		}
	}
	var handling []string // why the rollout is not healthy yet
	for _, a := range r.Allocs {
		if a.JobVersion != r.Version || a.DesiredStatus != cluster.AllocDesiredRun {
			continue
		}
		switch a.ClientStatus {
		case cluster.AllocClientFailed:
			if a.NextAllocation != "" {
				continue // replaced: its replacement counts
			}
			var policy *jobspec.ReschedulePolicy
			if g := j.Spec.Group(a.TaskGroup); g != nil {
				policy = g.Reschedule
			}
			if deploying == nil && !scheduler.Reschedulable(a, policy) {
				return Health{State: RolloutFailed, Reason: fmt.Sprintf("allocation %s (%s) failed and its reschedule policy allows no further attempt%s",
					shortID(a.ID), a.Name, lastEvent(a))}
			}
			handling = append(handling, fmt.Sprintf("allocation %s (%s) failed; rescheduling", shortID(a.ID), a.Name))
			if system {
				h.Desired++
			}
			continue
		case cluster.AllocClientLost:
			if a.NextAllocation == "" {
				handling = append(handling, fmt.Sprintf("allocation %s (%s) lost; replacing", shortID(a.ID), a.Name))
			}
			continue
		}
		if system {
			h.Desired++
		}
		if a.ClientStatus == cluster.AllocClientRunning && !batch || a.ClientStatus == cluster.AllocClientComplete {
			h.Ready++
		}
		for name, ts := range a.TaskStates {
			if ts.Restarts > 0 && !batch && a.ClientStatus != cluster.AllocClientRunning {
				handling = append(handling, fmt.Sprintf("task %s of allocation %s (%s) restarting (%d so far)", name, shortID(a.ID), a.Name, ts.Restarts))
			}
		}
	}
	if deploying != nil {
		// A first deployment places every allocation at once: batches
		// are only a rolling update's, when older versions run.
		rolling := slices.ContainsFunc(r.Allocs, func(a *cluster.Allocation) bool { return a.JobVersion != r.Version })
		h.Reason = deploymentProgress(deploying, j.Spec, rolling)
		return h
	}
	if h.Ready >= h.Desired && len(handling) == 0 {
		h.State = RolloutHealthy
		return h
	}
	if len(handling) > 0 {
		slices.Sort(handling)
		h.Reason = fmt.Sprintf("%d/%d ready; %s", h.Ready, h.Desired, strings.Join(handling, "; "))
	}
	return h
}

// deploymentProgress says where a running deployment stands, per group:
// its phase (canaries awaiting promotion, or the batch of max_parallel
// being replaced) and its health, as
// "deployment 8e2b1c4d running: web batch 2/3, 3/9 healthy (6 placed)".
func deploymentProgress(d *cluster.Deployment, spec *jobspec.Job, rolling bool) string {
	names := make([]string, 0, len(d.TaskGroups))
	for name := range d.TaskGroups {
		names = append(names, name)
	}
	slices.Sort(names)
	var parts []string
	for _, name := range names {
		g := d.TaskGroups[name]
		p := name + " "
		maxParallel := 0
		if tg := spec.Group(name); tg != nil && tg.Update != nil {
			maxParallel = tg.Update.MaxParallel
		}
		switch {
		case g.DesiredCanaries > 0 && !g.Promoted:
			how := "drover deployment promote " + shortID(d.ID)
			if g.AutoPromote {
				how = "auto-promote once healthy"
			}
			p += fmt.Sprintf("canaries (%s), ", how)
		case rolling && maxParallel > 0 && g.DesiredTotal > maxParallel:
			batches := (g.DesiredTotal + maxParallel - 1) / maxParallel
			p += fmt.Sprintf("batch %d/%d, ", min(g.HealthyAllocs/maxParallel+1, batches), batches)
		}
		p += fmt.Sprintf("%d/%d healthy (%d placed", g.HealthyAllocs, g.DesiredTotal, g.PlacedAllocs)
		if g.DesiredCanaries > 0 {
			p += fmt.Sprintf(", %d/%d canaries", len(g.PlacedCanaries), g.DesiredCanaries)
		}
		if g.UnhealthyAllocs > 0 {
			p += fmt.Sprintf(", %d unhealthy", g.UnhealthyAllocs)
		}
		parts = append(parts, p+")")
	}
	return fmt.Sprintf("deployment %s %s: %s", shortID(d.ID), d.Status, strings.Join(parts, ", "))
}

// lastEvent is the newest task event with a message, for a reason.
func lastEvent(a *cluster.Allocation) string {
	var best *cluster.TaskEvent
	for _, ts := range a.TaskStates {
		for i := range ts.Events {
			e := &ts.Events[i]
			if e.Message != "" && (best == nil || e.Time.After(best.Time)) {
				best = e
			}
		}
	}
	if best == nil {
		if a.ClientDescription != "" {
			return ": " + a.ClientDescription
		}
		return ""
	}
	return fmt.Sprintf(": %s: %s", best.Type, best.Message)
}

func shortID(id string) string {
	return id[:min(len(id), 8)]
}
