package reconciler

import (
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

func TestAssessFollowsDeployment(t *testing.T) {
	job := &cluster.Job{ID: "web", Version: 2, Spec: &jobspec.Job{ID: "web", Type: jobspec.JobTypeService,
		Groups: []*jobspec.Group{{Name: "g", Count: 2}}}}
	running := func(id string, version uint64) *cluster.Allocation {
		return &cluster.Allocation{ID: id, Name: "web.g[0]", JobVersion: version, DesiredStatus: "run", ClientStatus: "running"}
	}
	dep := func(version uint64, status, desc string, healthy int) *cluster.Deployment {
		return &cluster.Deployment{ID: "8e2b1c4d-0000", JobVersion: version, Status: status, StatusDescription: desc,
			TaskGroups: map[string]*cluster.DeploymentGroup{"g": {DesiredTotal: 2, PlacedAllocs: 2, HealthyAllocs: healthy}}}
	}
	allRunning := []*cluster.Allocation{running("a1", 2), running("a2", 2)}
	tests := []struct {
		name   string
		d      *cluster.Deployment
		allocs []*cluster.Allocation
		state  RolloutState
		reason string
	}{
		{"no deployment: running is healthy", nil, allRunning, RolloutHealthy, ""},
		{"running deployment waits for health", dep(2, "running", "Deployment is running", 1), allRunning, RolloutPending,
			"deployment 8e2b1c4d running: g 1/2 healthy (2 placed)"},
		{"paused deployment waits", dep(2, "paused", "Deployment is paused", 0), allRunning, RolloutPending,
			"deployment 8e2b1c4d paused: g 0/2 healthy (2 placed)"},
		{"successful deployment", dep(2, "successful", "Deployment completed successfully", 2), nil, RolloutHealthy, "deployment successful"},
		{"failed deployment", dep(2, "failed", "Failed due to unhealthy allocations - rolling back to job version 1", 1), allRunning, RolloutFailed,
			"deployment failed: Failed due to unhealthy allocations - rolling back to job version 1"},
		{"an older version's deployment does not count", dep(1, "failed", "x", 0), allRunning, RolloutHealthy, ""},
		// The deployment watcher decides (its reschedules and
		// progress_deadline), not one allocation's exit.
		{"a failed allocation does not fail a running deployment", dep(2, "running", "", 0),
			[]*cluster.Allocation{{ID: "a1", Name: "web.g[0]", JobVersion: 2, DesiredStatus: "run", ClientStatus: "failed"}}, RolloutPending,
			"deployment 8e2b1c4d running: g 0/2 healthy (2 placed)"},
		{"a restarted task does not fail a running deployment", dep(2, "running", "", 1),
			[]*cluster.Allocation{{ID: "a1", Name: "web.g[0]", JobVersion: 2, DesiredStatus: "run", ClientStatus: "running",
				TaskStates: map[string]*cluster.TaskState{"t": {State: "running", Restarts: 2}}}}, RolloutPending,
			"deployment 8e2b1c4d running: g 1/2 healthy (2 placed)"},
		{"a successful deployment is healthy after a failed allocation was rescheduled", dep(2, "successful", "Deployment completed successfully", 2),
			[]*cluster.Allocation{{ID: "a0", Name: "web.g[0]", JobVersion: 2, DesiredStatus: "run", ClientStatus: "failed", NextAllocation: "a1"},
				running("a1", 2), running("a2", 2)}, RolloutHealthy, "deployment successful"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Assess(Rollout{Version: 2, Latest: job, Allocs: tt.allocs, Deployment: tt.d})
			if h.State != tt.state || h.Reason != tt.reason {
				t.Errorf("got %v %q, want %v %q", h.State, h.Reason, tt.state, tt.reason)
			}
		})
	}
}

// TestProgressShowsPhase: the progress line names the batch of a rolling
// update and the canary phase, which `drover reconcile --once` prints.
func TestProgressShowsPhase(t *testing.T) {
	spec := func(maxParallel int) *cluster.Job {
		return &cluster.Job{ID: "web", Version: 2, Spec: &jobspec.Job{ID: "web", Type: jobspec.JobTypeService,
			Groups: []*jobspec.Group{{Name: "g", Count: 9, Update: &jobspec.UpdateStrategy{MaxParallel: maxParallel}}}}}
	}
	dep := func(g cluster.DeploymentGroup) *cluster.Deployment {
		return &cluster.Deployment{ID: "8e2b1c4d-0000", JobVersion: 2, Status: cluster.DeploymentRunning,
			TaskGroups: map[string]*cluster.DeploymentGroup{"g": &g}}
	}
	tests := []struct {
		name   string
		job    *cluster.Job
		d      *cluster.Deployment
		reason string
	}{
		{"first batch", spec(3), dep(cluster.DeploymentGroup{DesiredTotal: 9, PlacedAllocs: 3}),
			"deployment 8e2b1c4d running: g batch 1/3, 0/9 healthy (3 placed)"},
		{"second batch", spec(3), dep(cluster.DeploymentGroup{DesiredTotal: 9, PlacedAllocs: 6, HealthyAllocs: 4}),
			"deployment 8e2b1c4d running: g batch 2/3, 4/9 healthy (6 placed)"},
		{"last batch", spec(3), dep(cluster.DeploymentGroup{DesiredTotal: 9, PlacedAllocs: 9, HealthyAllocs: 8, UnhealthyAllocs: 1}),
			"deployment 8e2b1c4d running: g batch 3/3, 8/9 healthy (9 placed, 1 unhealthy)"},
		{"one batch says none", spec(10), dep(cluster.DeploymentGroup{DesiredTotal: 9, PlacedAllocs: 9}),
			"deployment 8e2b1c4d running: g 0/9 healthy (9 placed)"},
		{"canaries waiting for promotion", spec(3), dep(cluster.DeploymentGroup{DesiredTotal: 9, DesiredCanaries: 1, PlacedCanaries: []string{"c1"}, PlacedAllocs: 1, HealthyAllocs: 1}),
			"deployment 8e2b1c4d running: g canaries (drover deployment promote 8e2b1c4d), 1/9 healthy (1 placed, 1/1 canaries)"},
		{"canaries with auto_promote", spec(3), dep(cluster.DeploymentGroup{DesiredTotal: 9, DesiredCanaries: 2, AutoPromote: true, PlacedAllocs: 1}),
			"deployment 8e2b1c4d running: g canaries (auto-promote once healthy), 0/9 healthy (1 placed, 0/2 canaries)"},
		{"promoted canaries roll on in batches", spec(3), dep(cluster.DeploymentGroup{DesiredTotal: 9, DesiredCanaries: 1, Promoted: true, PlacedCanaries: []string{"c1"}, PlacedAllocs: 4, HealthyAllocs: 3}),
			"deployment 8e2b1c4d running: g batch 2/3, 3/9 healthy (4 placed, 1/1 canaries)"},
	}
	// A first deployment (no older version) has no batches.
	first := Assess(Rollout{Version: 2, Latest: spec(3), Deployment: dep(cluster.DeploymentGroup{DesiredTotal: 9, PlacedAllocs: 9})})
	if want := "deployment 8e2b1c4d running: g 0/9 healthy (9 placed)"; first.Reason != want {
		t.Errorf("first deployment: %q, want %q", first.Reason, want)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := []*cluster.Allocation{{ID: "o1", JobVersion: 1, DesiredStatus: "stop", ClientStatus: "complete"}}
			h := Assess(Rollout{Version: 2, Latest: tt.job, Deployment: tt.d, Allocs: old})
			if h.State != RolloutPending || h.Reason != tt.reason {
				t.Errorf("got %v %q\nwant pending %q", h.State, h.Reason, tt.reason)
			}
		})
	}
}

// TestAssessWithoutDeployment: without a deployment, a rollout fails only
// when an allocation failed for good (not replaced, no reschedule left);
// anything the scheduler or the agent is still handling is pending.
func TestAssessWithoutDeployment(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	job := func(typ jobspec.JobType, count int, policy *jobspec.ReschedulePolicy) *cluster.Job {
		return &cluster.Job{ID: "web", Version: 2, Spec: &jobspec.Job{ID: "web", Type: typ,
			Groups: []*jobspec.Group{{Name: "g", Count: count, Reschedule: policy}}}}
	}
	twice := &jobspec.ReschedulePolicy{Attempts: 2, Interval: time.Hour, Delay: 5 * time.Second, DelayFunction: "constant"}
	never := &jobspec.ReschedulePolicy{Attempts: 0}
	alloc := func(id, status string, mods ...func(*cluster.Allocation)) *cluster.Allocation {
		a := &cluster.Allocation{ID: id, Name: "web.g[0]", TaskGroup: "g", JobVersion: 2, DesiredStatus: "run", ClientStatus: status,
			ModifyTime: now, TaskStates: map[string]*cluster.TaskState{"t": {State: "dead", FinishedAt: now}}}
		for _, m := range mods {
			m(a)
		}
		return a
	}
	replaced := func(a *cluster.Allocation) { a.NextAllocation = "next" }
	rescheduledTwice := func(a *cluster.Allocation) {
		a.RescheduleEvents = []cluster.RescheduleEvent{{Time: now.Add(-time.Minute)}, {Time: now.Add(-30 * time.Second)}}
	}
	restarting := func(a *cluster.Allocation) {
		a.TaskStates = map[string]*cluster.TaskState{"t": {State: "pending", Restarts: 1}}
	}
	stopped := func(a *cluster.Allocation) { a.DesiredStatus = "stop" }
	older := func(a *cluster.Allocation) { a.JobVersion = 1 }
	tests := []struct {
		name   string
		job    *cluster.Job
		allocs []*cluster.Allocation
		state  RolloutState
		reason string
	}{
		{"all running", job(jobspec.JobTypeService, 2, twice), []*cluster.Allocation{alloc("a1", "running"), alloc("a2", "running")},
			RolloutHealthy, ""},
		{"not all placed yet", job(jobspec.JobTypeService, 2, twice), []*cluster.Allocation{alloc("a1", "running")},
			RolloutPending, ""},
		{"a failed allocation with reschedule attempts left is pending", job(jobspec.JobTypeService, 1, twice),
			[]*cluster.Allocation{alloc("a1", "failed")}, RolloutPending, "0/1 ready; allocation a1 (web.g[0]) failed; rescheduling"},
		{"a failed allocation that was replaced counts its replacement", job(jobspec.JobTypeService, 1, twice),
			[]*cluster.Allocation{alloc("a1", "failed", replaced), alloc("a2", "running")}, RolloutHealthy, ""},
		{"a failed allocation with no attempt left fails", job(jobspec.JobTypeService, 1, twice),
			[]*cluster.Allocation{alloc("a1", "failed", rescheduledTwice)}, RolloutFailed,
			"allocation a1 (web.g[0]) failed and its reschedule policy allows no further attempt"},
		{"a failed allocation of a job that never reschedules fails", job(jobspec.JobTypeService, 1, never),
			[]*cluster.Allocation{alloc("a1", "failed")}, RolloutFailed,
			"allocation a1 (web.g[0]) failed and its reschedule policy allows no further attempt"},
		{"a system job's failed allocation fails (no reschedule policy)", job(jobspec.JobTypeSystem, 0, nil),
			[]*cluster.Allocation{alloc("a1", "failed")}, RolloutFailed,
			"allocation a1 (web.g[0]) failed and its reschedule policy allows no further attempt"},
		{"a task being restarted is pending", job(jobspec.JobTypeService, 1, twice),
			[]*cluster.Allocation{alloc("a1", "pending", restarting)}, RolloutPending,
			"0/1 ready; task t of allocation a1 (web.g[0]) restarting (1 so far)"},
		{"a lost allocation is pending until replaced", job(jobspec.JobTypeService, 1, twice),
			[]*cluster.Allocation{alloc("a1", "lost")}, RolloutPending, "0/1 ready; allocation a1 (web.g[0]) lost; replacing"},
		{"a failed allocation being stopped does not count", job(jobspec.JobTypeService, 1, never),
			[]*cluster.Allocation{alloc("a1", "failed", stopped), alloc("a2", "running")}, RolloutHealthy, ""},
		{"an older version's failure does not count", job(jobspec.JobTypeService, 1, never),
			[]*cluster.Allocation{alloc("a1", "failed", older), alloc("a2", "running")}, RolloutHealthy, ""},
		{"a batch job is healthy once complete", job(jobspec.JobTypeBatch, 1, twice),
			[]*cluster.Allocation{alloc("a1", "complete")}, RolloutHealthy, ""},
		{"a batch job's failure with attempts left is pending", job(jobspec.JobTypeBatch, 1, twice),
			[]*cluster.Allocation{alloc("a1", "failed")}, RolloutPending, "0/1 ready; allocation a1 (web.g[0]) failed; rescheduling"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Assess(Rollout{Version: 2, Latest: tt.job, Allocs: tt.allocs})
			if h.State != tt.state || !strings.HasPrefix(h.Reason, tt.reason) {
				t.Errorf("got %v %q, want %v %q", h.State, h.Reason, tt.state, tt.reason)
			}
		})
	}
}
