package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	memdb "github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
)

// FSM applies committed Raft log entries to a Store. Apply returns, for
// each command, either an error (ErrCASConflict, ErrNotFound, ErrInvalid,
// wrapped with detail) or the command's response value; the caller of
// Replicated.Apply receives it.
type FSM struct {
	store  *Store
	logger *slog.Logger
	// applied is the index of the last log entry applied to the store.
	// raft's own AppliedIndex runs ahead of it: raft counts an entry
	// applied once it is handed to the FSM goroutine.
	applied atomic.Uint64

	// halt is set, once, when a log entry fails its checksum or does not
	// decode (envelope.go). From then on the FSM applies nothing and
	// refuses snapshots: skipping the entry would leave this replica
	// different from the others, and a snapshot would make that
	// permanent. haltC is closed at the same time, for the server to
	// stop on.
	halt     atomic.Pointer[CorruptEntryError]
	haltC    chan struct{}
	haltOnce sync.Once

	// observer, when set (before Raft starts), hears each command's
	// apply time (observe.go).
	observer Observer

	events eventBroker // the event stream (events.go)
}

var _ raft.BatchingFSM = (*FSM)(nil)

// NewFSM returns an FSM writing to store.
func NewFSM(store *Store, logger *slog.Logger) *FSM {
	return &FSM{store: store, logger: logger, haltC: make(chan struct{}), events: newEventBroker()}
}

// Halted is closed when the FSM stopped at a corrupt log entry; HaltErr
// then says which.
func (f *FSM) Halted() <-chan struct{} { return f.haltC }

// HaltErr returns the *CorruptEntryError the FSM stopped at, or nil.
func (f *FSM) HaltErr() error {
	if e := f.halt.Load(); e != nil {
		return e
	}
	return nil
}

// stop halts the FSM at a corrupt entry and says so as loudly as a
// server can short of crashing: the server stops on Halted.
func (f *FSM) stop(e *CorruptEntryError) {
	f.haltOnce.Do(func() {
		f.halt.Store(e)
		f.logger.Error("STOPPING: a raft log entry is corrupt; this server applies nothing more "+
			"(the other servers carry on). Rejoin it with a fresh data dir, or restore a snapshot",
			"index", e.Index, "reason", e.Reason)
		close(f.haltC)
	})
}

// Store returns the store the FSM writes.
func (f *FSM) Store() *Store { return f.store }

// AppliedIndex returns the index of the last log entry whose effects are
// visible in the store. After a restore it is the newest index of the
// restored tables, which may be below the snapshot's own index.
func (f *FSM) AppliedIndex() uint64 { return f.applied.Load() }

// Apply applies one log entry.
func (f *FSM) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies the entries raft committed together in a single memdb
// transaction: one copy of each touched radix path and one wake-up of
// blocking queries per batch instead of per command, which is what makes
// many small agent updates cheap.
//
// Commands validate everything before their first write, so a command that
// fails leaves the shared transaction as it found it. Should one fail
// after writing anyway (a bug, or an index error), the batch is thrown
// away and replayed with one transaction per command, so that the others
// still commit and the failing one commits nothing. Both paths depend only
// on the log, so every replica ends in the same state.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	resps := make([]any, len(logs))
	if err := f.HaltErr(); err != nil {
		for i := range resps {
			resps[i] = err
		}
		return resps
	}
	w := &writer{txn: f.store.writeTxn()}
	clean := true
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		resp, ok := f.applyOne(w, l)
		if corrupt, bad := resp.(*CorruptEntryError); bad {
			// The entries before it are good and go in; it and every
			// later one are refused (a corrupt entry writes nothing).
			w.txn.Commit()
			f.publish(w.changes) // events.go
			f.applied.Store(l.Index - 1)
			f.stop(corrupt)
			for j := i; j < len(logs); j++ {
				resps[j] = corrupt
			}
			return resps
		}
		if !ok {
			clean = false
			break
		}
		resps[i] = resp
	}
	if clean {
		w.txn.Commit()
		f.publish(w.changes) // events.go
		f.markApplied(logs)
		return resps
	}
	w.txn.Abort()

	for i, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		w := &writer{txn: f.store.writeTxn()}
		resp, ok := f.applyOne(w, l)
		if corrupt, bad := resp.(*CorruptEntryError); bad {
			w.txn.Abort()
			f.applied.Store(l.Index - 1)
			f.stop(corrupt)
			for j := i; j < len(logs); j++ {
				resps[j] = corrupt
			}
			return resps
		}
		if ok {
			w.txn.Commit()
			f.publish(w.changes) // events.go
		} else {
			w.txn.Abort()
		}
		resps[i] = resp
	}
	f.markApplied(logs)
	return resps
}

func (f *FSM) markApplied(logs []*raft.Log) {
	if len(logs) > 0 {
		f.applied.Store(logs[len(logs)-1].Index)
	}
}

// applyOne applies one command into w's transaction. ok is false when the
// command failed after writing: the transaction must then be aborted. A
// *CorruptEntryError response means the entry failed its checksum, named
// a type or envelope this server does not know, or did not decode: the
// caller halts the FSM. Those are checked before the first write.
func (f *FSM) applyOne(w *writer, l *raft.Log) (resp any, ok bool) {
	t, body, err := openEnvelope(l.Data)
	if err != nil {
		return &CorruptEntryError{Index: l.Index, Reason: err.Error()}, true
	}
	h, known := handlers[t]
	if !known {
		// A newer server may have written a type this one does not
		// know. Applying nothing would diverge from the servers that
		// do: stop, and say to upgrade.
		return &CorruptEntryError{Index: l.Index, Reason: fmt.Sprintf("unknown message type %d (written by a newer Drover? upgrade this server)", uint8(t))}, true
	}
	w.begin(l.Index)
	w.msg = t // events.go
	if f.observer != nil {
		start := time.Now()
		defer func() { f.observer.FSMApply(t.String(), time.Since(start)) }()
	}
	resp, err = h(w, body)
	if errors.Is(err, ErrCorrupt) {
		return &CorruptEntryError{Index: l.Index, Reason: fmt.Sprintf("%s: %v", t, err)}, len(w.touched) == 0
	}
	if err == nil {
		err = w.finish()
	}
	if err != nil {
		if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrCASConflict) {
			f.logger.Error("raft command failed", "type", t.String(), "index", l.Index, "err", err)
		}
		return err, len(w.touched) == 0
	}
	return resp, true
}

type handler func(w *writer, body []byte) (any, error)

// handle adapts a typed command to a handler that decodes its body.
func handle[R any](fn func(w *writer, req *R) (any, error)) handler {
	return func(w *writer, body []byte) (any, error) {
		req := new(R)
		if err := json.Unmarshal(body, req); err != nil {
			// The checksum held, so the entry is what the leader wrote;
			// a body that does not decode is still not something a
			// replica may skip while others apply it.
			return nil, fmt.Errorf("%w: decode body: %v", ErrCorrupt, err)
		}
		return fn(w, req)
	}
}

// handlers maps each message type to its command.
var handlers = map[MessageType]handler{
	MsgJobRegister:            handle((*writer).jobRegister),
	MsgJobDeregister:          handle((*writer).jobDeregister),
	MsgJobStable:              handle((*writer).jobStable),
	MsgNodeRegister:           handle((*writer).nodeRegister),
	MsgNodeUpdateStatus:       handle((*writer).nodeUpdateStatus),
	MsgNodeUpdateEligibility:  handle((*writer).nodeUpdateEligibility),
	MsgNodeUpdateDrain:        handle((*writer).nodeUpdateDrain),
	MsgAllocUpdateDesired:     handle((*writer).allocUpdateDesired),
	MsgPlanApply:              handle((*writer).planApply),
	MsgAllocClientUpdate:      handle((*writer).allocClientUpdate),
	MsgEvalUpsert:             handle((*writer).evalUpsert),
	MsgEvalUpdateStatus:       handle((*writer).evalUpdateStatus),
	MsgDeploymentUpsert:       handle((*writer).deploymentUpsert),
	MsgDeploymentStatusUpdate: handle((*writer).deploymentStatusUpdate),
	MsgSyncStatusUpsert:       handle((*writer).syncStatusUpsert),
	MsgMemberUpsert:           handle((*writer).memberUpsert),
	MsgDeploymentPromote:      handle((*writer).deploymentPromote),
	MsgACLPolicyUpsert:        handle((*writer).aclPolicyUpsert),
	MsgACLPolicyDelete:        handle((*writer).aclPolicyDelete),
	MsgACLTokenUpsert:         handle((*writer).aclTokenUpsert),
	MsgACLTokenDelete:         handle((*writer).aclTokenDelete),
	MsgACLBootstrap:           handle((*writer).aclBootstrap),
	MsgAuditAppend:            handle((*writer).auditAppend),
	MsgTLSKeyringSet:          handle((*writer).tlsKeyringSet),
	MsgGC:                     handle((*writer).gc),
	MsgMemberDelete:           handle((*writer).memberDelete),
	MsgPeriodicLaunch:         handle((*writer).periodicLaunch),
	MsgNodePoolUpsert:         handle((*writer).nodePoolUpsert),
	MsgNodePoolDelete:         handle((*writer).nodePoolDelete),
	MsgJobDispatch:            handle((*writer).jobDispatch),
	MsgAllocDisconnect:        handle((*writer).allocDisconnect),
	MsgJobScale:               handle((*writer).jobScale),
	MsgIdentityKeySet:         handle((*writer).identityKeySet),
	MsgSealApply:              handle((*writer).sealApply), // seal_key.go
	MsgVarApply:               handle((*writer).varApply),
	MsgRootKeyUpsert:          handle((*writer).rootKeyUpsert),
	MsgServiceRegister:        handle((*writer).serviceResync),     // service.go
	MsgServiceDeregister:      handle((*writer).serviceDeregister), // service.go

	// job_scale_event.go, variables_lock.go
	MsgScalingEventRegister: handle((*writer).scalingEventRegister),
	MsgVarLockExpire:        handle((*writer).varLockExpire),
}

// writer is one command's view of the FSM's write transaction.
type writer struct {
	txn     *memdb.Txn
	index   uint64
	touched []string
	msg     MessageType
	changes []change // for the event stream (events.go)
	// summaries are the job summaries this transaction has written,
	// which it may still change in place (job_summary.go).
	summaries map[summaryKey]*JobSummary
}

func (w *writer) begin(index uint64) {
	w.index = index
	w.touched = w.touched[:0]
}

// finish records the command's index as the latest of every table it
// wrote, which is what blocking queries watch.
func (w *writer) finish() error {
	for _, t := range w.touched {
		if err := w.txn.Insert(tableIndex, &indexEntry{Table: t, Index: w.index}); err != nil {
			return fmt.Errorf("update index of %s: %w", t, err)
		}
	}
	return nil
}

func (w *writer) touch(table string) {
	if !slices.Contains(w.touched, table) {
		w.touched = append(w.touched, table)
	}
}

func (w *writer) insert(table string, obj any) error {
	w.touch(table)
	w.record(table, obj, false) // events.go
	// The service catalog follows allocations, nodes and deployments in
	// the same transaction (service.go).
	after := w.serviceHook(table, obj)
	// So do the job summaries (job_summary.go).
	count, err := w.jobSummaryHook(table, obj, false)
	if err != nil {
		return err
	}
	if err := w.txn.Insert(table, obj); err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	if count != nil {
		if err := count(); err != nil {
			return err
		}
	}
	if after != nil {
		if err := after(); err != nil {
			return fmt.Errorf("service catalog: %w", err)
		}
	}
	return nil
}

func (w *writer) delete(table string, obj any) error {
	w.touch(table)
	w.record(table, obj, true) // events.go
	// The job summaries follow allocations here too (job_summary.go).
	count, err := w.jobSummaryHook(table, obj, true)
	if err != nil {
		return err
	}
	if err := w.txn.Delete(table, obj); err != nil {
		return fmt.Errorf("delete from %s: %w", table, err)
	}
	if count != nil {
		if err := count(); err != nil {
			return err
		}
	}
	return w.serviceDeleteHook(table, obj) // service.go
}

// read gives commands the transaction's current state, including their
// own earlier writes.
func (w *writer) read() *Snapshot { return &Snapshot{txn: w.txn} }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func notFound(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotFound, fmt.Sprintf(format, args...))
}

const defaultNamespace = "default"

func namespaceOr(ns string) string {
	if ns == "" {
		return defaultNamespace
	}
	return ns
}
