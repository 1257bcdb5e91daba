package server

import (
	"context"
	"sync"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/state"
)

// heartbeats tracks, on the leader, when each live node must heartbeat
// next, as Nomad's heartbeat.go does. The deadlines live only in the
// leader's memory: a new leader gives every node a fresh TTL plus a
// failover grace, since the nodes may have been heartbeating a server
// that just died.
//
// One goroutine (run) sleeps until the earliest deadline and marks
// expired nodes down; handlers move deadlines under mu and kick it.
type heartbeats struct {
	s     *Server
	kickC chan struct{}

	mu        sync.Mutex
	deadlines map[string]time.Time // nil while not leading
}

func newHeartbeats(s *Server) *heartbeats {
	return &heartbeats{s: s, kickC: make(chan struct{}, 1)}
}

// reset moves a node's deadline to a TTL and grace from now. It reports
// false when this server is not tracking heartbeats (not leading).
func (h *heartbeats) reset(nodeID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.deadlines == nil {
		return false
	}
	h.deadlines[nodeID] = time.Now().Add(h.s.cfg.HeartbeatTTL + h.s.cfg.HeartbeatGrace)
	h.kick()
	return true
}

func (h *heartbeats) kick() {
	select {
	case h.kickC <- struct{}{}:
	default:
	}
}

func (h *heartbeats) run(ctx context.Context) {
	now := time.Now()
	grace := h.s.cfg.HeartbeatTTL + h.s.cfg.HeartbeatGrace + h.s.cfg.FailoverHeartbeatGrace
	h.mu.Lock()
	h.deadlines = map[string]time.Time{}
	for _, n := range h.s.raft.Store().Snapshot().Nodes() {
		if n.Status != cluster.NodeStatusDown {
			h.deadlines[n.ID] = now.Add(grace)
		}
	}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.deadlines = nil
		h.mu.Unlock()
	}()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		var expired []string
		next := now.Add(time.Hour)
		h.mu.Lock()
		for id, d := range h.deadlines {
			if !d.After(now) {
				expired = append(expired, id)
				delete(h.deadlines, id)
			} else if d.Before(next) {
				next = d
			}
		}
		h.mu.Unlock()
		for _, id := range expired {
			if !h.expire(ctx, id) && ctx.Err() == nil {
				// Try again soon rather than forget the node.
				h.mu.Lock()
				if h.deadlines != nil {
					if _, again := h.deadlines[id]; !again {
						h.deadlines[id] = now.Add(h.s.cfg.RetryInterval)
					}
				}
				h.mu.Unlock()
				if r := now.Add(h.s.cfg.RetryInterval); r.Before(next) {
					next = r
				}
			}
		}
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-h.kickC:
		}
	}
}

// expire marks a node that missed its heartbeats down, with evaluations
// for the jobs that have allocations on it, so that the scheduler
// replaces them elsewhere. It reports whether the state is settled.
func (h *heartbeats) expire(ctx context.Context, nodeID string) bool {
	snap := h.s.raft.Store().Snapshot()
	n := snap.Node(nodeID)
	if n == nil || n.Status == cluster.NodeStatusDown {
		return true
	}
	now := time.Now()
	// Down, and the allocations whose group has disconnect.lost_after
	// unknown, at one index (disconnect.go).
	req := &state.AllocDisconnectRequest{
		NodeID:          nodeID,
		NodeStatus:      cluster.NodeStatusDown,
		NodeDescription: "node missed its heartbeat TTL",
		Allocs:          unknownOnDown(snap, nodeID),
		Evals:           nodeEvals(snap, nodeID, true),
		Now:             now,
	}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, _, err := h.s.raft.Apply(actx, state.MsgAllocDisconnect, req); err != nil {
		h.s.logger.Warn("mark node down", "node", nodeID, "err", err)
		return false
	}
	h.s.logger.Info("node missed its heartbeat TTL; marked down", "node", nodeID, "name", n.Name, "evals", len(req.Evals), "unknown_allocs", len(req.Allocs))
	return true
}

// nodeEvals returns node-update evaluations for the jobs a change of the
// node concerns: those with live allocations on it (withAllocs) and every
// system job, which runs on all nodes.
func nodeEvals(snap *state.Snapshot, nodeID string, withAllocs bool) []*cluster.Evaluation {
	type key struct{ ns, id string }
	seen := map[key]bool{}
	var out []*cluster.Evaluation
	add := func(j *cluster.Job) {
		k := key{j.Namespace, j.ID}
		if j.Spec == nil || seen[k] {
			return
		}
		seen[k] = true
		out = append(out, &cluster.Evaluation{
			ID: newID(), Namespace: j.Namespace, JobID: j.ID, Type: j.Spec.Type, Priority: j.Spec.Priority,
			TriggeredBy: cluster.EvalTriggerNodeUpdate, NodeID: nodeID,
			JobModifyIndex: j.JobModifyIndex, Status: cluster.EvalStatusPending,
		})
	}
	if withAllocs {
		for _, a := range snap.AllocsByNode(nodeID) {
			if a.Terminal() {
				continue
			}
			if j := snap.Job(a.Namespace, a.JobID); j != nil {
				add(j)
			}
		}
	}
	for _, j := range snap.Jobs() {
		if j.Spec != nil && !j.Stop && (j.Spec.Type == jobspec.JobTypeSystem || j.Spec.Type == jobspec.JobTypeSysBatch) {
			add(j)
		}
	}
	return out
}
