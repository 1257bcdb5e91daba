package main

import (
	"testing"

	"github.com/droverhq/drover/cluster"
)

// TestAnnotateHistory: each Git-managed version shows what its source
// records of the commit attempt that produced it: a retry's own outcome,
// and a corrected record.
func TestAnnotateHistory(t *testing.T) {
	entries := []historyEntry{
		{JobID: "web", Version: 4, Source: &cluster.Source{Name: "apps", Commit: "bbbb", Retry: 1}},
		{JobID: "web", Version: 2, Source: &cluster.Source{Name: "apps", Commit: "bbbb"}},
		{JobID: "web", Version: 1, Source: &cluster.Source{Name: "apps", Commit: "aaaa"}},
		{JobID: "web", Version: 0},
		{JobID: "db", Version: 0, Source: &cluster.Source{Name: "other", Commit: "aaaa"}},
	}
	statuses := []*cluster.SyncStatus{{Source: "apps", Commits: []cluster.CommitOutcome{
		{Commit: "bbbb", Outcome: cluster.CommitApplied, Health: cluster.HealthHealthy, Retry: 1},
		{Commit: "bbbb", Outcome: cluster.CommitFailed},
		{Commit: "aaaa", Outcome: cluster.CommitApplied, Health: cluster.HealthHealthy, Corrected: "recorded failed ...; corrected ..."},
	}}}
	annotateHistory(entries, statuses)
	want := []struct{ outcome, corrected string }{
		{"applied, healthy (retry 1)", ""},
		{"failed", ""},
		{"applied, healthy (corrected)", "recorded failed ...; corrected ..."},
		{"", ""},
		{"", ""},
	}
	for i, w := range want {
		if entries[i].CommitOutcome != w.outcome || entries[i].Corrected != w.corrected {
			t.Errorf("entry %d (%s v%d): %q %q, want %q %q", i, entries[i].JobID, entries[i].Version,
				entries[i].CommitOutcome, entries[i].Corrected, w.outcome, w.corrected)
		}
	}
}
