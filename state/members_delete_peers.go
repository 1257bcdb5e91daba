package state

import (
	"context"
	"time"

	"github.com/hashicorp/raft"
)

// HeartbeatEvent is a change in how the leader's heartbeats to one
// follower fare: they fail (again), or answer again after failing.
// Autopilot's dead server cleanup decides on them.
type HeartbeatEvent struct {
	PeerID string
	// Failed is true for a failed heartbeat, false when they answer
	// again.
	Failed bool
	// LastContact is when the peer last answered the leader (failed
	// events only). A leader counts from when it took office.
	LastContact time.Time
	// At is when the leader saw the event.
	At time.Time
}

// WatchHeartbeats calls fn for each failed or resumed heartbeat this
// server sends as leader, until ctx ends; the caller owns the goroutine
// it blocks. raft reports a failure at every failed attempt (at least
// once per heartbeat timeout while a peer is gone), so a dropped event is
// followed by another; the channel is buffered so that drops are rare.
func (r *Replicated) WatchHeartbeats(ctx context.Context, fn func(HeartbeatEvent)) {
	ch := make(chan raft.Observation, 256)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.FailedHeartbeatObservation, raft.ResumedHeartbeatObservation:
			return true
		}
		return false
	})
	r.raft.RegisterObserver(obs)
	defer r.raft.DeregisterObserver(obs)
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.stopC:
			return
		case o := <-ch:
			switch d := o.Data.(type) {
			case raft.FailedHeartbeatObservation:
				fn(HeartbeatEvent{PeerID: string(d.PeerID), Failed: true, LastContact: d.LastContact, At: time.Now()})
			case raft.ResumedHeartbeatObservation:
				fn(HeartbeatEvent{PeerID: string(d.PeerID), At: time.Now()})
			}
		}
	}
}
