package cluster

import (
	"time"

	"github.com/droverhq/drover/jobspec"
)

// Disconnect reconcile strategies (a group's disconnect.reconcile), as
// Nomad names them.
const (
	ReconcileBestScore       = "best_score"
	ReconcileKeepOriginal    = "keep_original"
	ReconcileKeepReplacement = "keep_replacement"
	ReconcileLongestRunning  = "longest_running"
)

// GroupDisconnect returns the disconnect block of a job's group, nil when
// the job, the group or the block is missing.
func GroupDisconnect(spec *jobspec.Job, group string) *jobspec.Disconnect {
	if spec == nil {
		return nil
	}
	g := spec.Group(group)
	if g == nil {
		return nil
	}
	return g.Disconnect
}

// DisconnectLostAfter is how long an allocation of the group stays
// unknown on a node that stopped heartbeating before it is lost; 0 means
// lost at once (no disconnect block, or no lost_after).
func DisconnectLostAfter(d *jobspec.Disconnect) time.Duration {
	if d == nil || d.LostAfter < 0 {
		return 0
	}
	return d.LostAfter
}

// DisconnectReplace reports whether the scheduler replaces an unknown
// allocation while its node is away: disconnect.replace, true when unset
// as in Nomad.
func DisconnectReplace(d *jobspec.Disconnect) bool {
	return d == nil || d.Replace == nil || *d.Replace
}

// DisconnectReconcile is the group's reconcile strategy, best_score when
// unset.
func DisconnectReconcile(d *jobspec.Disconnect) string {
	if d == nil || d.Reconcile == "" {
		return ReconcileBestScore
	}
	return d.Reconcile
}

// EvalTriggerReconnect is Nomad's trigger of the evaluation made when a
// node that went away reports its unknown allocations again.
const EvalTriggerReconnect = "reconnect"
