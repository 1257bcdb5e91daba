package reconciler

import (
	"testing"

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
		{"a failed allocation fails a running deployment", dep(2, "running", "", 0),
			[]*cluster.Allocation{{ID: "a1", Name: "web.g[0]", JobVersion: 2, DesiredStatus: "run", ClientStatus: "failed"}}, RolloutFailed,
			"allocation a1 (web.g[0]) failed"},
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
