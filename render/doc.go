// Package render prints a diff.Plan for people and programs: Text like
// `nomad job plan` for terminals, Markdown for pull-request comments, and
// JSON with a versioned schema (SCHEMA.md) for tools.
//
// Renderers only format: every decision, and the masking of secrets, was
// made by diff.Compute or by the caller (Meta).
package render

import "github.com/droverhq/drover/diff"

// Meta labels the two sides of a plan, e.g. "HEAD~1 (1a2b3c4)". Either may
// be empty.
type Meta struct {
	Base, Head string
	// NotLaunched holds, by job ID, why a created or updated job will be
	// stored but not run when the plan is applied, such as "periodic job:
	// stored, not launched (Drover does not run cron schedules yet)". The
	// caller decides; every renderer shows it next to the job.
	NotLaunched map[string]string
}

// note is what m says about a job of the plan: only created and updated
// jobs are launched, so a stopped job has no note.
func (m Meta) note(j *diff.JobDiff) string {
	if j.Type == diff.DiffTypeDeleted {
		return ""
	}
	return m.NotLaunched[j.ID]
}
