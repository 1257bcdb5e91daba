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
			[]string{"rolling out ddddddd in waves (depends_on): 1 job waiting, see below", "ddddddd rolling out, waiting:\n  web waits for api (deployment 1a2b3c4d"},
			[]string{"behind", "in sync"}},
		{"rolling out in waves, two waiting", cluster.SyncStatus{Source: "apps", LastSeen: "dddddddddd", LastApplied: "cccccccccc",
			Commits: []cluster.CommitOutcome{{Commit: "dddddddddd", Outcome: cluster.CommitRollingOut, Time: now,
				Waiting: []string{"web waits for api (deployment 1a2b3c4d running)", "worker waits for api (deployment 1a2b3c4d running)"}}}},
			[]string{"rolling out ddddddd in waves (depends_on): 2 jobs waiting, see below"}, []string{"behind", "in sync"}},
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

// TestJudgeSync: the Status line and exit code of every state a source
// can be in with its newest commit (sync status), or a given one (sync
// wait -commit).
func TestJudgeSync(t *testing.T) {
	now := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	out := func(sha, outcome, health string, mods ...func(*cluster.CommitOutcome)) cluster.CommitOutcome {
		o := cluster.CommitOutcome{Commit: sha, Outcome: outcome, Health: health, Time: now}
		for _, m := range mods {
			m(&o)
		}
		return o
	}
	corrected := func(o *cluster.CommitOutcome) { o.Corrected = "recorded failed ...; corrected ..." }
	why := func(o *cluster.CommitOutcome) {
		o.Errors = []string{"job web: deployment 8e2b1c4d of version 1 failed"}
	}
	rollouts := func(o *cluster.CommitOutcome) { o.Rollouts = []cluster.JobVersionRef{{ID: "web", Version: 4}} }
	src := func(seen, applied string, o ...cluster.CommitOutcome) cluster.SyncStatus {
		return cluster.SyncStatus{Source: "apps", LastSeen: seen, LastApplied: applied, Commits: o}
	}
	tests := []struct {
		name   string
		st     cluster.SyncStatus
		commit string
		code   int
		final  bool
		text   string
	}{
		{"not synced yet", src("", ""), "", 2, false, "not synced yet"},
		{"applied and healthy", src("bbbbbbbb", "bbbbbbbb", out("bbbbbbbb", "applied", "healthy")), "", 0, true, "in sync"},
		{"applied by an older Drover (no health)", src("bbbbbbbb", "bbbbbbbb", out("bbbbbbbb", "applied", "")), "", 0, true, "in sync"},
		{"rolling out", src("bbbbbbbb", "bbbbbbbb", out("bbbbbbbb", "applied", "progressing", rollouts)), "", 2, false,
			"rolling out bbbbbbb: waiting for web v4 to be healthy"},
		{"rolling out in waves", src("bbbbbbbb", "aaaaaaaa", out("bbbbbbbb", "rolling_out", "")), "", 2, false, "rolling out bbbbbbb in waves"},
		{"failed", src("bbbbbbbb", "bbbbbbbb", out("bbbbbbbb", "failed", "", why)), "", 3, true,
			"failed: the rollout of bbbbbbb failed and is not retried; fix the cause and run 'drover sync retry apps'"},
		{"retry asked", func() cluster.SyncStatus {
			s := src("bbbbbbbb", "bbbbbbbb", out("bbbbbbbb", "failed", ""))
			s.Retry = &cluster.SyncRetry{Commit: "bbbbbbbb", RequestedAt: now}
			return s
		}(), "", 2, false, "retrying bbbbbbb"},
		{"rejected", src("cccccccc", "bbbbbbbb", out("cccccccc", "rejected", ""), out("bbbbbbbb", "applied", "healthy")), "", 3, true,
			"rejected: ccccccc was not applied (see below); the cluster stays at bbbbbbb"},
		{"behind", src("cccccccc", "bbbbbbbb", out("bbbbbbbb", "applied", "healthy")), "", 2, false, "behind"},
		{"corrected", src("bbbbbbbb", "bbbbbbbb", out("bbbbbbbb", "applied", "healthy", corrected)), "", 0, true,
			"in sync (bbbbbbb was recorded failed, then proved healthy"},
		{"cannot fetch", func() cluster.SyncStatus {
			s := src("bbbbbbbb", "bbbbbbbb", out("bbbbbbbb", "applied", "progressing"))
			s.Error = "fetch: connection refused"
			return s
		}(), "", 2, false, "error: fetch: connection refused"},
		{"a failure is final even while fetching fails", func() cluster.SyncStatus {
			s := src("bbbbbbbb", "bbbbbbbb", out("bbbbbbbb", "failed", ""))
			s.Error = "fetch: connection refused"
			return s
		}(), "", 3, true, "failed:"},
		{"-commit not seen yet", src("bbbbbbbb", "bbbbbbbb", out("bbbbbbbb", "applied", "healthy")), "dddd", 2, false,
			"waiting for the servers to see dddd"},
		{"-commit by prefix, healthy", src("bbbbbbbb", "bbbbbbbb", out("bbbbbbbb", "applied", "healthy")), "bbbb", 0, true, "in sync"},
		{"-commit superseded: judged by the newest", src("cccccccc", "cccccccc", out("cccccccc", "applied", "progressing"),
			out("bbbbbbbb", "applied", "superseded")), "bbbbbbbb", 2, false, "rolling out ccccccc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := judgeSync(&tt.st, tt.commit)
			if v.code != tt.code || v.final != tt.final || !strings.HasPrefix(v.text, tt.text) {
				t.Errorf("got %d final=%v %q, want %d final=%v %q", v.code, v.final, v.text, tt.code, tt.final, tt.text)
			}
		})
	}
	if worseSync(worseSync(exitOK, exitSyncFailed), exitSyncBehind) != exitSyncFailed || worseSync(exitOK, exitSyncBehind) != exitSyncBehind {
		t.Error("worseSync: 3 must win over 2, and 2 over 0")
	}
}

// TestWriteSyncStatusShowsRetriesCorrectionsAndNotLaunched: the Commits
// table says how each attempt ended; a corrected record says what it said.
func TestWriteSyncStatusShowsRetriesCorrectionsAndNotLaunched(t *testing.T) {
	now := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	st := cluster.SyncStatus{Source: "apps", LastSeen: "bbbbbbbbbb", LastApplied: "bbbbbbbbbb", NotLaunched: []string{"resize (parameterized)"},
		Commits: []cluster.CommitOutcome{
			{Commit: "bbbbbbbbbb", Outcome: "applied", Health: "healthy", Retry: 1, Time: now, Subject: "Needs a fix"},
			{Commit: "bbbbbbbbbb", Outcome: "failed", Time: now, Subject: "Needs a fix", Errors: []string{"job web: deployment failed"}},
			{Commit: "aaaaaaaaaa", Outcome: "applied", Health: "healthy", Time: now, Corrected: "recorded failed X; corrected Y: job web version 2: deployment successful"},
		}}
	var b bytes.Buffer
	writeSyncStatus(&b, &st, now)
	for _, w := range []string{"in sync", "bbbbbbb  applied, healthy (retry 1)", "bbbbbbb  failed", "aaaaaaa  applied, healthy (corrected)",
		"aaaaaaa corrected:\n  recorded failed X; corrected Y", "Not launched (stored; Drover does not dispatch parameterized jobs yet): resize (parameterized)"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, b.String())
		}
	}
}
