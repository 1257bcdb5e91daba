package state

import (
	"fmt"
	"time"

	"github.com/droverhq/drover/cluster"
)

func (w *writer) nodeRegister(req *NodeRegisterRequest) (any, error) {
	n := req.Node
	if n == nil || n.ID == "" {
		return nil, invalid("node register: node ID is required")
	}
	prev := w.read().Node(n.ID)
	// The servers check the node's secret before they apply; this check
	// decides between two registrations of one ID that raced there.
	if prev != nil && prev.SecretHash != "" && n.SecretHash != prev.SecretHash {
		return nil, fmt.Errorf("%w: node %s is registered with another node secret", ErrCASConflict, n.ID)
	}
	if n.Status == "" {
		n.Status = cluster.NodeStatusInit
	}
	if prev != nil {
		n.CreateIndex = prev.CreateIndex
		// Eligibility and drain are the operator's; an agent that
		// restarts and registers again must not reset them.
		n.SchedulingEligibility = prev.SchedulingEligibility
		n.Drain = prev.Drain
		n.StatusUpdatedAt = prev.StatusUpdatedAt
		if prev.Status != n.Status {
			n.StatusUpdatedAt = req.Now
		}
	} else {
		n.CreateIndex = w.index
		n.StatusUpdatedAt = req.Now
		if n.SchedulingEligibility == "" {
			n.SchedulingEligibility = cluster.NodeEligible
		}
	}
	if err := w.ensureNodePool(n); err != nil { // node_pool.go
		return nil, err
	}
	n.ModifyIndex = w.index
	return nil, w.insert(TableNodes, n)
}

// updateNode stores a changed copy of a node, after the evaluations check.
func (w *writer) updateNode(id string, evals []*cluster.Evaluation, now time.Time, change func(n *cluster.Node)) (any, error) {
	prev := w.read().Node(id)
	if prev == nil {
		return nil, notFound("node %s", id)
	}
	if err := validEvals(evals); err != nil {
		return nil, err
	}
	n := *prev // change only assigns fields, so sharing maps is safe
	change(&n)
	n.ModifyIndex = w.index
	if err := w.insert(TableNodes, &n); err != nil {
		return nil, err
	}
	return nil, w.putEvals(evals, now)
}

func (w *writer) nodeUpdateStatus(req *NodeStatusRequest) (any, error) {
	switch req.Status {
	case cluster.NodeStatusInit, cluster.NodeStatusReady, cluster.NodeStatusDown:
	default:
		return nil, invalid("node %s: unknown status %q", req.NodeID, req.Status)
	}
	return w.updateNode(req.NodeID, req.Evals, req.Now, func(n *cluster.Node) {
		if n.Status != req.Status {
			n.StatusUpdatedAt = req.Now
		}
		n.Status, n.StatusDescription = req.Status, req.Description
	})
}

func (w *writer) nodeUpdateEligibility(req *NodeEligibilityRequest) (any, error) {
	switch req.Eligibility {
	case cluster.NodeEligible, cluster.NodeIneligible:
	default:
		return nil, invalid("node %s: unknown eligibility %q", req.NodeID, req.Eligibility)
	}
	if n := w.read().Node(req.NodeID); n != nil && n.Drain && req.Eligibility == cluster.NodeEligible {
		return nil, invalid("node %s is draining and cannot be made eligible", req.NodeID)
	}
	return w.updateNode(req.NodeID, req.Evals, req.Now, func(n *cluster.Node) {
		n.SchedulingEligibility = req.Eligibility
	})
}

func (w *writer) nodeUpdateDrain(req *NodeDrainRequest) (any, error) {
	return w.updateNode(req.NodeID, req.Evals, req.Now, func(n *cluster.Node) {
		n.Drain = req.Drain
		switch {
		case req.Drain:
			n.SchedulingEligibility = cluster.NodeIneligible
		case req.MarkEligible:
			n.SchedulingEligibility = cluster.NodeEligible
		}
	})
}
