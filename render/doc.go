// Package render prints a diff.Plan for people and programs: Text like
// `nomad job plan` for terminals, Markdown for pull-request comments, and
// JSON with a versioned schema (SCHEMA.md) for tools.
//
// Renderers only format: every decision, and the masking of secrets, was
// made by diff.Compute or by the caller (Meta).
package render

import (
	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/jobspec"
)

// Meta labels the two sides of a plan, e.g. "HEAD~1 (1a2b3c4)". Either may
// be empty.
type Meta struct {
	Base, Head string
	// NotLaunched holds, by job ID, why a created or updated job will be
	// stored but not run when the plan is applied, such as "parameterized
	// job: stored; runs when dispatched (drover job dispatch)". The
	// caller decides (NotLaunchedNotes); every renderer shows it next to
	// the job.
	NotLaunched map[string]string
	// Sealed are the sealed variables the plan changes (sealed.go):
	// paths and counts, never a value.
	Sealed []SealedNote
}

// NotLaunchedNotes are the notes for Meta.NotLaunched of a plan's
// desired jobs, by job ID: jobspec.Job.NotLaunchedNote of each job that
// Drover stores without running; nil when every job runs.
func NotLaunchedNotes(jobs map[string]*jobspec.Job) map[string]string {
	var notes map[string]string
	for id, j := range jobs {
		if note := j.NotLaunchedNote(); note != "" {
			if notes == nil {
				notes = map[string]string{}
			}
			notes[id] = note
		}
	}
	return notes
}

// note is what m says about a job of the plan: only created and updated
// jobs are launched, so a stopped job has no note.
func (m Meta) note(j *diff.JobDiff) string {
	if j.Type == diff.DiffTypeDeleted {
		return ""
	}
	return m.NotLaunched[j.ID]
}
