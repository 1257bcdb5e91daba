package reconciler

import (
	"testing"

	"github.com/droverhq/drover/cluster"
)

func TestNewOutcome(t *testing.T) {
	st := func(outcomes ...cluster.CommitOutcome) *cluster.SyncStatus {
		return &cluster.SyncStatus{Source: "apps", Commits: outcomes}
	}
	applied := cluster.CommitOutcome{Commit: "a", Outcome: cluster.CommitApplied}
	rejected := cluster.CommitOutcome{Commit: "b", Outcome: cluster.CommitRejected}
	failedA := cluster.CommitOutcome{Commit: "a", Outcome: cluster.CommitFailed}
	retried := cluster.CommitOutcome{Commit: "a", Outcome: cluster.CommitApplied, Retry: 1}
	for _, tc := range []struct {
		name      string
		prev, now *cluster.SyncStatus
		want      string
	}{
		{"nothing recorded", nil, st(), ""},
		{"first commit", nil, st(applied), cluster.CommitApplied},
		{"first commit over an empty status", st(), st(applied), cluster.CommitApplied},
		{"same outcome again: a poll of a rejected commit", st(rejected, applied), st(rejected, applied), ""},
		{"a newer commit rejected", st(applied), st(rejected, applied), cluster.CommitRejected},
		{"the applied commit's rollout failed", st(applied), st(failedA), cluster.CommitFailed},
		{"a retry applied again", st(failedA), st(retried, failedA), cluster.CommitApplied},
		{"health changed, outcome did not", st(applied), st(cluster.CommitOutcome{Commit: "a", Outcome: cluster.CommitApplied, Health: cluster.HealthHealthy}), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NewOutcome(tc.prev, tc.now); got != tc.want {
				t.Fatalf("NewOutcome = %q, want %q", got, tc.want)
			}
		})
	}
}
