package diff_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/diff/difftest"
	"github.com/droverhq/drover/jobspec"
)

// benchStates returns two 10,000-job states that differ in 100 jobs: half
// changed in place, half destructively. Unchanged jobs are deep copies, as
// they would be after parsing both commits.
func benchStates() (old, new map[string]*jobspec.Job) {
	old = difftest.State(10_000, 42)
	new = make(map[string]*jobspec.Job, len(old))
	// Copy in ID order, as a parser walking a sorted tree of files
	// allocates them; random order costs 20–30% more in cache misses.
	for i := range len(old) {
		id := fmt.Sprintf("job-%05d", i)
		new[id] = difftest.Clone(old[id])
	}
	for i := range 100 {
		j := new[fmt.Sprintf("job-%05d", i*100)]
		if i%2 == 0 {
			j.Groups[0].Tasks[0].KillTimeout = 30 * time.Second
			j.Groups[0].Update.MaxParallel = 2
		} else {
			j.Groups[0].Tasks[0].Config["image"] = "registry.example.com/app:new"
			j.Groups[0].Count++
		}
	}
	return old, new
}

func BenchmarkPlan(b *testing.B) {
	old, new := benchStates()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p := diff.Compute(old, new, diff.Options{Sensitive: []string{"*_URL"}})
		if s := p.Summary(); s.Update != 100 {
			b.Fatalf("summary = %+v", s)
		}
	}
}
