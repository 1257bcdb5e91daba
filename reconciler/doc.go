// Package reconciler makes a cluster match the newest commit of a Git
// source. A pass is a list of named steps, each a function that returns a
// typed result or a typed *StepError (waiting, stalled, failed, rejected):
//
//	fetch    the tracked branch's newest commit (gitsource: a local path read
//	         in place, or a mirror of a remote updated only when it moved)
//	load     the commit's jobs and drover.hcl (repo.Loader, parse cache by blob)
//	observe  the cluster's jobs (the Cluster interface)
//	decide   the actions, a pure function of the three (Decide)
//	submit   register and stop jobs, each with check-and-set
//	record   the outcome in the source's SyncStatus, which lives in Raft
//	track    the rollout of what was submitted (Health, pure)
//
// A commit is atomic: if any file in it is invalid, or it would stop more
// than half of the source's managed jobs without allow_mass_prune, nothing
// of it is applied and it is recorded as rejected. A pass is idempotent:
// jobs whose spec equals the running version are not submitted, and a
// commit equal to SyncStatus.LastApplied only heals drift. Because the
// resume point is in Raft, a new leader continues where the old one
// stopped.
package reconciler
