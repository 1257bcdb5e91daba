package reconciler

import (
	"reflect"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// TestAssessFailedDeploymentSurvivesRevert: auto_revert registers the
// stable spec as a newer version right after the failure; the submitted
// version's rollout is still failed, not "superseded".
func TestAssessFailedDeploymentSurvivesRevert(t *testing.T) {
	spec := &jobspec.Job{ID: "web", Type: jobspec.JobTypeService, Groups: []*jobspec.Group{{Name: "g", Count: 1}}}
	reverted := &cluster.Job{ID: "web", Version: 3, Spec: spec}
	failed := &cluster.Deployment{ID: "8e2b1c4d-0000", JobVersion: 2, Status: cluster.DeploymentFailed,
		StatusDescription: "Failed due to unhealthy allocations - rolling back to job version 1"}
	tests := []struct {
		name   string
		latest *cluster.Job
		d      *cluster.Deployment
		state  RolloutState
		reason string
	}{
		{"reverted after a failed deployment", reverted, failed, RolloutFailed,
			"deployment failed: Failed due to unhealthy allocations - rolling back to job version 1"},
		{"purged after a failed deployment", nil, failed, RolloutFailed,
			"deployment failed: Failed due to unhealthy allocations - rolling back to job version 1"},
		{"superseded without a deployment", reverted, nil, RolloutHealthy, "superseded by version 3"},
		{"superseded after a successful deployment", reverted,
			&cluster.Deployment{JobVersion: 2, Status: cluster.DeploymentSuccessful}, RolloutHealthy, "superseded by version 3"},
		{"another version's failed deployment", reverted,
			&cluster.Deployment{JobVersion: 1, Status: cluster.DeploymentFailed}, RolloutHealthy, "superseded by version 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Assess(Rollout{Version: 2, Latest: tt.latest, Deployment: tt.d})
			if h.State != tt.state || h.Reason != tt.reason {
				t.Errorf("got %v %q, want %v %q", h.State, h.Reason, tt.state, tt.reason)
			}
		})
	}
}

func TestCommitOutcomeAndWithFailedCommit(t *testing.T) {
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	applied := cluster.CommitOutcome{Commit: "bbb", Outcome: cluster.CommitApplied, Time: now}
	failed := cluster.CommitOutcome{Commit: "bbb", Subject: "Bump web", Outcome: cluster.CommitFailed, Time: now, Errors: []string{"job web: deployment failed"}}
	older := cluster.CommitOutcome{Commit: "aaa", Outcome: cluster.CommitApplied, Time: now}
	tests := []struct {
		name     string
		commits  []cluster.CommitOutcome
		sha      string
		want     string // outcome; "" = none recorded
		recorded []cluster.CommitOutcome
	}{
		{"nothing recorded", nil, "bbb", "", []cluster.CommitOutcome{failed}},
		{"applied, not yet failed", []cluster.CommitOutcome{applied, older}, "bbb", cluster.CommitApplied,
			[]cluster.CommitOutcome{failed, applied, older}},
		{"failed is newest", []cluster.CommitOutcome{failed, applied, older}, "bbb", cluster.CommitFailed,
			[]cluster.CommitOutcome{failed, applied, older}},
		{"another commit", []cluster.CommitOutcome{older}, "bbb", "", []cluster.CommitOutcome{failed, older}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if o := commitOutcome(tt.commits, tt.sha); o != nil {
				got = o.Outcome
			}
			if got != tt.want {
				t.Errorf("commitOutcome = %q, want %q", got, tt.want)
			}
			prev := &cluster.SyncStatus{Source: "apps", Repo: "r", Ref: "main", Commits: tt.commits}
			before := append([]cluster.CommitOutcome(nil), tt.commits...)
			st := WithFailedCommit(prev, "bbb", "Bump web", failed.Errors, now)
			if !reflect.DeepEqual(st.Commits, tt.recorded) {
				t.Errorf("recorded %+v, want %+v", st.Commits, tt.recorded)
			}
			if st.Source != "apps" || st.Ref != "main" {
				t.Errorf("identity lost: %+v", st)
			}
			if !reflect.DeepEqual(prev.Commits, tt.commits) || !reflect.DeepEqual(tt.commits, before) {
				t.Errorf("prev modified")
			}
			if o := commitOutcome(st.Commits, "bbb"); o == nil || o.Outcome != cluster.CommitFailed {
				t.Errorf("after recording: %+v", o)
			}
		})
	}
}
