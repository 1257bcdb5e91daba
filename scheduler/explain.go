package scheduler

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/droverhq/drover/cluster"
)

// Explain turns a group's failure metric into lines for humans, in the
// words of `nomad job status`:
//
//	Task Group "web" (failed to place 3 allocations):
//	Constraint "${attr.kernel.name} = windows": 3 nodes excluded by filter
//	Resources exhausted on 2 nodes: memory exhausted on 2 nodes
func Explain(group string, m *cluster.AllocMetric) []string {
	if m == nil {
		return nil
	}
	failed := 1 + m.CoalescedFailures
	lines := []string{fmt.Sprintf("Task Group %q (failed to place %s):", group, plural(failed, "allocation"))}
	if m.NodesEvaluated == 0 {
		lines = append(lines, "No nodes were eligible for evaluation")
	}
	for _, dc := range sortedKeys(m.NodesAvailable) {
		if m.NodesAvailable[dc] == 0 {
			lines = append(lines, fmt.Sprintf("No nodes are available in datacenter %q", dc))
		}
	}
	for _, kv := range byCount(m.ClassFiltered) {
		lines = append(lines, fmt.Sprintf("Class %q: %s excluded by filter", kv.key, plural(kv.n, "node")))
	}
	for _, kv := range byCount(m.ConstraintFiltered) {
		lines = append(lines, fmt.Sprintf("Constraint %q: %s excluded by filter", kv.key, plural(kv.n, "node")))
	}
	if m.NodesExhausted > 0 {
		line := fmt.Sprintf("Resources exhausted on %s", plural(m.NodesExhausted, "node"))
		var dims []string
		for _, kv := range byCount(m.DimensionExhausted) {
			dims = append(dims, fmt.Sprintf("%s exhausted on %s", kv.key, plural(kv.n, "node")))
		}
		if len(dims) > 0 {
			line += ": " + strings.Join(dims, ", ")
		}
		lines = append(lines, line)
	}
	return lines
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

type keyCount struct {
	key string
	n   int
}

// byCount orders a count map by count, largest first, then by key.
func byCount(m map[string]int) []keyCount {
	out := make([]keyCount, 0, len(m))
	for k, n := range m {
		if n > 0 {
			out = append(out, keyCount{k, n})
		}
	}
	slices.SortFunc(out, func(a, b keyCount) int { return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.key, b.key)) })
	return out
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
