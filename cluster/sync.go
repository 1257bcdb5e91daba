package cluster

import "time"

// SyncStatus is where the reconciler stands with one Git source. It lives
// in Raft so that a new leader resumes where the old one stopped.
type SyncStatus struct {
	Source string `json:"source"`
	Repo   string `json:"repo"`
	Ref    string `json:"ref"`
	// LastSeen is the newest commit fetched from the tracked ref.
	LastSeen string `json:"last_seen,omitempty"`
	// LastApplied is the newest commit whose jobs were submitted.
	LastApplied   string    `json:"last_applied,omitempty"`
	LastAppliedAt time.Time `json:"last_applied_at,omitempty"`
	// Commits records the outcome of recent commits, newest first.
	Commits []CommitOutcome `json:"commits,omitempty"`
	// Drift records managed jobs found changed outside Git, newest first.
	Drift []DriftEvent `json:"drift,omitempty"`
	// Unmanaged lists the jobs submitted by hand that no file of the
	// source declares, as of the last pass: never touched.
	Unmanaged []string `json:"unmanaged,omitempty"`
	// NotLaunched lists the source's periodic and parameterized jobs, as
	// of the last pass: stored, but Drover does not launch them yet.
	NotLaunched []string `json:"not_launched,omitempty"`
	// Sensitive is the repository's `sensitive` list (drover.hcl) as of
	// the last commit whose files loaded: the extra key globs whose values
	// a plan masks. Server-side plans of the source's jobs (POST
	// /v1/job/ID/plan) mask by it, as `drover plan` does.
	Sensitive []string `json:"sensitive,omitempty"`
	// SealedVariables are the namespace/path of the variables the
	// source's sealed files (drover var seal) wrote, as of the last
	// commit applied: those whose file is deleted are removed (prune).
	SealedVariables []string `json:"sealed_variables,omitempty"`
	// Retry, when set, asks the reconciler to apply a failed commit
	// again (`drover sync retry`); it clears it once it has.
	Retry *SyncRetry `json:"retry,omitempty"`
	// Error is why the last pass did not complete (an unreachable remote,
	// a deleted branch, wrong credentials); empty once one does.
	Error   string    `json:"error,omitempty"`
	ErrorAt time.Time `json:"error_at,omitempty"`

	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
}

// Outcomes of a commit.
const (
	CommitApplied  = "applied"
	CommitRejected = "rejected" // invalid: nothing from it was applied
	CommitFailed   = "failed"   // applied, but its rollout failed
	// CommitRollingOut: some of its jobs are submitted, others wait for
	// the jobs they depend on (depends_on in drover.hcl).
	CommitRollingOut = "rolling_out"
)

// CommitOutcome is what happened to one commit of a source.
type CommitOutcome struct {
	Commit  string    `json:"commit"`
	Subject string    `json:"subject,omitempty"`
	Outcome string    `json:"outcome"`
	Time    time.Time `json:"time"`
	// Errors are the diagnostics that rejected it, "file:line:col: text".
	Errors []string `json:"errors,omitempty"`
	// Waiting says, while the commit rolls out in waves, which jobs wait
	// for which: "web waits for api (deployment 1a2b3c4d running: ...)".
	Waiting []string `json:"waiting,omitempty"`
	// Health is an applied commit's rollout: progressing until every
	// job version it submitted is healthy, then healthy. Empty for
	// other outcomes, and when nothing follows the rollout.
	Health string `json:"health,omitempty"`
	// Rollouts are the job versions an applied commit submitted, kept
	// while it is progressing so that a new leader follows them on.
	Rollouts []JobVersionRef `json:"rollouts,omitempty"`
	// Retry numbers the attempts of `drover sync retry`: 0 for the
	// commit's first application.
	Retry int `json:"retry,omitempty"`
	// Corrected says why an earlier record of this commit was wrong and
	// what it said ("recorded failed at ...; then deployment ... succeeded").
	Corrected string `json:"corrected,omitempty"`
	// Sealed says which sealed variables the commit changed, as
	// `~ Variable "app/db" (sealed: 2 items changed)`: never a value.
	Sealed []string `json:"sealed,omitempty"`
	// Plan is the plan the reconciler computed for the commit, as
	// `drover reconcile --plan` prints it: sensitive values masked,
	// sealed variables as notes. Bounded in size, and kept by the newest
	// commits only (reconciler/commit_plan.go); empty for a commit
	// rejected before it was planned.
	Plan string `json:"plan,omitempty"`
}

// Health of an applied commit's rollout.
const (
	HealthProgressing = "progressing"
	HealthHealthy     = "healthy"
	// HealthSuperseded: a newer commit was applied before this one's
	// rollout was healthy; it was not followed further.
	HealthSuperseded = "superseded"
)

// JobVersionRef names one version of a job.
type JobVersionRef struct {
	Namespace string `json:"namespace,omitempty"`
	ID        string `json:"id"`
	Version   uint64 `json:"version"`
}

// SyncRetry is an operator's request to apply a failed commit again.
type SyncRetry struct {
	Commit      string    `json:"commit"`
	RequestedAt time.Time `json:"requested_at"`
}

// DriftEvent is a managed job found changed outside Git.
type DriftEvent struct {
	JobID  string `json:"job_id"`
	Detail string `json:"detail"`
	// Healed is set when the reconciler put the Git version back.
	Healed bool      `json:"healed"`
	Commit string    `json:"commit"` // the Git version's commit
	Time   time.Time `json:"time"`
}
