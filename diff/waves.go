package diff

import "slices"

// Wave is one step of a plan's rollout order: jobs whose rollouts start
// together, once every earlier wave's rollout succeeded.
type Wave struct {
	Jobs []WaveJob
}

// WaveJob is a job of a wave and the jobs of earlier waves it waits for.
type WaveJob struct {
	ID    string
	After []string
}

// SetWaves records the rollout order of the plan's created and updated
// jobs, from waves of job IDs (as repo.Config.Waves returns them) and
// after, which names the jobs among earlier ones that a job waits for
// (repo.Config.After). A single wave is no order worth showing and leaves
// Waves nil.
func (p *Plan) SetWaves(waves [][]string, after func(id string, earlier []string) []string) {
	p.Waves = nil
	if len(waves) < 2 {
		return
	}
	var earlier []string
	for _, ids := range waves {
		var w Wave
		for _, id := range ids {
			wj := WaveJob{ID: id, After: slices.Sorted(slices.Values(after(id, earlier)))}
			w.Jobs = append(w.Jobs, wj)
		}
		earlier = append(earlier, ids...)
		p.Waves = append(p.Waves, w)
	}
}

// RolledOut returns the IDs of the jobs the plan creates or updates: the
// ones a rollout order applies to.
func (p *Plan) RolledOut() []string {
	if p == nil {
		return nil
	}
	var ids []string
	for _, j := range p.Jobs {
		if j.Type != DiffTypeDeleted {
			ids = append(ids, j.ID)
		}
	}
	return ids
}
