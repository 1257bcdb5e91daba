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
