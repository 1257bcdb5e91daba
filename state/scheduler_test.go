package state_test

import (
	"github.com/droverhq/drover/scheduler"
	"github.com/droverhq/drover/state"
)

// The scheduler reads the cluster through a Snapshot.
var _ scheduler.State = (*state.Snapshot)(nil)
