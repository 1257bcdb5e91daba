package server

import (
	"slices"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

// planSensitive returns the extra key globs a server-side plan of a job
// masks by, besides the secret-looking-key rules diff.Compute always
// applies: the same masks `drover plan` shows for the repository the job
// comes from.
//
// The server learns a repository's `sensitive` list (drover.hcl) from
// its source's sync status, where the reconciler records it with every
// commit whose files load (cluster.SyncStatus.Sensitive). Which
// repository a planned job belongs to is the provenance of the version
// running (cur.Source.Name): a job the reconciler submitted, planned by
// hand, gets its repository's list.
//
// A job no source submitted (new, or running a version submitted by
// hand) belongs to no repository the server can name. It is masked by
// every source's list at once: a value that any repository of this
// cluster calls secret is not shown in a plan either, since the same
// job may move into that repository. Masking too much in a dry run costs
// a line of "(sensitive value)"; masking too little leaks.
func planSensitive(snap *state.Snapshot, cur *cluster.Job) []string {
	if cur != nil && cur.Source != nil {
		if st := snap.SyncStatus(cur.Source.Name); st != nil {
			return slices.Clone(st.Sensitive)
		}
	}
	var globs []string
	for _, st := range snap.SyncStatuses() {
		globs = append(globs, st.Sensitive...)
	}
	slices.Sort(globs)
	return slices.Compact(globs)
}
