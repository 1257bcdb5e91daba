package scheduler

import (
	"maps"
	"slices"

	"github.com/droverhq/drover/cluster"
)

// EvaluatePlan re-checks a plan against the newest state before it is
// committed, as Nomad's plan applier does: the scheduler planned from a
// snapshot that other plans may since have changed. Every node that gets
// allocations is re-fitted (cpu, memory, ports) against its current
// allocations that stay; a node that no longer fits, or no longer takes
// new work, is rejected whole (its placements and its stops) and
// reported, and the rest of the plan is accepted. The accepted plan never
// over-commits a node. When nodes were rejected, the caller should
// evaluate the job again.
func EvaluatePlan(st State, p *Plan) (accepted *Plan, rejectedNodes []string) {
	out := *p
	out.NodeAllocation = make(map[string][]*cluster.Allocation, len(p.NodeAllocation))
	out.NodeUpdate = make(map[string][]*cluster.Allocation, len(p.NodeUpdate))
	for _, id := range slices.Sorted(maps.Keys(p.NodeAllocation)) {
		if nodeFits(st, id, p.NodeAllocation[id], p.NodeUpdate[id]) {
			out.NodeAllocation[id] = p.NodeAllocation[id]
			continue
		}
		rejectedNodes = append(rejectedNodes, id)
	}
	for id, stops := range p.NodeUpdate {
		if !slices.Contains(rejectedNodes, id) {
			out.NodeUpdate[id] = stops
		}
	}
	return &out, rejectedNodes
}

// nodeFits checks one node's part of a plan against the state.
func nodeFits(st State, nodeID string, placed, stopped []*cluster.Allocation) bool {
	n := st.Node(nodeID)
	if n == nil || n.Status == cluster.NodeStatusDown {
		return false
	}
	existing := st.AllocsByNode(nodeID)
	gone := make(map[string]bool, len(stopped)+len(placed))
	for _, a := range stopped {
		gone[a.ID] = true
	}
	for _, a := range placed {
		// An updated copy replaces its original; a new allocation must
		// land on a node that still takes new work.
		if findAlloc(existing, a.ID) != nil {
			gone[a.ID] = true
		} else if !n.Ready() {
			return false
		}
	}
	cpu, mem := 0, 0
	ports := map[int]bool{}
	for _, p := range n.ReservedPorts {
		ports[p] = true
	}
	add := func(a *cluster.Allocation) bool {
		cpu += a.Resources.CPU()
		mem += a.Resources.MemoryMB()
		for _, p := range a.Resources.Ports {
			if ports[p.Value] {
				return false
			}
			ports[p.Value] = true
		}
		return true
	}
	for _, a := range existing {
		if a.Terminal() || gone[a.ID] {
			continue
		}
		if !add(a) {
			// Already colliding in the state: nothing new may make it
			// worse, so count it and go on.
			continue
		}
	}
	for _, a := range placed {
		if a.Terminal() {
			continue
		}
		if !add(a) {
			return false
		}
	}
	return cpu <= n.Resources.CPU-n.Reserved.CPU && mem <= n.Resources.MemoryMB-n.Reserved.MemoryMB
}
