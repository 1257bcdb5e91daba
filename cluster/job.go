package cluster

import (
	"time"

	"github.com/droverhq/drover/jobspec"
)

// Job status, derived from its allocations, as in Nomad.
const (
	JobStatusPending = "pending"
	JobStatusRunning = "running"
	JobStatusDead    = "dead"
)

// Job is one version of a job as the cluster stores it: the specification
// plus its version number, whether it is stopped, and where it came from.
// Every version is kept, so that history and rollbacks need nothing else.
type Job struct {
	Namespace string       `json:"namespace"`
	ID        string       `json:"id"`
	Spec      *jobspec.Job `json:"spec"`
	// Hash is Spec.Hash(), stored so that comparing versions is cheap.
	Hash    string `json:"hash"`
	Version uint64 `json:"version"`
	Stop    bool   `json:"stop,omitempty"`
	Status  string `json:"status"`
	// Stable is set once a deployment of this version succeeded: the
	// version auto-revert goes back to.
	Stable bool `json:"stable,omitempty"`
	// Source is where this version came from; nil for an unmanaged job
	// submitted by hand.
	Source     *Source   `json:"source,omitempty"`
	SubmitTime time.Time `json:"submit_time"`
	// SubmittedBy is who submitted a version by hand (the ACL token's
	// accessor ID, or the audit log's name for another sender); empty for
	// versions made from a commit.
	SubmittedBy string `json:"submitted_by,omitempty"`
	// ParentID is the periodic or parameterized job a child was launched
	// or dispatched from (`<parent>/periodic-<unix seconds>`,
	// `<parent>/dispatch-...`); empty for any other job.
	ParentID string `json:"parent_id,omitempty"`
	// DispatchIdempotencyToken is the token a dispatched child was made
	// with: a dispatch with the same token returns this child while it
	// has not finished, instead of making another (Nomad's field).
	DispatchIdempotencyToken string `json:"dispatch_idempotency_token,omitempty"`
	// Scale is set on a version made by `drover job scale`: only the
	// group's count differs from the version before (job_scale.go).
	Scale *ScalingEvent `json:"scale,omitempty"`
	// ScaleEvents are scaling events without a count recorded while this
	// was the current version (an autoscaler's "no change" or error,
	// Nomad's ScalingEventRegister), oldest first, at most 20 per group.
	ScaleEvents []*ScalingEvent `json:"scale_events,omitempty"`

	CreateIndex    uint64 `json:"create_index"`
	ModifyIndex    uint64 `json:"modify_index"`
	JobModifyIndex uint64 `json:"job_modify_index"`
}

// Managed reports whether the job comes from a Git source.
func (j *Job) Managed() bool { return j.Source != nil }

// StoppedByHand reports whether this version is a stop that no commit
// made: 'drover job stop' or DELETE /v1/job/ID records a version of its
// own with no Source. A stop by a commit that removed the job's file
// carries that commit.
func (j *Job) StoppedByHand() bool {
	return j.Stop && j.Source == nil && j.Version > 0
}

// Source ties a job version to the Git commit that produced it: the audit
// trail.
type Source struct {
	Name        string    `json:"name"` // the source block's name in the server config
	Repo        string    `json:"repo"`
	Ref         string    `json:"ref,omitempty"`
	Commit      string    `json:"commit"`
	Author      string    `json:"author"`
	AuthorEmail string    `json:"author_email,omitempty"`
	CommitTime  time.Time `json:"commit_time"`
	Subject     string    `json:"subject"`
	Path        string    `json:"path"`
	// Retry numbers `drover sync retry` attempts of the commit: 0 for its
	// first application. A retry registers a new version even when the
	// spec is unchanged, so the rollout runs again.
	Retry int `json:"retry,omitempty"`
}
