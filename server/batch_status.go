package server

import (
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

// batchPending reports whether a job has an evaluation the scheduler has
// not finished with (pending, or blocked or delayed waiting for its
// turn): Nomad's job status is "pending", not "dead", while one waits.
func batchPending(snap *state.Snapshot, j *cluster.Job) bool {
	for _, e := range snap.EvalsByJob(j.Namespace, j.ID) {
		switch e.Status {
		case cluster.EvalStatusComplete, cluster.EvalStatusFailed, cluster.EvalStatusCanceled:
		default:
			return true
		}
	}
	return false
}
