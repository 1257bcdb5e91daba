package reconciler

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/droverhq/drover/cluster"
)

// StatusStore keeps each source's SyncStatus, in Raft on a server: the
// point a new leader resumes from.
type StatusStore interface {
	// SyncStatus returns the source's status, or nil when it has none.
	SyncStatus(ctx context.Context, source string) (*cluster.SyncStatus, error)
	PutSyncStatus(ctx context.Context, st *cluster.SyncStatus) error
}

// keepOutcomes and keepDrift bound the history kept in a status: it is
// replicated on every write.
const (
	keepOutcomes = 20
	keepDrift    = 20
)

// withOutcome returns st with o as its newest commit outcome, unless that
// is already what it says (a rejected commit is seen at every poll, and
// recorded once). Pure.
func withOutcome(st cluster.SyncStatus, o cluster.CommitOutcome) cluster.SyncStatus {
	if len(st.Commits) > 0 && st.Commits[0].Commit == o.Commit {
		switch {
		case st.Commits[0].Outcome == cluster.CommitRollingOut:
			// A rollout in waves updates its one entry, and ends it.
			// The plan stays the one computed before its first wave.
			if prev := st.Commits[0].Plan; prev != "" {
				o.Plan = prev
			}
			st.Commits = slices.Clone(st.Commits)
			st.Commits[0] = o
			return st
		case st.Commits[0].Outcome == cluster.CommitApplied && st.Commits[0].Health == cluster.HealthProgressing && o.Outcome == cluster.CommitFailed:
			// The rollout the entry followed failed: one entry per
			// attempt, which says how it ended.
			o.Retry = st.Commits[0].Retry
			if o.Plan == "" {
				o.Plan = st.Commits[0].Plan
			}
			st.Commits = slices.Clone(st.Commits)
			st.Commits[0] = o
			return st
		case st.Commits[0].Outcome == o.Outcome:
			return st
		}
	}
	st.Commits = append([]cluster.CommitOutcome{o}, st.Commits[:min(len(st.Commits), keepOutcomes-1)]...)
	trimPlans(st.Commits) // commit_plan.go
	return st
}

// commitOutcome returns the newest recorded outcome of the commit, or nil.
func commitOutcome(outcomes []cluster.CommitOutcome, sha string) *cluster.CommitOutcome {
	for i := range outcomes {
		if outcomes[i].Commit == sha {
			return &outcomes[i]
		}
	}
	return nil
}

// WithFailedCommit returns a copy of st that records the commit's rollout
// as failed for the reasons given, for a writer outside the reconciler
// (the server, when a deployment of a Git-managed version fails). Pure.
func WithFailedCommit(st *cluster.SyncStatus, commit, subject string, reasons []string, now time.Time) cluster.SyncStatus {
	out := cloneStatus(st, st.Source, st.Repo, st.Ref)
	return withOutcome(out, cluster.CommitOutcome{Commit: commit, Subject: subject, Outcome: cluster.CommitFailed, Time: now, Errors: reasons})
}

// withDrift returns st with the drift events prepended. Pure.
func withDrift(st cluster.SyncStatus, drift []Drift, commit string, now time.Time) cluster.SyncStatus {
	if len(drift) == 0 {
		return st
	}
	events := make([]cluster.DriftEvent, 0, len(drift)+len(st.Drift))
	for _, d := range drift {
		events = append(events, cluster.DriftEvent{JobID: d.ID, Detail: d.Detail, Healed: d.Healed, Commit: commit, Time: now})
	}
	events = append(events, st.Drift...)
	st.Drift = events[:min(len(events), keepDrift)]
	return st
}

// sameStatus reports whether writing next would change nothing but
// timestamps of an error already recorded: a poll that finds nothing new
// writes nothing to Raft.
func sameStatus(prev *cluster.SyncStatus, next cluster.SyncStatus) bool {
	if prev == nil {
		return false
	}
	a, b := *prev, next
	a.CreateIndex, a.ModifyIndex, b.CreateIndex, b.ModifyIndex = 0, 0, 0, 0
	a.ErrorAt, b.ErrorAt = time.Time{}, time.Time{}
	if len(a.Unmanaged) == 0 {
		a.Unmanaged = nil
	}
	if len(b.Unmanaged) == 0 {
		b.Unmanaged = nil
	}
	if len(a.NotLaunched) == 0 {
		a.NotLaunched = nil
	}
	if len(b.NotLaunched) == 0 {
		b.NotLaunched = nil
	}
	if len(a.Sensitive) == 0 {
		a.Sensitive = nil
	}
	if len(b.Sensitive) == 0 {
		b.Sensitive = nil
	}
	return reflect.DeepEqual(a, b)
}

func cloneStatus(st *cluster.SyncStatus, name, repoURL, ref string) cluster.SyncStatus {
	var out cluster.SyncStatus
	if st != nil {
		out = *st
		out.Commits = slices.Clone(st.Commits)
		out.Drift = slices.Clone(st.Drift)
		out.Unmanaged = slices.Clone(st.Unmanaged)
		out.NotLaunched = slices.Clone(st.NotLaunched)
		out.Sensitive = slices.Clone(st.Sensitive)
	}
	out.Source, out.Repo, out.Ref = name, repoURL, ref
	return out
}

// maxRetry is the highest retry attempt recorded for the commit.
func maxRetry(outcomes []cluster.CommitOutcome, sha string) int {
	n := 0
	for _, o := range outcomes {
		if o.Commit == sha {
			n = max(n, o.Retry)
		}
	}
	return n
}

// progressing returns a copy of the commit's newest outcome when it is
// applied and its rollout is still followed, else nil.
func progressing(outcomes []cluster.CommitOutcome, sha string) *cluster.CommitOutcome {
	o := commitOutcome(outcomes, sha)
	if o == nil || o.Outcome != cluster.CommitApplied || o.Health != cluster.HealthProgressing || len(o.Rollouts) == 0 {
		return nil
	}
	c := *o
	c.Rollouts = slices.Clone(o.Rollouts)
	return &c
}

// superseded returns st with every progressing outcome ended: a newer
// commit is being applied, and only its rollout is followed.
func superseded(st cluster.SyncStatus) cluster.SyncStatus {
	for i := range st.Commits {
		if st.Commits[i].Health == cluster.HealthProgressing {
			st.Commits = slices.Clone(st.Commits)
			for j := range st.Commits {
				if st.Commits[j].Health == cluster.HealthProgressing {
					st.Commits[j].Health, st.Commits[j].Rollouts = cluster.HealthSuperseded, nil
				}
			}
			break
		}
	}
	return st
}

// withHealth returns st with the commit's newest outcome, if applied and
// progressing, marked healthy. Pure.
func withHealth(st cluster.SyncStatus, sha string) (cluster.SyncStatus, bool) {
	for i := range st.Commits {
		if st.Commits[i].Commit != sha {
			continue
		}
		if st.Commits[i].Outcome != cluster.CommitApplied || st.Commits[i].Health != cluster.HealthProgressing {
			return st, false
		}
		st.Commits = slices.Clone(st.Commits)
		st.Commits[i].Health, st.Commits[i].Rollouts = cluster.HealthHealthy, nil
		return st, true
	}
	return st, false
}

// withCorrection returns st with the commit's newest outcome, recorded
// failed, corrected to applied and healthy: why says what proved the
// record wrong, and the correction keeps what the record said. Pure.
func withCorrection(st cluster.SyncStatus, sha, why string, now time.Time) cluster.SyncStatus {
	for i := range st.Commits {
		o := st.Commits[i]
		if o.Commit != sha {
			continue
		}
		if o.Outcome != cluster.CommitFailed {
			return st
		}
		was := "recorded failed " + o.Time.UTC().Format(time.RFC3339)
		if len(o.Errors) > 0 {
			was += " (" + strings.Join(o.Errors, "; ") + ")"
		}
		st.Commits = slices.Clone(st.Commits)
		st.Commits[i] = cluster.CommitOutcome{
			Commit: sha, Subject: o.Subject, Outcome: cluster.CommitApplied, Health: cluster.HealthHealthy, Time: now, Retry: o.Retry,
			Corrected: was + "; corrected " + now.UTC().Format(time.RFC3339) + ": " + why,
			Plan:      o.Plan,
		}
		return st
	}
	return st
}

// notLaunched lists the commit's jobs that Drover stores but does not
// launch yet (jobspec.Job.NotLaunched: parameterized jobs).
func notLaunched(d *Desired) []string {
	var out []string
	for _, j := range d.Jobs {
		if kind, _ := j.Spec.NotLaunched(); kind != "" {
			out = append(out, j.Spec.ID+" ("+kind+")")
		}
	}
	slices.Sort(out)
	return out
}
