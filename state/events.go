package state

import (
	"encoding/json"
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
// place of that write. This runs on the FSM's apply path for every
// index, so it allocates only the result (and a set for large batches).
func eventsOf(changes []change) []events.Event {
	out := make([]events.Event, 0, len(changes))
	// Duplicates are rare and batches mostly small: scan what was kept
	// while that is cheap, index it only beyond.
	var seen map[eventID]struct{}
	if len(changes) > dedupScanMax {
		seen = make(map[eventID]struct{}, len(changes))
	}
	for i := len(changes) - 1; i >= 0; i-- {
		ev, ok := eventOf(&changes[i])
		if !ok {
			continue
		}
		id := eventID{ev.Topic, ev.Namespace, ev.Key}
		if seen != nil {
			if _, dup := seen[id]; dup {
				continue
			}
			seen[id] = struct{}{}
		} else if slices.ContainsFunc(out, func(o events.Event) bool {
			return o.Key == id.key && o.Topic == id.topic && o.Namespace == id.namespace
		}) {
			continue
		}
		out = append(out, ev)
	}
	slices.Reverse(out)
	return out
}

// dedupScanMax is the largest batch eventsOf deduplicates by scanning.
const dedupScanMax = 64

// eventID is what makes two events of one index the same object's.
type eventID struct {
	topic     events.Topic
	namespace string
	key       string
}

// Payloads, one type per kind: {"Job": {...}}. Each holds only the
// pointer to the object as written (which the store never changes), so
// that building an event copies nothing and boxing the payload in an
// interface allocates nothing; it is encoded only if a subscriber reads
// the event.
type (
	jobPayload        struct{ Job *cluster.Job }
	allocPayload      struct{ Allocation *cluster.Allocation }
	evalPayload       struct{ Evaluation *cluster.Evaluation }
	deploymentPayload struct{ Deployment *cluster.Deployment }
	syncPayload       struct{ SyncStatus *cluster.SyncStatus }
	nodePayload       struct{ Node *cluster.Node }
)

// MarshalJSON leaves out the hash of the node's secret, which stays in
// the servers as in GET /v1/node/ID. The copy is made here, when a
// subscriber reads the event, not when the FSM builds it.
func (p nodePayload) MarshalJSON() ([]byte, error) {
	if p.Node == nil {
		return json.Marshal(struct{ Node *cluster.Node }{})
	}
	n := *p.Node
	n.SecretHash = ""
	return json.Marshal(struct{ Node *cluster.Node }{&n})
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
		ev.Payload = jobPayload{o}
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
		ev.Payload = allocPayload{o}
	case *cluster.Evaluation:
		if c.deleted {
			return ev, false
		}
		ev.Topic, ev.Key, ev.Namespace = events.TopicEvaluation, o.ID, namespaceOr(o.Namespace)
		ev.FilterKeys = nonEmpty(o.JobID, o.DeploymentID)
		ev.Type = TypeEvaluationUpdated
		ev.Payload = evalPayload{o}
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
		ev.Payload = deploymentPayload{o}
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
		// nodePayload leaves out the hash of the node's secret.
		ev.Payload = nodePayload{o}
	case *cluster.SyncStatus:
		ev.Topic, ev.Key, ev.Type = events.TopicSync, o.Source, syncEventType(o, c.prev)
		ev.Payload = syncPayload{o}
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
