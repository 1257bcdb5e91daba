// Package jobspec owns Drover's job model and its HCL2 dialect, which is
// Nomad's job specification: a job file parses into a *Job with Nomad's
// defaults applied, so that a file that spells a default out and a file
// that omits it describe the same job and hash the same.
//
// The package imports nothing else of Drover's: every other package builds
// on these types.
package jobspec
