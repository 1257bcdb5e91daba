package reconciler

import (
	"errors"
	"fmt"
)

// Kind classifies why a step did not complete, which decides what the
// loop does next.
type Kind uint8

const (
	// Waiting: something transient (a conflict with a concurrent write, a
	// leader change); retry soon.
	Waiting Kind = iota + 1
	// Stalled: cannot progress until someone acts (the branch was deleted,
	// the credentials are wrong); retry at the poll interval.
	Stalled
	// Failed: an error that may pass (an unreachable remote, a server
	// error); retry with backoff.
	Failed
	// Rejected: the commit itself is refused (invalid files, a mass
	// prune); it is recorded and never retried.
	Rejected
)

func (k Kind) String() string {
	switch k {
	case Waiting:
		return "waiting"
	case Stalled:
		return "stalled"
	case Failed:
		return "failed"
	case Rejected:
		return "rejected"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// StepError is the error of a named step.
type StepError struct {
	Step string
	Kind Kind
	Err  error
	// Errors are a rejected commit's reasons, "file:line:col: summary".
	Errors []string
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.Step, e.Kind, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// KindOf returns the kind of a step's error; Failed for any other error
// and 0 for nil.
func KindOf(err error) Kind {
	if err == nil {
		return 0
	}
	var se *StepError
	if errors.As(err, &se) {
		return se.Kind
	}
	return Failed
}

func stepErr(step string, kind Kind, err error) *StepError {
	return &StepError{Step: step, Kind: kind, Err: err}
}

// ErrConflict is returned, wrapped, by a Cluster when a check-and-set
// failed: the job changed between observe and submit.
var ErrConflict = errors.New("the job changed during the pass")
