package reconciler

import (
	"fmt"
	"sort"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// Why a job is submitted.
const (
	ReasonCreate = "create" // new in the commit, or not in the cluster
	ReasonUpdate = "update" // the commit changed it
	ReasonAdopt  = "adopt"  // the commit takes over a job submitted by hand
	ReasonHeal   = "heal"   // changed outside Git; put back (self_heal)
	ReasonResume = "resume" // an earlier pass of ours did not finish
	ReasonPrune  = "prune"  // its file was removed
	ReasonRetry  = "retry"  // `drover sync retry`: its rollout failed; run it again
)

// Action is one job to submit or stop.
type Action struct {
	Key       string
	Namespace string
	ID        string
	// Job is the version to register; nil for a stop.
	Job    *jobspec.Job
	Path   string
	Reason string
	// CheckIndex is the cluster job's JobModifyIndex when observed (0: it
	// did not exist), so that a write between observe and submit is a
	// conflict rather than lost.
	CheckIndex uint64
}

// Drift is a managed job that differs from Git without a commit saying so.
type Drift struct {
	ID     string
	Detail string
	// Healed is set when the decision puts it back.
	Healed bool
}

// Input is everything Decide looks at.
type Input struct {
	Source string
	// Desired is the commit's state.
	Desired *Desired
	// Previous holds the job hashes of the last applied commit by key;
	// nil when there is none (first sync, or it could not be read): every
	// difference then counts as the commit's own.
	Previous map[string]string
	// Cluster is the latest version of every job in the cluster.
	Cluster []*cluster.Job
	// Retry holds the keys of jobs to register again although their spec
	// equals the live version: a `drover sync retry` of the commit whose
	// rollout of them failed.
	Retry map[string]bool
}

// Decision is what a pass does.
type Decision struct {
	Register []Action
	Stop     []Action
	Drift    []Drift
	// Unmanaged lists jobs submitted by hand that no file of this source
	// declares: never touched.
	Unmanaged []string
	// KeptByNoPrune lists jobs that would be stopped if prune were on.
	KeptByNoPrune []string
	// Reject, when set, refuses the commit: nothing is applied.
	Reject string
	// Managed counts the live jobs of this source before the pass.
	Managed int
}

// Empty reports whether the decision submits nothing.
func (d *Decision) Empty() bool {
	return len(d.Register) == 0 && len(d.Stop) == 0
}

// Decide compares a commit with the cluster. It is a pure function.
//
// A job whose spec hash equals the cluster's live version is left alone.
// One that differs is submitted when the commit changed it since the last
// applied commit (create, update, adopt), or when the live version is this
// source's own (resume); otherwise someone changed it outside Git: drift,
// put back only with self_heal. A live job of this source that the commit
// no longer declares is stopped when prune is on, unless that would stop
// more than half of the source's managed jobs without allow_mass_prune,
// which rejects the whole commit.
func Decide(in Input) Decision {
	var d Decision
	live := make(map[string]*cluster.Job, len(in.Cluster))
	for _, j := range in.Cluster {
		k := jobKey(j.Namespace, j.ID)
		live[k] = j
		if !j.Stop && ours(j, in.Source) {
			d.Managed++
		}
	}
	set := in.Desired.Settings
	for _, k := range sortedKeys(in.Desired.Jobs) {
		cur := live[k]
		// Whether the commit changed the job is a question about Git's
		// version; what is compared with the cluster and submitted keeps
		// the counts the cluster owns (scaling.go).
		gitHash := in.Desired.Jobs[k].Hash
		want := effective(in.Desired.Jobs[k], cur)
		if cur != nil && !cur.Stop && cur.Hash == want.Hash && !in.Retry[k] {
			continue
		}
		a := Action{Key: k, Namespace: namespaceOf(want.Spec), ID: want.Spec.ID, Job: want.Spec, Path: want.Path}
		if cur != nil {
			a.CheckIndex = cur.JobModifyIndex
		}
		prevHash, inPrev := in.Previous[k]
		changed := in.Previous == nil || !inPrev || prevHash != gitHash
		switch {
		case in.Retry[k] && cur != nil && !cur.Stop && cur.Hash == want.Hash:
			a.Reason = ReasonRetry
		case changed && (cur == nil || cur.Stop):
			a.Reason = ReasonCreate
		case changed && cur.Source == nil:
			a.Reason = ReasonAdopt
		case changed:
			a.Reason = ReasonUpdate
		case cur != nil && ours(cur, in.Source) && !cur.Stop && cur.SubmittedBy == "":
			// A version of ours that someone changed by hand (a scale
			// keeps the Source) is drift, not an unfinished pass.
			a.Reason = ReasonResume
		default:
			dr := Drift{ID: a.ID, Detail: driftDetail(cur)}
			if set.SelfHeal {
				dr.Healed = true
				a.Reason = ReasonHeal
			}
			d.Drift = append(d.Drift, dr)
			if !set.SelfHeal {
				continue
			}
		}
		d.Register = append(d.Register, a)
	}
	for _, k := range sortedKeys(live) {
		j := live[k]
		if j.Stop || j.ParentID != "" {
			// A periodic job's child is the leader's, not a file's:
			// never pruned, never reported as unmanaged.
			continue
		}
		if _, ok := in.Desired.Jobs[k]; ok {
			continue
		}
		switch {
		case j.Source == nil:
			d.Unmanaged = append(d.Unmanaged, j.ID)
		case ours(j, in.Source):
			if !set.Prune {
				d.KeptByNoPrune = append(d.KeptByNoPrune, j.ID)
				continue
			}
			d.Stop = append(d.Stop, Action{Key: k, Namespace: j.Namespace, ID: j.ID, Path: j.Source.Path, Reason: ReasonPrune, CheckIndex: j.JobModifyIndex})
		}
	}
	if len(d.Stop)*2 > d.Managed && !set.AllowMassPrune {
		d.Reject = fmt.Sprintf("the commit would stop %d of the %d jobs this source manages (more than half): "+
			"if that is intended, set allow_mass_prune = true in drover.hcl for this commit; "+
			"a wrong paths glob or a deleted folder must not wipe a cluster", len(d.Stop), d.Managed)
		d.Register, d.Stop = nil, nil
	}
	return d
}

// ours reports whether a job version came from the named source.
func ours(j *cluster.Job, source string) bool {
	return j.Source != nil && j.Source.Name == source
}

func driftDetail(cur *cluster.Job) string {
	switch {
	case cur == nil:
		return "the job was purged outside Git"
	case cur.Stop && cur.Source == nil:
		return fmt.Sprintf("the job was stopped outside Git (version %d)", cur.Version)
	case cur.Source == nil:
		return fmt.Sprintf("version %d was submitted outside Git", cur.Version)
	case cur.Scale != nil:
		return fmt.Sprintf("version %d scaled group %q to %d outside Git (drover job scale); give the group a scaling block to keep counts set that way", cur.Version, cur.Scale.TaskGroup, derefCount(cur.Scale.Count))
	}
	return fmt.Sprintf("version %d came from source %q, commit %s", cur.Version, cur.Source.Name, shortSHA(cur.Source.Commit))
}

func namespaceOf(j *jobspec.Job) string {
	if j.Namespace == "" {
		return "default"
	}
	return j.Namespace
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func shortSHA(sha string) string {
	return sha[:min(len(sha), 7)]
}
