package state

import (
	"slices"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/events"
)

// The event stream (issue 17): the FSM records what each command wrote
// (writer.insert and writer.delete call record) and, once the
// transaction committed, publishes it to its broker as Nomad-shaped
// events, index by index. Events are built from the objects as written,
// never re-read later: a batch of commands shares one transaction, and a
// later command's write must not show up in an earlier index's event.

// change is one write of a command, kept until its transaction commits.
type change struct {
	msg     MessageType
	index   uint64
	table   string
	obj     any
	prev    any // sync_status only: the status the write replaced
	deleted bool
}

// Events returns the broker this server publishes applied changes to.
func (r *Replicated) Events() *events.Broker { return r.fsm.Events() }

// Events returns the FSM's event broker.
func (f *FSM) Events() *events.Broker { return f.events }

// record keeps a write for the event stream; tables no topic covers are
// skipped.
func (w *writer) record(table string, obj any, deleted bool) {
	switch table {
	case TableJobs, TableAllocs, TableEvals, TableDeployments, TableNodes:
	case TableSyncStatus:
		if st, ok := obj.(*cluster.SyncStatus); ok && !deleted {
			// What changed decides the event (a new commit outcome, or
			// only the status): read the status this write replaces.
			prev, _ := w.txn.First(TableSyncStatus, "id", st.Source)
			w.changes = append(w.changes, change{msg: w.msg, index: w.index, table: table, obj: obj, prev: prev})
		}
		return
	default:
		return
	}
	w.changes = append(w.changes, change{msg: w.msg, index: w.index, table: table, obj: obj, deleted: deleted})
}

// eventsRestored tells the broker the state was replaced by a snapshot:
// nothing before its index can be streamed from this server any more.
func (f *FSM) eventsRestored() {
	if f.events != nil {
		f.events.Reset(f.applied.Load())
	}
}

// publish sends committed changes to the broker, one Publish per index.
func (f *FSM) publish(changes []change) {
	if f.events == nil {
		return
	}
	for i := 0; i < len(changes); {
		j := i + 1
		for j < len(changes) && changes[j].index == changes[i].index {
			j++
		}
		if evs := eventsOf(changes[i:j]); len(evs) > 0 {
			f.events.Publish(changes[i].index, evs)
		}
		i = j
	}
}

// eventsOf builds the events of one index's changes. An object written
// twice in one command yields one event, of its last write, in the
// place of that write.
func eventsOf(changes []change) []events.Event {
	seen := map[string]bool{}
	var out []events.Event
	for i := len(changes) - 1; i >= 0; i-- {
		ev, ok := eventOf(&changes[i])
		if !ok {
			continue
		}
		id := string(ev.Topic) + "\x00" + ev.Namespace + "\x00" + ev.Key
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, ev)
	}
	slices.Reverse(out)
	return out
}

// Nomad's event types.
const (
	TypeJobRegistered   = "JobRegistered"
	TypeJobDeregistered = "JobDeregistered"
	// TypeJobStable is Drover's: a version was marked stable (its
	// deployment succeeded); Nomad streams nothing for it.
	TypeJobStable                     = "JobStable"
	TypePlanResult                    = "PlanResult"
	TypeAllocationUpdated             = "AllocationUpdated"
	TypeAllocationUpdateDesiredStatus = "AllocationUpdateDesiredStatus"
	TypeDeploymentStatusUpdate        = "DeploymentStatusUpdate"
	TypeDeploymentPromotion           = "DeploymentPromotion"
	TypeDeploymentAllocHealth         = "DeploymentAllocHealth"
	TypeEvaluationUpdated             = "EvaluationUpdated"
	TypeNodeRegistration              = "NodeRegistration"
	TypeNodeDeregistration            = "NodeDeregistration"
	TypeNodeEligibility               = "NodeEligibility"
	TypeNodeDrain                     = "NodeDrain"
	TypeNodeEvent                     = "NodeStreamEvent"
	// Drover's Sync topic: a commit's outcome changed (CommitApplied,
	// CommitRejected, CommitFailed, CommitRollingOut), or only the
	// source's status did (SyncStatusUpdated: last seen, errors, health).
	TypeCommitApplied     = "CommitApplied"
	TypeCommitRejected    = "CommitRejected"
	TypeCommitFailed      = "CommitFailed"
	TypeCommitRollingOut  = "CommitRollingOut"
	TypeSyncStatusUpdated = "SyncStatusUpdated"
)

// eventOf maps one write to its event; ok is false for writes no event
// stands for (collection of terminal objects by GC, job_versions rows).
func eventOf(c *change) (events.Event, bool) {
	ev := events.Event{Index: c.index}
	if c.deleted && c.msg == MsgGC && c.table != TableNodes {
		return ev, false
	}
	switch o := c.obj.(type) {
	case *cluster.Job:
		if c.table != TableJobs {
			return ev, false
		}
		ev.Topic, ev.Key, ev.Namespace = events.TopicJob, o.ID, namespaceOr(o.Namespace)
		switch {
		case c.deleted || o.Stop || c.msg == MsgJobDeregister:
			ev.Type = TypeJobDeregistered
		case c.msg == MsgJobStable:
			ev.Type = TypeJobStable
		default:
			ev.Type = TypeJobRegistered
		}
		ev.Payload = map[string]any{"Job": o}
	case *cluster.Allocation:
		if c.deleted {
			return ev, false
		}
		ev.Topic, ev.Key, ev.Namespace = events.TopicAllocation, o.ID, namespaceOr(o.Namespace)
		ev.FilterKeys = nonEmpty(o.JobID, o.DeploymentID)
		switch c.msg {
		case MsgPlanApply:
			ev.Type = TypePlanResult
		case MsgAllocUpdateDesired:
			ev.Type = TypeAllocationUpdateDesiredStatus
		default:
			ev.Type = TypeAllocationUpdated
		}
		ev.Payload = map[string]any{"Allocation": o}
	case *cluster.Evaluation:
		if c.deleted {
			return ev, false
		}
		ev.Topic, ev.Key, ev.Namespace = events.TopicEvaluation, o.ID, namespaceOr(o.Namespace)
		ev.FilterKeys = nonEmpty(o.JobID, o.DeploymentID)
		ev.Type = TypeEvaluationUpdated
		ev.Payload = map[string]any{"Evaluation": o}
	case *cluster.Deployment:
		if c.deleted {
			return ev, false
		}
		ev.Topic, ev.Key, ev.Namespace = events.TopicDeployment, o.ID, namespaceOr(o.Namespace)
		ev.FilterKeys = nonEmpty(o.JobID)
		switch c.msg {
		case MsgDeploymentPromote:
			ev.Type = TypeDeploymentPromotion
		case MsgAllocClientUpdate:
			ev.Type = TypeDeploymentAllocHealth
		default:
			ev.Type = TypeDeploymentStatusUpdate
		}
		ev.Payload = map[string]any{"Deployment": o}
	case *cluster.Node:
		ev.Topic, ev.Key = events.TopicNode, o.ID
		switch {
		case c.deleted:
			ev.Type = TypeNodeDeregistration
		case c.msg == MsgNodeRegister:
			ev.Type = TypeNodeRegistration
		case c.msg == MsgNodeUpdateEligibility:
			ev.Type = TypeNodeEligibility
		case c.msg == MsgNodeUpdateDrain:
			ev.Type = TypeNodeDrain
		default:
			ev.Type = TypeNodeEvent
		}
		// The hash of the node's secret stays in the servers, as in
		// GET /v1/node/ID.
		n := *o
		n.SecretHash = ""
		ev.Payload = map[string]any{"Node": &n}
	case *cluster.SyncStatus:
		ev.Topic, ev.Key, ev.Type = events.TopicSync, o.Source, syncEventType(o, c.prev)
		ev.Payload = map[string]any{"SyncStatus": o}
	default:
		return ev, false
	}
	return ev, true
}

// syncEventType says what a sync status write means: a commit's new
// outcome, or only a status update.
func syncEventType(st *cluster.SyncStatus, prev any) string {
	if len(st.Commits) == 0 {
		return TypeSyncStatusUpdated
	}
	cur := st.Commits[0]
	if old, ok := prev.(*cluster.SyncStatus); ok && len(old.Commits) > 0 {
		o := old.Commits[0]
		if o.Commit == cur.Commit && o.Outcome == cur.Outcome && o.Retry == cur.Retry {
			return TypeSyncStatusUpdated
		}
	}
	switch cur.Outcome {
	case cluster.CommitApplied:
		return TypeCommitApplied
	case cluster.CommitRejected:
		return TypeCommitRejected
	case cluster.CommitFailed:
		return TypeCommitFailed
	case cluster.CommitRollingOut:
		return TypeCommitRollingOut
	}
	return TypeSyncStatusUpdated
}

func nonEmpty(keys ...string) []string {
	var out []string
	for _, k := range keys {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}

// eventBroker is the FSM's broker type, named here so that fsm.go needs
// no import of its own.
type eventBroker = *events.Broker

func newEventBroker() eventBroker { return events.NewBroker(events.DefaultConfig()) }
