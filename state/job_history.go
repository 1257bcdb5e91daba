package state

import (
	"encoding/binary"
	"fmt"

	"github.com/droverhq/drover/cluster"
	memdb "github.com/hashicorp/go-memdb"
)

// TableJobHistory holds a cluster.JobVersionSummary of every job version
// garbage collection removed (gc.go), so that `drover history` still
// lists the commit of each. Summaries outlive their job: a stopped job
// purged by GC keeps them too.
const TableJobHistory = "job_history"

// Bounds of the job history, so that Raft state stays bounded however
// many versions are written and collected: the newest summaries of each
// job, and the newest of all jobs together (a cluster that creates and
// purges jobs under ever new IDs). A summary is a few hundred bytes.
const (
	DefaultJobHistoryPerJob = 1000
	DefaultJobHistoryTotal  = 50000
)

func jobHistoryTable() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableJobHistory,
		Indexes: map[string]*memdb.IndexSchema{
			// id is namespace, job ID, then the job modify index
			// big-endian: a prefix scan walks one job's summaries
			// oldest first.
			"id": {Name: "id", Unique: true, Indexer: historyIndex{}},
			// order is the job modify index alone: oldest first across
			// jobs, for the total bound.
			"order": {Name: "order", Unique: true, Indexer: historyOrderIndex{}},
		},
	}
}

// putJobHistory stores summaries of collected versions, then trims the
// table to its bounds, oldest first.
func (w *writer) putJobHistory(sums []*cluster.JobVersionSummary, perJob, total int) error {
	if len(sums) == 0 {
		return nil
	}
	if perJob <= 0 {
		perJob = DefaultJobHistoryPerJob
	}
	if total <= 0 {
		total = DefaultJobHistoryTotal
	}
	type jobKey struct{ ns, id string }
	jobs := map[jobKey]bool{}
	for _, s := range sums {
		if err := w.insert(TableJobHistory, s); err != nil {
			return err
		}
		jobs[jobKey{s.Namespace, s.ID}] = true
	}
	r := w.read()
	for k := range jobs {
		hs := r.JobHistory(k.ns, k.id)
		for _, old := range hs[:max(len(hs)-perJob, 0)] {
			if err := w.delete(TableJobHistory, old); err != nil {
				return err
			}
		}
	}
	it, err := w.txn.Get(TableJobHistory, "order")
	if err != nil {
		return fmt.Errorf("job history: %w", err)
	}
	n := 0
	for raw := it.Next(); raw != nil; raw = it.Next() {
		n++
	}
	for ; n > total; n-- {
		old := first[*cluster.JobVersionSummary](w.txn.First(TableJobHistory, "order"))
		if old == nil {
			break
		}
		if err := w.delete(TableJobHistory, old); err != nil {
			return err
		}
	}
	return nil
}

// JobHistory returns the summaries of a job's collected versions, oldest
// first (by the index they were registered at).
func (s *Snapshot) JobHistory(namespace, id string) []*cluster.JobVersionSummary {
	return list[*cluster.JobVersionSummary](s.txn.Get(TableJobHistory, "id_prefix", namespace, id))
}

// historyIndex keys summaries by namespace, job ID and job modify index.
type historyIndex struct{}

func (historyIndex) FromObject(raw any) (bool, []byte, error) {
	s, ok := raw.(*cluster.JobVersionSummary)
	if !ok {
		return false, nil, fmt.Errorf("history index: got %T", raw)
	}
	key, _ := stringKey([]any{s.Namespace, s.ID})
	return true, binary.BigEndian.AppendUint64(key, s.JobModifyIndex), nil
}

func (historyIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("history index: want 3 arguments, got %d", len(args))
	}
	key, err := stringKey(args[:2])
	if err != nil {
		return nil, err
	}
	v, ok := args[2].(uint64)
	if !ok {
		return nil, fmt.Errorf("history index: job modify index is %T, not uint64", args[2])
	}
	return binary.BigEndian.AppendUint64(key, v), nil
}

func (historyIndex) PrefixFromArgs(args ...any) ([]byte, error) {
	if len(args) > 2 {
		return nil, fmt.Errorf("history index: prefix takes namespace and job ID")
	}
	return stringKey(args)
}

// historyOrderIndex keys summaries by job modify index, then namespace
// and job ID (unique even for records restored from a store where two
// jobs shared an index).
type historyOrderIndex struct{}

func (historyOrderIndex) FromObject(raw any) (bool, []byte, error) {
	s, ok := raw.(*cluster.JobVersionSummary)
	if !ok {
		return false, nil, fmt.Errorf("history order index: got %T", raw)
	}
	key := binary.BigEndian.AppendUint64(nil, s.JobModifyIndex)
	rest, _ := stringKey([]any{s.Namespace, s.ID})
	return true, append(key, rest...), nil
}

func (historyOrderIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 0 {
		return nil, fmt.Errorf("history order index: takes no arguments")
	}
	return nil, nil
}
