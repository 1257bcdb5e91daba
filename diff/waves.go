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
// requires, which lists every job a job depends on. A single wave is no
// order worth showing and leaves Waves nil.
func (p *Plan) SetWaves(waves [][]string, requires func(id string) []string) {
	p.Waves = nil
	if len(waves) < 2 {
		return
	}
	earlier := make(map[string]bool)
	for _, ids := range waves {
		var w Wave
		for _, id := range ids {
			wj := WaveJob{ID: id}
			for _, dep := range requires(id) {
				if earlier[dep] {
					wj.After = append(wj.After, dep)
				}
			}
			wj.After = direct(wj.After, requires)
			w.Jobs = append(w.Jobs, wj)
		}
		for _, id := range ids {
			earlier[id] = true
		}
		p.Waves = append(p.Waves, w)
	}
}

// direct drops from after the jobs that another job of after requires
// already: web waits for api, and so for postgres, which need not be
// named.
func direct(after []string, requires func(string) []string) []string {
	var out []string
	for _, x := range after {
		implied := false
		for _, y := range after {
			implied = implied || y != x && slices.Contains(requires(y), x)
		}
		if !implied {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
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
