package scheduler

import (
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// Disconnects (a group's disconnect block, Nomad 1.8). The servers mark
// the allocations of a node that stops heartbeating "unknown" when their
// group has lost_after, and lost once it runs out (server/disconnect.go).
// Here:
//   - an unknown allocation holds its name index: with replace (the
//     default) a replacement is placed next to it, which is not stopped;
//     with replace = false nothing is placed until it turns lost;
//   - once the node is back and reports the allocation running again, it
//     and its replacement are reconciled per disconnect.reconcile and the
//     loser is stopped.

// descReconnected is Nomad's description of the allocation that loses the
// reconcile after its node returned.
const descReconnected = "alloc not needed due to disconnected client reconnect"

// holdUnknown: on a node that stopped heartbeating, within lost_after.
// Declared after the others so that a running holder of the same index
// sorts first and keeps it.
const holdUnknown = holdDone + 1

// reconnects is the outcome of reconciling the allocations of one group
// whose nodes came back.
type reconnects struct {
	stops []stopRequest
	// keep holds allocations that won: they keep their index although a
	// replacement names them as its previous allocation.
	keep map[string]bool
	// stopped holds the IDs of the allocations in stops.
	stopped map[string]bool
}

// reconcileReconnects decides, for each allocation of a group that went
// unknown and is running again on a node that is back, whether it or its
// live replacement stays. It is a pure function of its input.
func reconcileReconnects(g *jobspec.Group, allocs []*cluster.Allocation, node func(id string) *cluster.Node) reconnects {
	out := reconnects{keep: map[string]bool{}, stopped: map[string]bool{}}
	next := map[string][]*cluster.Allocation{}
	for _, a := range allocs {
		if a.PreviousAllocation != "" {
			next[a.PreviousAllocation] = append(next[a.PreviousAllocation], a)
		}
	}
	for _, o := range allocs {
		if !reconnecting(o, node) || out.stopped[o.ID] {
			continue
		}
		r := liveReplacement(o, next)
		if r == nil {
			out.keep[o.ID] = true
			continue
		}
		if pickReconnect(cluster.DisconnectReconcile(g.Disconnect), o, r) == o {
			out.keep[o.ID] = true
			out.stops = append(out.stops, stopRequest{alloc: r, desc: descReconnected})
			out.stopped[r.ID] = true
		} else {
			out.stops = append(out.stops, stopRequest{alloc: o, desc: descReconnected})
			out.stopped[o.ID] = true
		}
	}
	return out
}

// reconnecting reports whether a went unknown and its node, back and
// ready, reports it running (or starting) again.
func reconnecting(a *cluster.Allocation, node func(id string) *cluster.Node) bool {
	if a.DisconnectedAt.IsZero() || !desiredRun(a) {
		return false
	}
	switch a.ClientStatus {
	case cluster.AllocClientRunning, cluster.AllocClientPending:
	default:
		return false
	}
	n := node(a.NodeID)
	return n != nil && n.Status == cluster.NodeStatusReady
}

// liveReplacement follows a's replacements to the first that is still
// wanted and not finished, nil if there is none. The walk is bounded by
// the number of allocations (each is visited once).
func liveReplacement(a *cluster.Allocation, next map[string][]*cluster.Allocation) *cluster.Allocation {
	seen := map[string]bool{a.ID: true}
	queue := next[a.ID]
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		if seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		if desiredRun(r) && !r.Terminal() {
			return r
		}
		queue = append(queue, next[r.ID]...)
	}
	return nil
}

// pickReconnect returns the allocation that stays, original or
// replacement, per the group's reconcile strategy. A replacement that is
// itself unknown, or not running yet where the strategy compares running
// allocations, loses to the original that runs; every tie keeps the
// original, which needs no new placement to keep serving.
func pickReconnect(strategy string, original, replacement *cluster.Allocation) *cluster.Allocation {
	if replacement.ClientStatus == cluster.AllocClientUnknown {
		return original
	}
	switch strategy {
	case cluster.ReconcileKeepOriginal:
		return original
	case cluster.ReconcileKeepReplacement:
		return replacement
	case cluster.ReconcileLongestRunning:
		o, r := runningSince(original), runningSince(replacement)
		if !r.IsZero() && (o.IsZero() || r.Before(o)) {
			return replacement
		}
		return original
	default: // best_score
		// Nomad keeps the allocation whose node scored higher when it
		// was placed. Placement scores are stored in the allocation's
		// metrics; one without (placed before they were kept) keeps
		// the original.
		o, oOK := normalizedScore(original)
		r, rOK := normalizedScore(replacement)
		if oOK && rOK && r > o {
			return replacement
		}
		return original
	}
}

func normalizedScore(a *cluster.Allocation) (float64, bool) {
	if a.Metrics == nil {
		return 0, false
	}
	s, ok := a.Metrics.Scores[scoreNormalized]
	return s, ok
}

// runningSince is when the allocation's tasks have all been running
// since: the latest start of a running task, zero when none runs. A task
// that restarted has run continuously only since its restart.
func runningSince(a *cluster.Allocation) time.Time {
	var since time.Time
	for _, ts := range a.TaskStates {
		if ts == nil || ts.State != cluster.TaskStateRunning {
			continue
		}
		if ts.StartedAt.IsZero() {
			continue
		}
		if since.IsZero() || ts.StartedAt.After(since) {
			since = ts.StartedAt
		}
	}
	return since
}

// unknownAction is what the reconciler does with an unreplaced unknown
// allocation: replace it (placing next to it, stopping nothing) while its
// node is away and the group's disconnect.replace allows, else wait.
func unknownAction(in reconcileInput, g *jobspec.Group, a *cluster.Allocation) (replace bool) {
	if !cluster.DisconnectReplace(g.Disconnect) {
		return false
	}
	n := in.node(a.NodeID)
	// A node that is back reports its allocations within a heartbeat;
	// a replacement placed now would be stopped right after.
	return n == nil || n.Status == cluster.NodeStatusDown
}

// holdLostWait: lost on a node that is down, in a group with
// stop_on_client_after, stopped already, whose replacement waits until
// the cut-off agent has stopped it itself. It holds its index meanwhile.
const holdLostWait = holdDone + 2

// lostReplaceAt is when a lost allocation of a group with
// disconnect.stop_on_client_after may be replaced: once its agent, cut
// off from the servers, has stopped it (stop_on_client_after after the
// node was marked down, which is after the agent last reached a server,
// plus the longest kill_timeout of the group), as Nomad delays it, so
// that the replacement never runs next to it. Zero when there is nothing
// to wait for: no stop_on_client_after, or the node is gone or back.
func lostReplaceAt(in reconcileInput, g *jobspec.Group, a *cluster.Allocation) time.Time {
	d := g.Disconnect
	if d == nil || d.StopOnClientAfter <= 0 {
		return time.Time{}
	}
	n := in.node(a.NodeID)
	if n == nil || n.Status != cluster.NodeStatusDown || n.StatusUpdatedAt.IsZero() {
		return time.Time{}
	}
	var kill time.Duration
	for _, t := range g.Tasks {
		kill = max(kill, t.KillTimeout)
	}
	return n.StatusUpdatedAt.Add(d.StopOnClientAfter + kill)
}

// lostWaiting returns the holder of a lost allocation that the scheduler
// already stopped and whose replacement still waits for lostReplaceAt.
func lostWaiting(in reconcileInput, g *jobspec.Group, a *cluster.Allocation) (holder, bool) {
	if a.ClientStatus != cluster.AllocClientLost || a.NextAllocation != "" {
		return holder{}, false
	}
	at := lostReplaceAt(in, g, a)
	if !at.After(in.now) {
		return holder{}, false
	}
	return holder{alloc: a, index: allocIndex(a.Name), kind: holdLostWait, resch: reschedule{at: at}}, true
}
