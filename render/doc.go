// Package render prints a diff.Plan for people and programs: Text like
// `nomad job plan` for terminals, Markdown for pull-request comments, and
// JSON with a versioned schema (SCHEMA.md) for tools.
//
// Renderers only format: every decision, and the masking of secrets, was
// made by diff.Compute.
package render

// Meta labels the two sides of a plan, e.g. "HEAD~1 (1a2b3c4)". Either may
// be empty.
type Meta struct {
	Base, Head string
}
