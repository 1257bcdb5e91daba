package metrics

import "github.com/droverhq/drover/cluster"

// Reasons of drover_scheduler_failed_placements_total: a fixed set, so
// that a constraint's text never becomes a label value.
const (
	ReasonConstraint = "constraint"
	ReasonNodeClass  = "node_class"
	ReasonExhausted  = "resources_exhausted"
	ReasonNoNodes    = "no_nodes"
	ReasonOther      = "other"
)

// FailedPlacements counts the allocations a plan could not place, by
// the main reason of each group's failure: the scheduler's per-group
// metric, plus the coalesced failures of the same group.
func FailedPlacements(failed map[string]*cluster.AllocMetric) map[string]int {
	if len(failed) == 0 {
		return nil
	}
	out := map[string]int{}
	for _, m := range failed {
		if m == nil {
			continue
		}
		out[FailureReason(m)] += 1 + m.CoalescedFailures
	}
	return out
}

// FailureReason names why a group could not be placed: the filter that
// removed the most nodes, resources when nodes were exhausted instead.
func FailureReason(m *cluster.AllocMetric) string {
	constraint, class := sum(m.ConstraintFiltered), sum(m.ClassFiltered)
	switch {
	case m.NodesEvaluated == 0:
		return ReasonNoNodes
	case m.NodesExhausted > 0 && m.NodesExhausted >= constraint && m.NodesExhausted >= class:
		return ReasonExhausted
	case constraint > 0 && constraint >= class:
		return ReasonConstraint
	case class > 0:
		return ReasonNodeClass
	case m.NodesFiltered > 0:
		return ReasonConstraint
	}
	return ReasonOther
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
