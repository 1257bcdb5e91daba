package state

import (
	"fmt"
	"time"

	"github.com/droverhq/drover/cluster"
	memdb "github.com/hashicorp/go-memdb"
)

// TableAudit holds the newest API writes (cluster.AuditEntry) by Seq.
const TableAudit = "audit"

// DefaultAuditKeep is how many audit entries the FSM keeps when a
// request does not say.
const DefaultAuditKeep = 10000

// AuditAppendRequest appends a batch of audit entries, then trims the
// table to the newest Keep entries so that Raft state stays bounded.
type AuditAppendRequest struct {
	Entries []*cluster.AuditEntry `json:"entries"`
	// Keep bounds the table; 0 means DefaultAuditKeep.
	Keep int       `json:"keep,omitempty"`
	Now  time.Time `json:"now"`
}

// auditKey orders entries by Seq as strings.
func auditKey(seq uint64) string { return fmt.Sprintf("%020d", seq) }

func auditTable() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableAudit,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: keyIndex[*cluster.AuditEntry](1, func(e *cluster.AuditEntry) []string {
				return []string{auditKey(e.Seq)}
			})},
		},
	}
}

func (w *writer) auditAppend(req *AuditAppendRequest) (any, error) {
	if len(req.Entries) == 0 {
		return nil, invalid("no audit entries to store")
	}
	for _, e := range req.Entries {
		if e == nil || e.Route == "" {
			return nil, invalid("an audit entry needs a route")
		}
	}
	keep := req.Keep
	if keep <= 0 {
		keep = DefaultAuditKeep
	}
	var seq uint64
	if last := first[*cluster.AuditEntry](w.txn.Last(TableAudit, "id")); last != nil {
		seq = last.Seq
	}
	for _, e := range req.Entries {
		seq++
		cp := *e
		cp.Seq = seq
		if err := w.insert(TableAudit, &cp); err != nil {
			return nil, err
		}
	}
	// Trim the oldest: everything at or below seq-keep.
	for seq > uint64(keep) {
		old := first[*cluster.AuditEntry](w.txn.First(TableAudit, "id"))
		if old == nil || old.Seq > seq-uint64(keep) {
			break
		}
		if err := w.delete(TableAudit, old); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// AuditEntries returns the audit entries at or after since, oldest
// first.
func (s *Snapshot) AuditEntries(since time.Time) []*cluster.AuditEntry {
	var out []*cluster.AuditEntry
	for _, e := range list[*cluster.AuditEntry](s.txn.Get(TableAudit, "id")) {
		if !e.Time.Before(since) {
			out = append(out, e)
		}
	}
	return out
}
