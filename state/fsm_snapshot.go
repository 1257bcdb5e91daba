package state

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/droverhq/drover/cluster"
	"github.com/hashicorp/raft"
)

// A snapshot stream is a header, then one frame per record, then an end
// frame: kind byte, uvarint length, JSON body. The end frame carries the
// record count, so that a truncated stream fails to restore rather than
// restoring part of the state.
const snapshotMagic = "drover-state-v1\n"

type recordKind byte

const (
	kindEnd recordKind = iota
	kindJobVersion
	kindNode
	kindAlloc
	kindEval
	kindDeployment
	kindSyncStatus
	kindIndex
	kindMember
	kindACLPolicy
	kindACLToken
	kindAudit
	kindTLSKeyring
	kindJobHistory
	kindPeriodicLaunch
	// Reserved for issue 15's tables: node pools and the workload
	// identity keyring. Add the table to tableKinds with its kind.
	kindNodePool
	kindIdentityKey
	// Issue 16, reserved: variables, root keys, service registrations.
	kindVariable
	kindRootKey
	kindService
	kindSealKey // seal_key.go
)

var tableKinds = map[string]recordKind{
	TableJobVersions:    kindJobVersion,
	TableNodes:          kindNode,
	TableAllocs:         kindAlloc,
	TableEvals:          kindEval,
	TableDeployments:    kindDeployment,
	TableSyncStatus:     kindSyncStatus,
	tableIndex:          kindIndex,
	TableMembers:        kindMember,
	TableACLPolicies:    kindACLPolicy,
	TableACLTokens:      kindACLToken,
	TableAudit:          kindAudit,
	TableTLSKeyring:     kindTLSKeyring,
	TableJobHistory:     kindJobHistory,
	TablePeriodicLaunch: kindPeriodicLaunch,
	TableNodePools:      kindNodePool,
	TableIdentityKey:    kindIdentityKey,
	TableSealKey:        kindSealKey,
	TableVariables:      kindVariable,
	TableRootKeys:       kindRootKey,
	TableServices:       kindService,
}

// Snapshot captures the store for Raft. It is O(1): the memdb read
// transaction is an immutable view, and Persist streams it while Apply
// goes on.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	// Raft counts the corrupt entry applied: a snapshot now would claim
	// an index whose effects this store lacks, and compact away the log
	// that shows it.
	if err := f.HaltErr(); err != nil {
		return nil, err
	}
	return &fsmSnapshot{snap: f.store.Snapshot()}, nil
}

type fsmSnapshot struct {
	snap *Snapshot
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.snap.encode(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

// encode writes every table of the snapshot in the snapshot stream
// format. The latest-jobs table is not written: Restore derives it from
// the versions.
func (s *Snapshot) encode(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.WriteString(snapshotMagic); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	var n uint64
	var buf []byte
	for _, table := range append([]string{tableIndex}, dataTables...) {
		kind, ok := tableKinds[table]
		if !ok {
			continue
		}
		it, err := s.txn.Get(table, "id")
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", table, err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			body, err := json.Marshal(raw)
			if err != nil {
				return fmt.Errorf("snapshot %s: %w", table, err)
			}
			buf = appendFrame(buf[:0], kind, body)
			if _, err := bw.Write(buf); err != nil {
				return fmt.Errorf("write snapshot: %w", err)
			}
			n++
		}
	}
	end, _ := json.Marshal(n)
	if _, err := bw.Write(appendFrame(buf[:0], kindEnd, end)); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

func appendFrame(buf []byte, kind recordKind, body []byte) []byte {
	buf = append(buf, byte(kind))
	buf = binary.AppendUvarint(buf, uint64(len(body)))
	return append(buf, body...)
}

// Restore replaces the store's contents with a snapshot stream. The new
// state is built aside and swapped in at once: readers see either the old
// state or the new one, and blocking queries on the old one wake up.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.HaltErr(); err != nil {
		return err
	}
	g, err := readSnapshot(rc)
	if err != nil {
		f.logger.Error("restore snapshot", "err", err)
		return err
	}
	f.store.replace(g)
	f.applied.Store(f.store.Snapshot().Index())
	f.eventsRestored() // events.go
	return nil
}

func readSnapshot(r io.Reader) (*generation, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != snapshotMagic {
		return nil, fmt.Errorf("restore: not a drover state snapshot")
	}
	g := newGeneration()
	txn := g.db.Txn(true)
	defer txn.Abort()

	var n uint64
	var body []byte
	for {
		kb, err := br.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("restore: truncated after %d records: %w", n, err)
		}
		size, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, fmt.Errorf("restore: truncated after %d records: %w", n, err)
		}
		if size > 1<<30 {
			return nil, fmt.Errorf("restore: record %d claims %d bytes", n, size)
		}
		body = growTo(body, int(size))
		if _, err := io.ReadFull(br, body); err != nil {
			return nil, fmt.Errorf("restore: truncated after %d records: %w", n, err)
		}
		kind := recordKind(kb)
		if kind == kindEnd {
			var want uint64
			if err := json.Unmarshal(body, &want); err != nil || want != n {
				return nil, fmt.Errorf("restore: stream has %d records, its end says %s", n, body)
			}
			break
		}
		table, obj, err := decodeRecord(kind, body)
		if err != nil {
			return nil, fmt.Errorf("restore: record %d: %w", n, err)
		}
		if err := txn.Insert(table, obj); err != nil {
			return nil, fmt.Errorf("restore: record %d: %w", n, err)
		}
		n++
	}

	// Versions come in key order, so the last of each job is its latest.
	it, err := txn.Get(TableJobVersions, "id")
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if err := txn.Insert(TableJobs, raw); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
	}
	// Snapshots carry no job summaries: they follow from the allocations.
	if err := rebuildJobSummaries(txn); err != nil { // job_summary.go
		return nil, fmt.Errorf("restore: %w", err)
	}
	txn.Commit()
	return g, nil
}

func growTo(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

func decodeRecord(kind recordKind, body []byte) (string, any, error) {
	var (
		table string
		obj   any
	)
	switch kind {
	case kindJobVersion:
		table, obj = TableJobVersions, new(cluster.Job)
	case kindNode:
		table, obj = TableNodes, new(cluster.Node)
	case kindAlloc:
		table, obj = TableAllocs, new(cluster.Allocation)
	case kindEval:
		table, obj = TableEvals, new(cluster.Evaluation)
	case kindDeployment:
		table, obj = TableDeployments, new(cluster.Deployment)
	case kindSyncStatus:
		table, obj = TableSyncStatus, new(cluster.SyncStatus)
	case kindIndex:
		table, obj = tableIndex, new(indexEntry)
	case kindMember:
		table, obj = TableMembers, new(Member)
	case kindACLPolicy:
		table, obj = TableACLPolicies, new(cluster.ACLPolicy)
	case kindACLToken:
		table, obj = TableACLTokens, new(cluster.ACLToken)
	case kindAudit:
		table, obj = TableAudit, new(cluster.AuditEntry)
	case kindTLSKeyring:
		table, obj = TableTLSKeyring, new(cluster.TLSKeyring)
	case kindJobHistory:
		table, obj = TableJobHistory, new(cluster.JobVersionSummary)
	case kindPeriodicLaunch:
		table, obj = TablePeriodicLaunch, new(PeriodicLaunch)
	case kindNodePool:
		table, obj = TableNodePools, new(cluster.NodePool)
	case kindIdentityKey:
		table, obj = TableIdentityKey, new(cluster.IdentityKeyring)
	case kindSealKey:
		table, obj = TableSealKey, new(cluster.SealKeyring)
	case kindVariable:
		table, obj = TableVariables, new(cluster.VariableEncrypted)
	case kindRootKey:
		table, obj = TableRootKeys, new(cluster.RootKey)
	case kindService:
		table, obj = TableServices, new(cluster.ServiceRegistration)
	default:
		return "", nil, errors.New("unknown record kind " + fmt.Sprint(kind))
	}
	if err := json.Unmarshal(body, obj); err != nil {
		return "", nil, fmt.Errorf("decode %s: %w", table, err)
	}
	return table, obj, nil
}
