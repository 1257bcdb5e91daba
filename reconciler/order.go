package reconciler

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/repo"
)

// Hold is a job of the commit whose rollout waits: drover.hcl says it
// depends on jobs whose rollout has not succeeded yet.
type Hold struct {
	ID string
	// Waits says, per dependency still rolling out, where it stands.
	Waits []string
	// Failed says, per dependency whose rollout failed, why: the job is
	// not rolled out for this commit.
	Failed []string
}

// String is the line `drover sync status` shows.
func (h Hold) String() string {
	if len(h.Failed) > 0 {
		return fmt.Sprintf("%s not rolled out: dependency %s", h.ID, strings.Join(h.Failed, "; "))
	}
	return fmt.Sprintf("%s waits for %s", h.ID, strings.Join(h.Waits, "; "))
}

// orderInput is what the order step looks at.
type orderInput struct {
	deps     *repo.Config
	register []Action
	// live is the cluster's latest version of each job, by ID.
	live map[string]*cluster.Job
	// commit and source say which live versions are the commit's own;
	// retry is the attempt (`drover sync retry`): an earlier attempt's
	// versions are not this one's.
	commit, source string
	retry          int
	// submitted are the versions this reconciler submitted for the commit
	// in earlier passes, by ID: a dependency reverted since is still
	// judged by its own version.
	submitted map[string]Submitted
	// health assesses one job version's rollout.
	health func(ctx context.Context, ns, id string, version uint64) (Health, error)
}

// order is the order step: it splits the actions to register into those
// that may go now and holds. A job goes once every job it requires
// (depends_on, transitively) is neither being submitted in this pass nor
// a rollout of this commit that is still pending or failed. A dependency
// the commit did not change had nothing to do and does not hold anyone.
func order(ctx context.Context, in orderInput) (ready []Action, holds []Hold, err error) {
	if in.deps == nil || len(in.deps.Jobs) == 0 {
		return in.register, nil, nil
	}
	registering := make(map[string]bool, len(in.register))
	for _, a := range in.register {
		registering[a.ID] = true
	}
	type verdict struct{ wait, fail string }
	memo := make(map[string]verdict)
	judge := func(dep string) (verdict, error) {
		if v, ok := memo[dep]; ok {
			return v, nil
		}
		var v verdict
		ns, version, ours := "", uint64(0), false
		if s, ok := in.submitted[dep]; ok {
			ns, version, ours = s.Namespace, s.Version, true
		} else if j := in.live[dep]; j != nil && !j.Stop && j.Source != nil && j.Source.Name == in.source && j.Source.Commit == in.commit && j.Source.Retry >= in.retry {
			ns, version, ours = j.Namespace, j.Version, true
		}
		// The commit's own version first: one that failed and was
		// reverted is to register again, but it failed all the same.
		if ours && in.health != nil {
			h, err := in.health(ctx, ns, dep, version)
			if err != nil {
				return v, err
			}
			switch h.State {
			case RolloutFailed:
				v.fail = dep + " failed: " + h.Reason
			case RolloutPending:
				v.wait = fmt.Sprintf("%s (%s)", dep, pendingText(h))
			}
		}
		if v.fail == "" && registering[dep] {
			v.wait = dep + " (in this commit, not started yet)"
		}
		memo[dep] = v
		return v, nil
	}
	for _, a := range in.register {
		var h Hold
		for _, dep := range in.deps.Requires(a.ID) {
			v, err := judge(dep)
			if err != nil {
				return nil, nil, stepErr("order", Waiting, fmt.Errorf("rollout of %s, which %s depends on: %w", dep, a.ID, err))
			}
			if v.fail != "" {
				h.Failed = append(h.Failed, v.fail)
			} else if v.wait != "" {
				h.Waits = append(h.Waits, v.wait)
			}
		}
		if len(h.Failed) == 0 && len(h.Waits) == 0 {
			ready = append(ready, a)
			continue
		}
		h.ID = a.ID
		holds = append(holds, h)
	}
	slices.SortFunc(holds, func(a, b Hold) int { return strings.Compare(a.ID, b.ID) })
	return ready, holds, nil
}

func pendingText(h Health) string {
	if h.Reason != "" {
		return h.Reason
	}
	return fmt.Sprintf("%d/%d ready", h.Ready, h.Desired)
}

// holdsFailed reports whether every hold is for a failed dependency:
// nothing the commit still waits for can succeed.
func holdsFailed(holds []Hold) bool {
	for _, h := range holds {
		if len(h.Failed) == 0 {
			return false
		}
	}
	return len(holds) > 0
}

func holdStrings(holds []Hold) []string {
	out := make([]string, len(holds))
	for i, h := range holds {
		out[i] = h.String()
	}
	return out
}

// Waves splits a decision into the waves its registrations roll out in,
// by depends_on: a caller that waits between waves (`drover reconcile
// --once`) submits them one after the other. Stops go with the first
// wave. A decision without dependencies is one wave.
func Waves(deps *repo.Config, d Decision) []Decision {
	if deps == nil || len(deps.Jobs) == 0 || len(d.Register) < 2 {
		return []Decision{d}
	}
	byID := make(map[string][]Action, len(d.Register))
	ids := make([]string, 0, len(d.Register))
	for _, a := range d.Register {
		if _, ok := byID[a.ID]; !ok {
			ids = append(ids, a.ID)
		}
		byID[a.ID] = append(byID[a.ID], a)
	}
	var out []Decision
	for i, wave := range deps.Waves(ids) {
		w := Decision{Drift: d.Drift, Unmanaged: d.Unmanaged, KeptByNoPrune: d.KeptByNoPrune, Managed: d.Managed}
		if i == 0 {
			w.Stop = d.Stop
		}
		for _, id := range wave {
			w.Register = append(w.Register, byID[id]...)
		}
		out = append(out, w)
	}
	return out
}
