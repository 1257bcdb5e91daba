package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
)

func TestWriteSyncStatusSaysWhyACommitFailed(t *testing.T) {
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	reason := "job web: deployment 8e2b1c4d of version 1 failed: Failed due to unhealthy allocations - rolling back to job version 0"
	failed := cluster.CommitOutcome{Commit: "bbbbbbbbbb", Subject: "Break web", Outcome: cluster.CommitFailed, Time: now, Errors: []string{reason}}
	applied := cluster.CommitOutcome{Commit: "bbbbbbbbbb", Subject: "Break web", Outcome: cluster.CommitApplied, Time: now}
	tests := []struct {
		name    string
		st      cluster.SyncStatus
		want    []string
		notWant []string
	}{
		{"failed commit", cluster.SyncStatus{Source: "apps", LastSeen: "bbbbbbbbbb", LastApplied: "bbbbbbbbbb",
			Commits: []cluster.CommitOutcome{failed, applied}},
			[]string{"failed: the rollout of bbbbbbb failed and is not retried", reason, "bbbbbbb failed:"}, []string{"in sync"}},
		{"a newer commit applied after a failed one", cluster.SyncStatus{Source: "apps", LastSeen: "cccccccccc", LastApplied: "cccccccccc",
			Commits: []cluster.CommitOutcome{{Commit: "cccccccccc", Outcome: cluster.CommitApplied, Time: now}, failed, applied}},
			[]string{"in sync", reason}, []string{"not retried"}},
		{"rolling out in waves", cluster.SyncStatus{Source: "apps", LastSeen: "dddddddddd", LastApplied: "cccccccccc",
			Commits: []cluster.CommitOutcome{{Commit: "dddddddddd", Outcome: cluster.CommitRollingOut, Time: now,
				Waiting: []string{"web waits for api (deployment 1a2b3c4d running: g batch 1/2, 0/4 healthy (2 placed))"}}}},
			[]string{"rolling out ddddddd in waves (depends_on): 1 job(s) waiting", "ddddddd rolling out, waiting:\n  web waits for api (deployment 1a2b3c4d"},
			[]string{"behind", "in sync"}},
		{"applied commit", cluster.SyncStatus{Source: "apps", LastSeen: "bbbbbbbbbb", LastApplied: "bbbbbbbbbb",
			Commits: []cluster.CommitOutcome{applied}},
			[]string{"in sync"}, []string{"failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			writeSyncStatus(&b, &tt.st, now)
			out := b.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}
