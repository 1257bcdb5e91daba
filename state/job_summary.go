package state

import (
	"fmt"
	"maps"

	"github.com/droverhq/drover/cluster"
	memdb "github.com/hashicorp/go-memdb"
)

// TableJobSummary holds one JobSummary per job that has allocations: the
// job list's per-group counts, kept by the FSM as Nomad's job_summary
// table is, so that listing jobs costs the same whatever their
// allocations number (summing them on each request cost 50–100 ms per
// 100,000).
//
// The table is derived: writer.insert and writer.delete keep it in the
// same transaction as every allocation write, and a restore rebuilds it
// from the allocations. It is in neither dataTables nor the index table,
// so snapshots never carry it and their format is what it was.
const TableJobSummary = "job_summary"

// JobSummary counts one job's allocations.
type JobSummary struct {
	Namespace string
	JobID     string
	// Summary maps task group → client status → allocations, holding
	// only counts above zero: exactly what the job list shows. It is
	// keyed by the status string rather than Nomad's fixed fields
	// (Starting, Running, …) so that every status an allocation carries
	// is counted as it is.
	Summary map[string]TaskGroupSummary
	// Allocs counts the job's allocations; NonTerminal those neither
	// stopped by the servers nor finished on their node
	// (cluster.Allocation.Terminal), which the job's status derives from.
	Allocs      int
	NonTerminal int
}

// TaskGroupSummary maps client status → allocations of one task group.
type TaskGroupSummary map[string]int

func jobSummaryTable() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableJobSummary,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: keyIndex[*JobSummary](2, func(s *JobSummary) []string {
				return []string{s.Namespace, s.JobID}
			})},
		},
	}
}

// JobSummary returns the counts of a job's allocations, nil when it has
// none. It is shared with the store: callers must not change it.
func (s *Snapshot) JobSummary(namespace, jobID string) *JobSummary {
	return first[*JobSummary](s.txn.First(TableJobSummary, "id", namespace, jobID))
}

// JobSummaries returns every job's summary, by namespace and job ID.
func (s *Snapshot) JobSummaries() []*JobSummary {
	return list[*JobSummary](s.txn.Get(TableJobSummary, "id"))
}

// add counts a in (n = 1) or out (n = -1).
func (s *JobSummary) add(a *cluster.Allocation, n int) {
	s.Allocs += n
	if !a.Terminal() {
		s.NonTerminal += n
	}
	g := s.Summary[a.TaskGroup]
	if g == nil {
		g = TaskGroupSummary{}
		s.Summary[a.TaskGroup] = g
	}
	g[a.ClientStatus] += n
	if g[a.ClientStatus] == 0 {
		delete(g, a.ClientStatus)
		if len(g) == 0 {
			delete(s.Summary, a.TaskGroup)
		}
	}
}

// summaryKey names a job in writer.summaries.
type summaryKey struct{ namespace, jobID string }

// jobSummaryHook is called by writer.insert and writer.delete before they
// write obj into (or delete it from) table; the function it returns runs
// after the write and moves the allocation's count from where the stored
// version had it to where obj has it. It returns nil for other tables.
func (w *writer) jobSummaryHook(table string, obj any, deleted bool) (func() error, error) {
	if table != TableAllocs {
		return nil, nil
	}
	a, ok := obj.(*cluster.Allocation)
	if !ok {
		return nil, nil
	}
	raw, err := w.txn.First(TableAllocs, "id", a.ID)
	if err != nil {
		return nil, fmt.Errorf("job summary: read allocation %s: %w", a.ID, err)
	}
	prev, _ := raw.(*cluster.Allocation)
	if deleted {
		if prev == nil {
			return nil, nil // memdb refuses the delete itself
		}
		return func() error { return w.countAlloc(prev, -1) }, nil
	}
	if prev != nil && sameCount(prev, a) {
		return nil, nil // most agent updates: task states, checks
	}
	return func() error {
		if prev != nil {
			if err := w.countAlloc(prev, -1); err != nil {
				return err
			}
		}
		return w.countAlloc(a, 1)
	}, nil
}

// sameCount reports whether a and b are counted in the same place.
func sameCount(a, b *cluster.Allocation) bool {
	return a.Namespace == b.Namespace && a.JobID == b.JobID && a.TaskGroup == b.TaskGroup &&
		a.ClientStatus == b.ClientStatus && a.Terminal() == b.Terminal()
}

// countAlloc adds n (1 or -1) of a to its job's summary. The first
// change to a job's summary in a transaction writes a copy, which later
// changes in the same transaction update in place: nobody outside it sees
// the copy before the commit, and a plan chunk of thousands of
// allocations then costs one insert per job rather than one per
// allocation. A summary that counts nothing any more is deleted.
func (w *writer) countAlloc(a *cluster.Allocation, n int) error {
	k := summaryKey{a.Namespace, a.JobID}
	s := w.summaries[k]
	if s == nil {
		raw, err := w.txn.First(TableJobSummary, "id", a.Namespace, a.JobID)
		if err != nil {
			return fmt.Errorf("job summary %s/%s: %w", a.Namespace, a.JobID, err)
		}
		s = &JobSummary{Namespace: a.Namespace, JobID: a.JobID, Summary: map[string]TaskGroupSummary{}}
		if old, ok := raw.(*JobSummary); ok {
			s.Allocs, s.NonTerminal = old.Allocs, old.NonTerminal
			for g, c := range old.Summary {
				s.Summary[g] = maps.Clone(c)
			}
		}
		if err := w.txn.Insert(TableJobSummary, s); err != nil {
			return fmt.Errorf("job summary %s/%s: %w", a.Namespace, a.JobID, err)
		}
		if w.summaries == nil {
			w.summaries = map[summaryKey]*JobSummary{}
		}
		w.summaries[k] = s
	}
	s.add(a, n)
	if s.Allocs < 0 || s.NonTerminal < 0 {
		// Only a bug gets here; the command fails and its transaction is
		// thrown away rather than storing a negative count.
		return fmt.Errorf("job summary %s/%s: counts went negative (%d allocations, %d not terminal)",
			a.Namespace, a.JobID, s.Allocs, s.NonTerminal)
	}
	if s.Allocs == 0 {
		delete(w.summaries, k)
		if err := w.txn.Delete(TableJobSummary, s); err != nil {
			return fmt.Errorf("job summary %s/%s: %w", a.Namespace, a.JobID, err)
		}
	}
	return nil
}

// rebuildJobSummaries fills the job summary table of a restored
// generation from its allocations, which is all a snapshot carries.
func rebuildJobSummaries(txn *memdb.Txn) error {
	it, err := txn.Get(TableAllocs, "id")
	if err != nil {
		return fmt.Errorf("job summaries: %w", err)
	}
	sums := map[summaryKey]*JobSummary{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		a := raw.(*cluster.Allocation)
		k := summaryKey{a.Namespace, a.JobID}
		s := sums[k]
		if s == nil {
			s = &JobSummary{Namespace: a.Namespace, JobID: a.JobID, Summary: map[string]TaskGroupSummary{}}
			sums[k] = s
		}
		s.add(a, 1)
	}
	for _, s := range sums {
		if err := txn.Insert(TableJobSummary, s); err != nil {
			return fmt.Errorf("job summaries: %w", err)
		}
	}
	return nil
}
