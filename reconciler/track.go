package reconciler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
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

// Assess says whether a rollout is healthy. Pure: it reads only r.
//
// A version rolled out by a deployment is what its deployment says:
// successful is healthy, failed is failed (with the watcher's reason), and
// running or paused is pending with the deployment's progress, even once
// every allocation runs: the agents' health checks and min_healthy_time
// decide, not the task states. Without a deployment, healthy means every
// allocation of the version is running (service, system) or complete
// (batch). A failed allocation or a restarted task fails the rollout
// either way: a task that keeps crashing is not a successful deploy, even
// while the agent restarts it.
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
	case j.Spec == nil || j.Spec.Periodic != nil || j.Spec.Parameterized != nil:
		return Health{State: RolloutHealthy, Reason: "stored; not launched"}
	}
	var deploying *cluster.Deployment
	if d := r.Deployment; d != nil && d.JobVersion == r.Version {
		switch d.Status {
		case cluster.DeploymentFailed:
			return Health{State: RolloutFailed, Reason: "deployment failed: " + d.StatusDescription}
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
	h := Health{}
	system := j.Spec.Type == jobspec.JobTypeSystem || j.Spec.Type == jobspec.JobTypeSysBatch
	if !system {
		for _, g := range j.Spec.Groups {
			h.Desired += g.Count
		}
	}
	for _, a := range r.Allocs {
		if a.JobVersion != r.Version {
			continue
		}
		if a.ClientStatus == cluster.AllocClientFailed {
			return Health{State: RolloutFailed, Reason: fmt.Sprintf("allocation %s (%s) failed%s", shortID(a.ID), a.Name, lastEvent(a))}
		}
		if a.DesiredStatus != cluster.AllocDesiredRun {
			continue
		}
		if !batch {
			for name, ts := range a.TaskStates {
				if ts.Restarts > 0 || ts.Failed {
					return Health{State: RolloutFailed, Reason: fmt.Sprintf("task %s of allocation %s (%s) restarted %d time(s)%s", name, shortID(a.ID), a.Name, ts.Restarts, lastEvent(a))}
				}
			}
		}
		if system {
			h.Desired++
		}
		if a.ClientStatus == cluster.AllocClientRunning && !batch || a.ClientStatus == cluster.AllocClientComplete {
			h.Ready++
		}
	}
	if deploying != nil {
		// A first deployment places every allocation at once: batches
		// are only a rolling update's, when older versions run.
		rolling := slices.ContainsFunc(r.Allocs, func(a *cluster.Allocation) bool { return a.JobVersion != r.Version })
		h.Reason = deploymentProgress(deploying, j.Spec, rolling)
		return h
	}
	if h.Ready >= h.Desired {
		h.State = RolloutHealthy
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
