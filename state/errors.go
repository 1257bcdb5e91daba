package state

import (
	"errors"

	"github.com/hashicorp/raft"
)

var (
	// ErrNotLeader is returned by writes on a server that is not the Raft
	// leader; Replicated.Leader names the one to forward to. The command
	// was not accepted, so retrying it elsewhere is safe.
	ErrNotLeader = errors.New("state: not the raft leader")
	// ErrLeadershipLost means the leader lost its leadership after
	// accepting a command: the command may or may not commit. Callers
	// that retry must be idempotent (a job register with CheckIndex is).
	ErrLeadershipLost = raft.ErrLeadershipLost
	// ErrCASConflict is returned when a command's CheckIndex does not match
	// the record's current modify index. Nothing was changed.
	ErrCASConflict = errors.New("state: check-and-set conflict")
	// ErrNotFound is returned by commands that update a record that does
	// not exist.
	ErrNotFound = errors.New("state: not found")
	// ErrInvalid is returned for a command that is malformed: a missing ID,
	// an unknown message type, a body that does not decode.
	ErrInvalid = errors.New("state: invalid command")
	// ErrShutdown is returned by operations on a Replicated after Shutdown.
	ErrShutdown = errors.New("state: shut down")
)
