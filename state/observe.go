package state

import "time"

// Observer hears how long Raft work takes, for metrics (package
// metrics implements it). It is set once, in Config, before Raft
// starts; its methods are called on the apply paths, so they must be
// cheap and never block.
type Observer interface {
	// RaftApply: a command's round trip through Apply on this server,
	// from handing it to Raft until its future completed.
	RaftApply(typ string, d time.Duration)
	// FSMApply: the state machine's own time on one command.
	FSMApply(typ string, d time.Duration)
}

// CommitIndex returns the index of the last log entry this server knows
// committed.
func (r *Replicated) CommitIndex() uint64 { return r.raft.CommitIndex() }
