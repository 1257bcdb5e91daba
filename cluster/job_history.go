package cluster

import "time"

// JobVersionSummary is what the servers keep of a job version after
// garbage collection removed it (its specification is gone): enough for
// `drover history` to still name the commit, author and time of every
// version a job ever had. Git holds the rest.
type JobVersionSummary struct {
	Namespace string `json:"namespace"`
	ID        string `json:"id"`
	Version   uint64 `json:"version"`
	// Hash is the collected version's Spec.Hash(), to tell which
	// versions had the same specification.
	Hash   string `json:"hash,omitempty"`
	Stop   bool   `json:"stop,omitempty"`
	Stable bool   `json:"stable,omitempty"`
	// Source is the commit the version came from; nil when it was
	// submitted by hand (SubmittedBy then says who).
	Source      *Source   `json:"source,omitempty"`
	SubmitTime  time.Time `json:"submit_time"`
	SubmittedBy string    `json:"submitted_by,omitempty"`
	// JobModifyIndex is the Raft index the version was registered at. It
	// orders summaries, and tells apart versions of a job that was purged
	// and registered again under the same ID (whose numbers restart at 0).
	JobModifyIndex uint64 `json:"job_modify_index"`
	// CollectedAt is when garbage collection removed the version.
	CollectedAt time.Time `json:"collected_at"`
}

// Summarize returns the summary of a job version.
func (j *Job) Summarize(collectedAt time.Time) *JobVersionSummary {
	return &JobVersionSummary{
		Namespace: j.Namespace, ID: j.ID, Version: j.Version, Hash: j.Hash,
		Stop: j.Stop, Stable: j.Stable, Source: j.Source,
		SubmitTime: j.SubmitTime, SubmittedBy: j.SubmittedBy,
		JobModifyIndex: j.JobModifyIndex, CollectedAt: collectedAt,
	}
}
