package reconciler

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

func TestTruncatePlan(t *testing.T) {
	lines := strings.Repeat("+/- Count: \"1\" => \"2\"\n", 100) // 2,200 bytes
	tests := []struct {
		name, text string
		limit      int
		cut        bool
	}{
		{"fits", lines, len(lines), false},
		{"empty", "", 10, false},
		{"cut at a line end", lines, 1000, true},
		{"no line end: not inside a character", strings.Repeat("é", 1000), 500, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := truncatePlan(tt.text, tt.limit)
			if len(got) > tt.limit {
				t.Errorf("%d bytes, want at most %d", len(got), tt.limit)
			}
			if !utf8.ValidString(got) {
				t.Errorf("not valid UTF-8: %q", got[len(got)-120:])
			}
			if !tt.cut {
				if got != tt.text {
					t.Errorf("changed text that fits")
				}
				return
			}
			kept, note, ok := strings.Cut(got, "... plan truncated: ")
			if !ok || !strings.HasPrefix(tt.text, kept) || !strings.Contains(note, fmt.Sprintf("of %d bytes shown", len(tt.text))) {
				t.Errorf("no truncation note, or kept text not a prefix: %q", got)
			}
			if strings.Contains(tt.text, "\n") && !strings.HasSuffix(kept, "\n") {
				t.Errorf("not cut at a line end: %q", kept[len(kept)-30:])
			}
		})
	}
}

// TestPlansAreBounded: only the newest keepPlans records keep their
// plan, each at most maxPlanBytes, so a source's status replicated
// through Raft stays small however many commits arrive.
func TestPlansAreBounded(t *testing.T) {
	now := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	var st cluster.SyncStatus
	for i := range keepOutcomes + 5 {
		st = withOutcome(st, cluster.CommitOutcome{Commit: fmt.Sprintf("c%02d", i), Outcome: cluster.CommitApplied, Time: now,
			Plan: truncatePlan(strings.Repeat("x\n", maxPlanBytes), maxPlanBytes)})
	}
	if len(st.Commits) != keepOutcomes {
		t.Fatalf("%d records, want %d", len(st.Commits), keepOutcomes)
	}
	total := 0
	for i, o := range st.Commits {
		total += len(o.Plan)
		if (o.Plan != "") != (i < keepPlans) {
			t.Errorf("record %d (%s) has plan %v; only the newest %d keep one", i, o.Commit, o.Plan != "", keepPlans)
		}
	}
	if total > keepPlans*maxPlanBytes {
		t.Errorf("%d bytes of plans, want at most %d", total, keepPlans*maxPlanBytes)
	}
}

// TestPlanSurvivesRecordUpdates: the plan made before a rollout's first
// wave stays when the record is updated (the last wave applied, the
// rollout failed, the failure corrected).
func TestPlanSurvivesRecordUpdates(t *testing.T) {
	now := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	st := withOutcome(cluster.SyncStatus{}, cluster.CommitOutcome{Commit: "bbb", Outcome: cluster.CommitRollingOut, Time: now, Plan: "the plan"})
	st = withOutcome(st, cluster.CommitOutcome{Commit: "bbb", Outcome: cluster.CommitApplied, Health: cluster.HealthProgressing, Time: now, Plan: "a later wave's plan"})
	if st.Commits[0].Plan != "the plan" {
		t.Errorf("after the last wave: %q", st.Commits[0].Plan)
	}
	st = withOutcome(st, cluster.CommitOutcome{Commit: "bbb", Outcome: cluster.CommitFailed, Time: now})
	if len(st.Commits) != 1 || st.Commits[0].Plan != "the plan" {
		t.Errorf("after the failure: %+v", st.Commits)
	}
	st = withCorrection(st, "bbb", "deployment succeeded", now)
	if st.Commits[0].Outcome != cluster.CommitApplied || st.Commits[0].Plan != "the plan" {
		t.Errorf("after the correction: %+v", st.Commits[0])
	}
}

// TestCommitPlanMasksSecrets: the plan kept is computed with the
// repository's sensitive globs, on top of the built-in secret words.
func TestCommitPlanMasksSecrets(t *testing.T) {
	job := func(env map[string]string) *jobspec.Job {
		return &jobspec.Job{ID: "web", Type: jobspec.JobTypeService, Groups: []*jobspec.Group{{Name: "g", Count: 1,
			Tasks: []*jobspec.Task{{Name: "t", Driver: "exec", Env: env}}}}}
	}
	desired := &Desired{Jobs: map[string]DesiredJob{"default/web": {Spec: job(map[string]string{"DATABASE_PASSWORD": "hunter2", "DB_DSN": "postgres://u:pw@db"})}},
		Sensitive: []string{"DB_DSN"}}
	live := []*cluster.Job{{Namespace: "default", ID: "web", Spec: job(map[string]string{"DATABASE_PASSWORD": "old-secret", "DB_DSN": "postgres://u:old@db"})}}
	plan := commitPlan(desired, Decision{}, live, "0123456789abcdef", nil)
	for _, secret := range []string{"hunter2", "old-secret", "pw@db", "old@db"} {
		if strings.Contains(plan, secret) {
			t.Errorf("the plan shows %q:\n%s", secret, plan)
		}
	}
	if !strings.Contains(plan, "DATABASE_PASSWORD") || !strings.Contains(plan, "0123456") {
		t.Errorf("the plan does not show the change:\n%s", plan)
	}
}
