package reconciler

import (
	"encoding/json"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// A group with a scaling block owns its count in the cluster.
//
// `drover job scale` (or an autoscaler through the same API) changes a
// group's count outside Git. Like Argo CD, which is told to ignore an
// HPA-managed Deployment's replicas (ignoreDifferences on
// /spec/replicas) and otherwise puts Git's value back, Drover decides
// per group:
//
//   - a group with a scaling block: the live count wins. Git's count is
//     the initial one (the job's first version) and the scaling block's
//     min/max bound it: a live count outside a changed [min, max] is
//     clamped into it. A commit that changes anything else in the job
//     keeps the live count.
//   - a group without one: the count is Git's. A scaled count is drift,
//     reported, and put back on the next pass when self_heal is on.
//
// OwnedCounts applies the rule to one job before it is compared with
// the cluster.

// OwnedCounts returns want with each scaling group's count replaced by
// the live count of the same group in live (clamped into want's
// min/max), and whether anything changed. want is never modified: a
// changed job is a copy. A nil live (no such job, or stopped) changes
// nothing. Pure.
func OwnedCounts(want *jobspec.Job, live *jobspec.Job) (*jobspec.Job, bool) {
	if want == nil || live == nil {
		return want, false
	}
	liveCounts := make(map[string]int, len(live.Groups))
	for _, g := range live.Groups {
		liveCounts[g.Name] = g.Count
	}
	counts := map[string]int{}
	for _, g := range want.Groups {
		n, ok := liveCounts[g.Name]
		if g.Scaling == nil || !ok {
			continue
		}
		n = max(g.Scaling.Min, min(n, g.Scaling.Max))
		if n != g.Count {
			counts[g.Name] = n
		}
	}
	if len(counts) == 0 {
		return want, false
	}
	out, err := copyJob(want)
	if err != nil {
		// A job that does not round-trip through JSON could not be
		// submitted either; compare it as Git has it.
		return want, false
	}
	for _, g := range out.Groups {
		if n, ok := counts[g.Name]; ok {
			g.Count = n
		}
	}
	return out, true
}

func copyJob(j *jobspec.Job) (*jobspec.Job, error) {
	b, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	out := new(jobspec.Job)
	if err := json.Unmarshal(b, out); err != nil {
		return nil, err
	}
	return out, nil
}

// effective is the version of want the reconciler compares with and
// submits over cur: Git's, with the counts the cluster owns.
func effective(want DesiredJob, cur *cluster.Job) DesiredJob {
	if cur == nil || cur.Stop || cur.Spec == nil {
		return want
	}
	spec, changed := OwnedCounts(want.Spec, cur.Spec)
	if !changed {
		return want
	}
	want.Spec, want.Hash = spec, spec.Hash()
	return want
}

func derefCount(n *int64) int64 {
	if n == nil {
		return 0
	}
	return *n
}
