package reconciler

import (
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
)

// TestOutcomeRecords: how the records of a commit's attempts change as
// its rollout is followed, fails, is corrected or is superseded.
func TestOutcomeRecords(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	progressingA := cluster.CommitOutcome{Commit: "aaaa", Outcome: cluster.CommitApplied, Health: cluster.HealthProgressing, Time: now,
		Rollouts: []cluster.JobVersionRef{{ID: "web", Version: 3}}, Retry: 1}
	failedA := cluster.CommitOutcome{Commit: "aaaa", Outcome: cluster.CommitFailed, Time: now, Errors: []string{"job web: deployment failed"}}
	st := func(o ...cluster.CommitOutcome) cluster.SyncStatus {
		return cluster.SyncStatus{Source: "apps", Commits: o}
	}

	t.Run("a failure replaces the attempt it followed, keeping its retry number", func(t *testing.T) {
		got := withOutcome(st(progressingA), failedA)
		if len(got.Commits) != 1 || got.Commits[0].Outcome != cluster.CommitFailed || got.Commits[0].Retry != 1 {
			t.Fatalf("commits = %+v", got.Commits)
		}
	})
	t.Run("a retry's outcome is a new entry above the failure", func(t *testing.T) {
		got := withOutcome(st(failedA), cluster.CommitOutcome{Commit: "aaaa", Outcome: cluster.CommitApplied, Retry: 1})
		if len(got.Commits) != 2 || got.Commits[0].Retry != 1 || got.Commits[1].Outcome != cluster.CommitFailed {
			t.Fatalf("commits = %+v", got.Commits)
		}
	})
	t.Run("healthy ends progressing and drops the rollouts", func(t *testing.T) {
		got, ok := withHealth(st(progressingA), "aaaa")
		if !ok || got.Commits[0].Health != cluster.HealthHealthy || got.Commits[0].Rollouts != nil {
			t.Fatalf("ok %v, commits = %+v", ok, got.Commits)
		}
		if _, ok := withHealth(st(failedA), "aaaa"); ok {
			t.Fatal("a failed record was marked healthy")
		}
	})
	t.Run("a correction says what the record said and why it changed", func(t *testing.T) {
		got := withCorrection(st(failedA), "aaaa", "job web version 3: deployment successful", now.Add(time.Hour))
		o := got.Commits[0]
		if o.Outcome != cluster.CommitApplied || o.Health != cluster.HealthHealthy || o.Errors != nil ||
			!strings.Contains(o.Corrected, "recorded failed 2026-12-05T12:00:00Z (job web: deployment failed)") ||
			!strings.Contains(o.Corrected, "deployment successful") {
			t.Fatalf("corrected = %+v", o)
		}
		if failedA.Outcome != cluster.CommitFailed {
			t.Fatal("the input was changed")
		}
	})
	t.Run("a newer commit supersedes a progressing one", func(t *testing.T) {
		got := superseded(st(progressingA))
		if got.Commits[0].Health != cluster.HealthSuperseded || got.Commits[0].Rollouts != nil {
			t.Fatalf("commits = %+v", got.Commits)
		}
		if progressingA.Health != cluster.HealthProgressing {
			t.Fatal("the input was changed")
		}
	})
	t.Run("progressing and maxRetry read the newest attempt", func(t *testing.T) {
		s := st(progressingA, failedA)
		if p := progressing(s.Commits, "aaaa"); p == nil || p.Rollouts[0].Version != 3 {
			t.Fatalf("progressing = %+v", p)
		}
		if progressing(st(failedA).Commits, "aaaa") != nil {
			t.Fatal("a failed commit is not progressing")
		}
		if n := maxRetry(s.Commits, "aaaa"); n != 1 {
			t.Fatalf("maxRetry = %d", n)
		}
	})
}
