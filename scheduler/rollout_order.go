package scheduler

import (
	"cmp"
	"slices"
	"strings"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// OrderedNode is one node of a group's rollout order.
type OrderedNode struct {
	Node   string `json:"node"` // the node's name
	NodeID string `json:"node_id"`
	// Value is rollout.order_by resolved on the node, or the node's name
	// without order_by; empty when the node does not set it.
	Value string `json:"value,omitempty"`
	// Listed is set when Value appears in rollout.order. Nodes that are
	// not listed go last, by name.
	Listed bool `json:"listed"`
}

// RolloutOrder returns nodes in the order in which a destructive update
// of group g replaces the allocations on them: nodes whose value is
// listed in g.Rollout.Order in that order, then the others; ties by node
// name, then ID. Without a rollout block every node is unlisted, so the
// result is by name. Nil nodes are skipped. It is a pure function.
func RolloutOrder(g *jobspec.Group, nodes []*cluster.Node) []OrderedNode {
	rk := newRolloutRanker(g)
	type ranked struct {
		OrderedNode
		rank int
	}
	out := make([]ranked, 0, len(nodes))
	for _, n := range nodes {
		if n == nil {
			continue
		}
		rank, value, listed := rk.rank(n)
		out = append(out, ranked{OrderedNode{Node: n.Name, NodeID: n.ID, Value: value, Listed: listed}, rank})
	}
	slices.SortFunc(out, func(a, b ranked) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), strings.Compare(a.Node, b.Node), strings.Compare(a.NodeID, b.NodeID))
	})
	res := make([]OrderedNode, len(out))
	for i, r := range out {
		res[i] = r.OrderedNode
	}
	return res
}

// CurrentRolloutOrder is RolloutOrder over the nodes that run group g's
// allocations of job namespace/jobID in st: the nodes a destructive
// update of the group would go through. Each node appears once.
func CurrentRolloutOrder(st State, namespace, jobID string, g *jobspec.Group) []OrderedNode {
	seen := map[string]bool{}
	var nodes []*cluster.Node
	for _, a := range st.AllocsByJob(namespace, jobID) {
		if a.TaskGroup != g.Name || a.Terminal() || !desiredRun(a) || seen[a.NodeID] {
			continue
		}
		seen[a.NodeID] = true
		nodes = append(nodes, st.Node(a.NodeID))
	}
	return RolloutOrder(g, nodes)
}

// rolloutRanker ranks nodes by a group's rollout block.
type rolloutRanker struct {
	on     bool   // the group has a rollout block
	byName bool   // no order_by: a node's value is its name
	by     target // order_by, parsed once
	pos    map[string]int
}

func newRolloutRanker(g *jobspec.Group) rolloutRanker {
	if g == nil || g.Rollout == nil {
		return rolloutRanker{}
	}
	r := g.Rollout
	rk := rolloutRanker{on: true, byName: r.OrderBy == "", pos: make(map[string]int, len(r.Order))}
	if !rk.byName {
		rk.by = parseTarget(r.OrderBy)
	}
	for i, v := range r.Order {
		if _, dup := rk.pos[v]; !dup {
			rk.pos[v] = i
		}
	}
	return rk
}

// rank is n's place in the order: the index of its value in
// rollout.order, or len(order) when the value is not listed or not set.
func (rk rolloutRanker) rank(n *cluster.Node) (rank int, value string, listed bool) {
	if !rk.on {
		return 0, n.Name, false
	}
	set := true
	if rk.byName {
		value = n.Name
	} else {
		value, set = rk.by.resolve(n)
	}
	if i, ok := rk.pos[value]; ok && set {
		return i, value, true
	}
	return len(rk.pos), value, false
}

// rolloutOrder returns allocs in the order group g's rollout replaces
// them: by the rank of their node (see RolloutOrder), then node name,
// then allocation index and name. Without a rollout block allocs come
// back as they are. node looks up a node by ID; allocations on unknown
// nodes go last.
func rolloutOrder(g *jobspec.Group, allocs []*cluster.Allocation, node func(id string) *cluster.Node) []*cluster.Allocation {
	if g == nil || g.Rollout == nil || len(allocs) < 2 {
		return allocs
	}
	rk := newRolloutRanker(g)
	type keyed struct {
		a    *cluster.Allocation
		rank int
		name string
	}
	ks := make([]keyed, len(allocs))
	for i, a := range allocs {
		k := keyed{a: a, rank: len(rk.pos) + 1, name: a.NodeID}
		if n := lookupNode(node, a.NodeID); n != nil {
			k.rank, _, _ = rk.rank(n)
			k.name = n.Name
		}
		ks[i] = k
	}
	slices.SortStableFunc(ks, func(x, y keyed) int {
		return cmp.Or(cmp.Compare(x.rank, y.rank), strings.Compare(x.name, y.name),
			cmp.Compare(indexKey(allocIndex(x.a.Name)), indexKey(allocIndex(y.a.Name))),
			strings.Compare(x.a.Name, y.a.Name))
	})
	out := make([]*cluster.Allocation, len(ks))
	for i, k := range ks {
		out[i] = k.a
	}
	return out
}

func lookupNode(node func(id string) *cluster.Node, id string) *cluster.Node {
	if node == nil {
		return nil
	}
	return node(id)
}
