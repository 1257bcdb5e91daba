package state

import (
	"encoding/binary"
	"time"

	"github.com/droverhq/drover/cluster"
	memdb "github.com/hashicorp/go-memdb"
)

// Variable lock expiry (Nomad's lock TTL timer and lock delay). A lock
// whose holder stops renewing it lapses at Expires: from then on its
// holder can no longer renew it (varApply refuses), and nobody else may
// acquire it until Expires + LockDelay. Then the leader's reaper
// (server/variables_lock_reaper.go) releases it with MsgVarLockExpire.
// Everything it needs is stored (Expires is the leader's clock at the
// last acquire or renew, plus the TTL), so a new leader reaps what the
// old one left.

// MaxLockExpireBatch bounds the locks one MsgVarLockExpire releases.
const MaxLockExpireBatch = 256

// VarLockExpiry names one lock to release: the holder's lock ID guards
// against releasing a lock that was renewed or taken again since the
// leader looked.
type VarLockExpiry struct {
	Namespace string `json:"namespace"`
	Path      string `json:"path"`
	LockID    string `json:"lock_id"`
}

// VarLockExpireRequest releases locks whose TTL and delay ran out by
// Now, the leader's clock.
type VarLockExpireRequest struct {
	Locks []VarLockExpiry `json:"locks"`
	Now   time.Time       `json:"now"`
}

// VarLockExpireResponse says how many locks were released; a lock that
// was renewed or released since is left alone and not counted.
type VarLockExpireResponse struct {
	Released int `json:"released"`
}

// LockDeadline is when a lock may be released: Expires + LockDelay,
// Unix nanoseconds. A lock without an expiry never lapses.
func LockDeadline(l *cluster.VariableLock) (int64, bool) {
	if l == nil || l.ID == "" || l.Expires == 0 {
		return 0, false
	}
	return l.Expires + int64(l.LockDelay), true
}

// varLockIndex indexes the locked variables by their lock's deadline, so
// that the reaper reads only the locks due, soonest first. Variables
// without a lock are not in it.
type varLockIndex struct{}

func (varLockIndex) FromObject(raw any) (bool, []byte, error) {
	v, ok := raw.(*cluster.VariableEncrypted)
	if !ok {
		return false, nil, invalid("variable lock index: got %T", raw)
	}
	at, ok := LockDeadline(v.Lock)
	if !ok {
		return false, nil, nil
	}
	return true, binary.BigEndian.AppendUint64(nil, uint64(max(at, 0))), nil
}

func (varLockIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, invalid("variable lock index: want a deadline")
	}
	at, ok := args[0].(int64)
	if !ok {
		return nil, invalid("variable lock index: want an int64 deadline, got %T", args[0])
	}
	return binary.BigEndian.AppendUint64(nil, uint64(max(at, 0))), nil
}

// varLockIndexSchema is the variables table's "lock" index.
func varLockIndexSchema() *memdb.IndexSchema {
	return &memdb.IndexSchema{Name: "lock", AllowMissing: true, Indexer: varLockIndex{}}
}

// LocksDue returns up to limit locked variables whose deadline is at or
// before now, soonest first, and the deadline of the next lock not yet
// due (zero when there is none).
func (s *Snapshot) LocksDue(now time.Time, limit int) (due []*cluster.VariableEncrypted, next time.Time) {
	it, err := s.txn.Get(TableVariables, "lock")
	if err != nil {
		panic("state: query variable locks: " + err.Error())
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		v := raw.(*cluster.VariableEncrypted)
		at, _ := LockDeadline(v.Lock)
		if at > now.UnixNano() {
			return due, time.Unix(0, at)
		}
		if len(due) >= limit {
			// More are due: the caller comes back at once.
			return due, now
		}
		due = append(due, v)
	}
	return due, time.Time{}
}

func (w *writer) varLockExpire(req *VarLockExpireRequest) (any, error) {
	if len(req.Locks) == 0 || len(req.Locks) > MaxLockExpireBatch {
		return nil, invalid("a lock expiry carries 1 to %d locks, not %d", MaxLockExpireBatch, len(req.Locks))
	}
	r := w.read()
	n := 0
	for _, l := range req.Locks {
		cur := r.Variable(l.Namespace, l.Path)
		// Held checks the deadline by the entry's clock, the same on
		// every replica: a lock renewed since the leader looked is kept.
		if cur == nil || cur.Lock == nil || cur.Lock.ID != l.LockID || cur.Lock.Held(req.Now) {
			continue
		}
		v := cur.Copy()
		v.Lock = nil
		// As a release by the holder: the variable changed.
		v.ModifyIndex, v.ModifyTime = w.index, req.Now.UnixNano()
		if err := w.insert(TableVariables, v); err != nil {
			return nil, err
		}
		n++
	}
	return &VarLockExpireResponse{Released: n}, nil
}
