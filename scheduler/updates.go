package scheduler

import (
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/diff"
)

// updateDecider says how running allocations of older versions reach the
// job's version, with the diff package's rules, so that the scheduler
// does what `drover plan` announced. One diff per (version, group) and
// evaluation.
type updateDecider struct {
	st    State
	job   *cluster.Job
	cache map[versionGroup]updateKind
}

type versionGroup struct {
	version uint64
	group   string
}

func newUpdateDecider(st State, job *cluster.Job) *updateDecider {
	return &updateDecider{st: st, job: job, cache: map[versionGroup]updateKind{}}
}

func (d *updateDecider) kind(a *cluster.Allocation) updateKind {
	if a.JobVersion == d.job.Version {
		return updateNone
	}
	key := versionGroup{a.JobVersion, a.TaskGroup}
	if k, ok := d.cache[key]; ok {
		return k
	}
	k := updateDestructive
	old := d.st.JobVersion(d.job.Namespace, d.job.ID, a.JobVersion)
	switch {
	case old == nil || old.Spec == nil:
		// The version the allocation runs is unknown: nothing proves an
		// in-place update would be enough.
	case old.Hash != "" && old.Hash == d.job.Hash:
		k = updateInPlace // same specification: only the version moves
	default:
		if destructive, _ := diff.GroupUpdate(old.Spec, d.job.Spec, a.TaskGroup); !destructive {
			k = updateInPlace
		}
	}
	d.cache[key] = k
	return k
}
