package state

import (
	"time"

	"github.com/droverhq/drover/cluster"
)

// AllocDisconnectRequest records what the leader decided about a node
// that stopped heartbeating (issue 15, Nomad's disconnect block). When
// NodeStatus is set (heartbeat expiry), the node's status changes at the
// same index as its allocations, so that no evaluation sees the node down
// with allocations that should be unknown still running. Without it (the
// lost_after timer) only allocations change.
type AllocDisconnectRequest struct {
	NodeID          string                `json:"node_id,omitempty"`
	NodeStatus      cluster.NodeStatus    `json:"node_status,omitempty"`
	NodeDescription string                `json:"node_description,omitempty"`
	Allocs          []AllocDisconnect     `json:"allocs,omitempty"`
	Evals           []*cluster.Evaluation `json:"evals,omitempty"`
	Now             time.Time             `json:"now"`
}

// AllocDisconnect turns one allocation unknown (its node is gone, its
// group has disconnect.lost_after) or lost (it stayed unknown past
// lost_after).
type AllocDisconnect struct {
	AllocID      string `json:"alloc_id"`
	ClientStatus string `json:"client_status"`
	Description  string `json:"description,omitempty"`
}

// maxDisconnectAllocs bounds one command; a node holds far fewer.
const maxDisconnectAllocs = 100_000

func (w *writer) allocDisconnect(req *AllocDisconnectRequest) (any, error) {
	if len(req.Allocs) > maxDisconnectAllocs {
		return nil, invalid("alloc disconnect: %d allocations in one command; at most %d", len(req.Allocs), maxDisconnectAllocs)
	}
	r := w.read()
	for _, u := range req.Allocs {
		switch u.ClientStatus {
		case cluster.AllocClientUnknown, cluster.AllocClientLost:
		default:
			return nil, invalid("alloc disconnect: allocation %s: client status %q is neither unknown nor lost", u.AllocID, u.ClientStatus)
		}
		if r.Alloc(u.AllocID) == nil {
			return nil, notFound("allocation %s", u.AllocID)
		}
	}
	if req.NodeStatus != "" {
		switch req.NodeStatus {
		case cluster.NodeStatusInit, cluster.NodeStatusReady, cluster.NodeStatusDown:
		default:
			return nil, invalid("node %s: unknown status %q", req.NodeID, req.NodeStatus)
		}
	}
	if err := validEvals(req.Evals); err != nil {
		return nil, err
	}
	for _, u := range req.Allocs {
		prev := r.Alloc(u.AllocID)
		if !disconnectApplies(prev, u.ClientStatus) {
			// The leader decided on an older state: the agent reported
			// in meanwhile, or the scheduler stopped the allocation.
			continue
		}
		a := *prev // fields are reassigned, never written into
		if u.ClientStatus == cluster.AllocClientUnknown {
			a.DisconnectedAt = req.Now
		}
		a.ClientStatus, a.ClientDescription = u.ClientStatus, u.Description
		if u.ClientStatus == cluster.AllocClientLost && a.NextAllocation != "" && a.DesiredStatus == cluster.AllocDesiredRun {
			// Replaced while unknown, so no evaluation will stop it:
			// stop it here, so that its node, should it return after
			// all, stops it instead of having it reconciled with its
			// replacement as if lost_after had not passed.
			a.DesiredStatus, a.DesiredDescription = cluster.AllocDesiredStop, "alloc is lost: its node did not reconnect within disconnect.lost_after"
		}
		a.ModifyIndex, a.ModifyTime = w.index, req.Now
		if err := w.insert(TableAllocs, &a); err != nil {
			return nil, err
		}
	}
	if req.NodeStatus != "" {
		return w.updateNode(req.NodeID, req.Evals, req.Now, func(n *cluster.Node) {
			if n.Status != req.NodeStatus {
				n.StatusUpdatedAt = req.Now
			}
			n.Status, n.StatusDescription = req.NodeStatus, req.NodeDescription
		})
	}
	return nil, w.putEvals(req.Evals, req.Now)
}

// disconnectApplies reports whether an allocation may still take the
// status: unknown only while it is wanted and its node has not said it
// ended; lost only while it is still unknown (also once stopped: it
// must not show unknown for ever).
func disconnectApplies(a *cluster.Allocation, status string) bool {
	switch status {
	case cluster.AllocClientUnknown:
		return !a.Terminal() && a.ClientStatus != cluster.AllocClientUnknown
	case cluster.AllocClientLost:
		return a.ClientStatus == cluster.AllocClientUnknown
	}
	return false
}
