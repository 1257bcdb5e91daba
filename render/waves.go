package render

import (
	"fmt"
	"strings"

	"github.com/droverhq/drover/diff"
)

// waveLines spells a plan's rollout order, one line per wave:
//
//  1. postgres
//  2. api (after postgres)
func waveLines(waves []diff.Wave) []string {
	out := make([]string, 0, len(waves))
	for i, w := range waves {
		var parts []string
		for _, j := range w.Jobs {
			p := j.ID
			if len(j.After) > 0 {
				p += " (after " + strings.Join(j.After, ", ") + ")"
			}
			parts = append(parts, p)
		}
		out = append(out, fmt.Sprintf("%d. %s", i+1, strings.Join(parts, ", ")))
	}
	return out
}

const wavesTitle = "Rollout order (depends_on in drover.hcl): each wave starts once the previous one is healthy"

// JSONWave is one wave of the rollout order.
type JSONWave struct {
	Wave int           `json:"wave"`
	Jobs []JSONWaveJob `json:"jobs"`
}

// JSONWaveJob is a job of a wave and the jobs it waits for.
type JSONWaveJob struct {
	ID    string   `json:"id"`
	After []string `json:"after"`
}

func jsonWaves(waves []diff.Wave) []JSONWave {
	out := []JSONWave{}
	for i, w := range waves {
		jw := JSONWave{Wave: i + 1}
		for _, j := range w.Jobs {
			jw.Jobs = append(jw.Jobs, JSONWaveJob{ID: j.ID, After: nonNil(j.After)})
		}
		out = append(out, jw)
	}
	return out
}
