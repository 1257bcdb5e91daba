package server

import (
	"context"
	"fmt"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/state"
)

// Disconnects (issue 15; Nomad's group disconnect block). When a node
// misses its heartbeat TTL, the leader marks it down and, at the same
// index, each of its allocations whose group has disconnect.lost_after
// "unknown" instead of letting the scheduler call it lost
// (unknownOnDown). The time it went unknown is stored in the allocation,
// so that the leader that turns it lost once lost_after has passed
// (runDisconnects) can be any later leader. When the node returns and
// reports the allocation again, an evaluation lets the scheduler
// reconcile it with its replacement (reconnectEval).

// disconnectScanEvery bounds how often the lost_after duty rescans the
// allocations when they keep changing: a deadline may be met up to this
// late, which lost_after (minutes to hours in practice) does not notice.
const disconnectScanEvery = time.Second

// unknownOnDown returns the allocations of a node going down that become
// unknown: those still meant to run whose group has lost_after. The rest
// are left to the scheduler, which stops them as lost.
func unknownOnDown(snap *state.Snapshot, nodeID string) []state.AllocDisconnect {
	var out []state.AllocDisconnect
	for _, a := range snap.AllocsByNode(nodeID) {
		if a.Terminal() || a.ClientStatus == cluster.AllocClientUnknown {
			continue
		}
		after := cluster.DisconnectLostAfter(allocDisconnect(snap, a))
		if after <= 0 {
			continue
		}
		out = append(out, state.AllocDisconnect{
			AllocID: a.ID, ClientStatus: cluster.AllocClientUnknown,
			Description: fmt.Sprintf("node missed its heartbeat TTL; allocation unknown until it reconnects or disconnect.lost_after (%s) passes", after),
		})
	}
	return out
}

// allocDisconnect is the disconnect block of the job version the
// allocation runs, or of the job's latest version when that one is gone.
func allocDisconnect(snap *state.Snapshot, a *cluster.Allocation) *jobspec.Disconnect {
	j := snap.JobVersion(a.Namespace, a.JobID, a.JobVersion)
	if j == nil {
		j = snap.Job(a.Namespace, a.JobID)
	}
	if j == nil {
		return nil
	}
	return cluster.GroupDisconnect(j.Spec, a.TaskGroup)
}

// lostDue is an unknown allocation whose lost_after has passed.
type lostDue struct {
	alloc *cluster.Allocation
	after time.Duration
}

// planLost finds the unknown allocations whose lost_after has passed at
// now, and when the next one will. It is a pure function of the snapshot
// and the time.
func planLost(snap *state.Snapshot, now time.Time) (due []lostDue, wake time.Time) {
	for _, a := range snap.Allocs() {
		if a.ClientStatus != cluster.AllocClientUnknown {
			continue
		}
		after := cluster.DisconnectLostAfter(allocDisconnect(snap, a))
		at := a.DisconnectedAt.Add(after)
		if a.DisconnectedAt.IsZero() || !at.After(now) {
			// No time recorded (cannot happen through the FSM) or
			// past due: lost now.
			due = append(due, lostDue{alloc: a, after: after})
			continue
		}
		if wake.IsZero() || at.Before(wake) {
			wake = at
		}
	}
	return due, wake
}

// runDisconnects is a leader duty: it turns unknown allocations lost once
// their group's lost_after has passed, with an evaluation per job so that
// the scheduler replaces them (or, with replace = true, keeps the
// replacement it placed). Everything it needs is in the state, so a new
// leader picks up where the old one left.
func (s *Server) runDisconnects(ctx context.Context) {
	tables := []string{state.TableAllocs, state.TableJobs}
	for ctx.Err() == nil {
		snap := s.raft.Store().Snapshot()
		index := max(snap.Index(tables...), 1)
		now := s.now()
		due, wake := planLost(snap, now)
		if len(due) > 0 {
			if err := s.markLost(ctx, snap, due, now); err != nil {
				if ctx.Err() == nil {
					s.logger.Warn("mark unknown allocations lost; will retry", "allocs", len(due), "err", err)
				}
				if !sleepCtx(ctx, s.cfg.RetryInterval) {
					return
				}
			}
			continue
		}
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if !wake.IsZero() {
			wctx, cancel = context.WithTimeout(ctx, max(wake.Sub(now), 0))
		}
		_, _, _ = s.raft.Store().Blocking(wctx, index, tables, func(sn *state.Snapshot) (uint64, any) {
			return sn.Index(tables...), nil
		})
		cancel()
		if !sleepCtx(ctx, disconnectScanEvery) {
			return
		}
	}
}

func (s *Server) markLost(ctx context.Context, snap *state.Snapshot, due []lostDue, now time.Time) error {
	req := &state.AllocDisconnectRequest{Now: now}
	type jobKey struct{ ns, id string }
	seen := map[jobKey]bool{}
	for _, d := range due {
		a := d.alloc
		req.Allocs = append(req.Allocs, state.AllocDisconnect{
			AllocID: a.ID, ClientStatus: cluster.AllocClientLost,
			Description: fmt.Sprintf("alloc is lost: its node did not reconnect within disconnect.lost_after (%s)", d.after),
		})
		k := jobKey{a.Namespace, a.JobID}
		if seen[k] {
			continue
		}
		seen[k] = true
		if j := snap.Job(k.ns, k.id); j != nil && j.Spec != nil {
			req.Evals = append(req.Evals, &cluster.Evaluation{
				ID: newID(), Namespace: k.ns, JobID: k.id, Type: j.Spec.Type, Priority: evalPriority(j.Spec),
				TriggeredBy: cluster.EvalTriggerNodeUpdate, NodeID: a.NodeID,
				JobModifyIndex: j.JobModifyIndex, Status: cluster.EvalStatusPending,
			})
		}
	}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, _, err := s.raft.Apply(actx, state.MsgAllocDisconnect, req); err != nil {
		return err
	}
	s.logger.Info("unknown allocations lost after disconnect.lost_after", "allocs", len(req.Allocs), "evals", len(req.Evals))
	return nil
}

// reconnectEval returns an evaluation for the job of an allocation its
// node reports again after it went unknown, so that the scheduler
// reconciles it with its replacement; nil when none is needed.
func reconnectEval(snap *state.Snapshot, cur *cluster.Allocation, reported string) *cluster.Evaluation {
	if cur.ClientStatus != cluster.AllocClientUnknown || reported == "" || reported == cluster.AllocClientUnknown {
		return nil
	}
	j := snap.Job(cur.Namespace, cur.JobID)
	if j == nil || j.Spec == nil {
		return nil
	}
	return &cluster.Evaluation{
		ID: newID(), Namespace: cur.Namespace, JobID: cur.JobID, Type: j.Spec.Type, Priority: evalPriority(j.Spec),
		TriggeredBy: cluster.EvalTriggerReconnect, NodeID: cur.NodeID,
		JobModifyIndex: j.JobModifyIndex, Status: cluster.EvalStatusPending,
	}
}
