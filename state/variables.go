package state

import (
	"context"
	"strings"
	"time"

	"github.com/droverhq/drover/cluster"
	memdb "github.com/hashicorp/go-memdb"
)

// TableVariables holds variables (cluster.VariableEncrypted): only
// ciphertext, the ID of the root key that encrypted it and the nonce.
const TableVariables = "variables"

// VarOp is what a MsgVarApply does.
type VarOp string

// Variable operations (Nomad's names where it has them).
const (
	VarOpSet         VarOp = "set"
	VarOpDelete      VarOp = "delete"
	VarOpLockAcquire VarOp = "lock-acquire"
	VarOpLockRelease VarOp = "lock-release"
	// VarOpLockRenew extends a held lock by its TTL (Nomad's lock-renew).
	VarOpLockRenew VarOp = "lock-renew"
	// VarOpRekey replaces the ciphertext of variables re-encrypted with
	// the active key (rotate -full), each only if it is unchanged since
	// it was read; it keeps their ModifyIndex, so users' check-and-set
	// indexes stay valid across a rotation.
	VarOpRekey VarOp = "rekey"
)

// MaxRekeyBatch bounds the variables one rekey command carries.
const MaxRekeyBatch = 256

// VarApplyRequest is one variable write. CheckIndex, when set, is
// check-and-set: 0 means the variable must not exist, N that its
// ModifyIndex must be N. The check runs in the FSM, so two racing
// writers cannot both pass it.
type VarApplyRequest struct {
	Op         VarOp                        `json:"op"`
	Var        *cluster.VariableEncrypted   `json:"var,omitempty"`
	CheckIndex *uint64                      `json:"check_index,omitempty"`
	Rekey      []*cluster.VariableEncrypted `json:"rekey,omitempty"`
	Now        time.Time                    `json:"now"`
}

// VarApplyResult says how a write ended; a refused write changed
// nothing.
type VarApplyResult string

// Results.
const (
	VarResultOK VarApplyResult = "ok"
	// VarResultConflict: the check-and-set index did not match, or the
	// variable is locked by someone else. Conflict is the current
	// variable (nil if there is none).
	VarResultConflict VarApplyResult = "conflict"
)

// VarApplyResponse is the FSM's answer to a VarApplyRequest.
type VarApplyResponse struct {
	Result   VarApplyResult
	Reason   string
	Conflict *cluster.VariableEncrypted
	// Written is the variable as stored (nil after a delete).
	Written *cluster.VariableEncrypted
	// Rekeyed counts the variables a rekey replaced.
	Rekeyed int
}

// Validate checks what can be checked without the store. Errors never
// carry ciphertext or items.
func (r *VarApplyRequest) Validate() error {
	if r == nil {
		return invalid("no variable request")
	}
	if r.Op == VarOpRekey {
		if len(r.Rekey) == 0 || len(r.Rekey) > MaxRekeyBatch {
			return invalid("a rekey carries 1 to %d variables, not %d", MaxRekeyBatch, len(r.Rekey))
		}
		for _, v := range r.Rekey {
			if err := validateStoredVar(v); err != nil {
				return err
			}
		}
		return nil
	}
	if r.Var == nil {
		return invalid("no variable")
	}
	if err := cluster.ValidateVariablePath(r.Var.Path); err != nil {
		return invalid("%v", err)
	}
	switch r.Op {
	case VarOpSet, VarOpLockAcquire:
		return validateStoredVar(r.Var)
	case VarOpDelete, VarOpLockRelease, VarOpLockRenew:
		return nil
	}
	return invalid("unknown variable operation %q", r.Op)
}

func validateStoredVar(v *cluster.VariableEncrypted) error {
	switch {
	case v == nil || v.Namespace == "":
		return invalid("a variable needs a namespace")
	case cluster.ValidateVariablePath(v.Path) != nil:
		return invalid("%v", cluster.ValidateVariablePath(v.Path))
	case v.KeyID == "" || len(v.Nonce) != 12 || len(v.Data) < 16:
		return invalid("variable %s is not encrypted (key ID, 12-byte nonce and ciphertext are required)", v.Path)
	case len(v.Data) > cluster.MaxVariableSize*2+1024:
		return invalid("variable %s: ciphertext larger than any 64 KiB variable encrypts to", v.Path)
	}
	return nil
}

// varIndex keys variables by namespace and path. Its prefix lookup takes
// a namespace and a path prefix that need not end at a segment, so that
// GET /v1/vars?prefix=a/b walks only the matching keys.
type varIndex struct{}

func (varIndex) FromObject(raw any) (bool, []byte, error) {
	v, ok := raw.(*cluster.VariableEncrypted)
	if !ok {
		return false, nil, invalid("variable index: got %T", raw)
	}
	return true, []byte(v.Namespace + "\x00" + v.Path + "\x00"), nil
}

func (varIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 2 {
		return nil, invalid("variable index: want namespace and path")
	}
	return stringKey(args)
}

func (varIndex) PrefixFromArgs(args ...any) ([]byte, error) {
	if len(args) != 2 {
		return nil, invalid("variable index: want namespace and path prefix")
	}
	ns, _ := args[0].(string)
	p, _ := args[1].(string)
	return []byte(ns + "\x00" + p), nil
}

func variablesTable() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableVariables,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: varIndex{}},
			"key": {Name: "key", Indexer: keyIndex[*cluster.VariableEncrypted](1, func(v *cluster.VariableEncrypted) []string {
				return []string{v.KeyID}
			})},
			"lock": varLockIndexSchema(), // variables_lock.go
		},
	}
}

func (w *writer) varApply(req *VarApplyRequest) (any, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	snap := w.read()
	if req.Op == VarOpRekey {
		return w.varRekey(snap, req)
	}
	ns := req.Var.Namespace
	if ns == "" {
		return nil, invalid("a variable needs a namespace")
	}
	cur := snap.Variable(ns, req.Var.Path)
	conflict := func(reason string) (any, error) {
		return &VarApplyResponse{Result: VarResultConflict, Reason: reason, Conflict: cur.Copy()}, nil
	}
	if ci := req.CheckIndex; ci != nil {
		switch {
		case *ci == 0 && cur != nil:
			return conflict("the variable already exists")
		case *ci != 0 && cur == nil:
			return conflict("the variable does not exist")
		case *ci != 0 && cur.ModifyIndex != *ci:
			return conflict("the variable changed since the check index")
		}
	}
	// A held lock guards every change but by its holder.
	held := cur != nil && cur.Lock.Held(req.Now)
	reqLock := ""
	if req.Var.Lock != nil {
		reqLock = req.Var.Lock.ID
	}
	switch req.Op {
	case VarOpLockAcquire:
		if held {
			return conflict("the variable is already locked")
		}
		if reqLock == "" {
			return nil, invalid("lock-acquire needs a lock ID")
		}
	case VarOpSet, VarOpDelete, VarOpLockRelease, VarOpLockRenew:
		if (req.Op == VarOpLockRelease || req.Op == VarOpLockRenew) && !held {
			return conflict("the variable is not locked")
		}
		if held && reqLock != cur.Lock.ID {
			return conflict("the variable is locked; pass its lock ID")
		}
		if req.Op == VarOpLockRenew && cur.Lock.Expires != 0 && req.Now.UnixNano() >= cur.Lock.Expires {
			// Nomad's: once the TTL ran out the lock is lost, held only
			// through its delay until the reaper releases it
			// (variables_lock.go).
			return conflict("the lock's TTL ran out before this renewal; acquire it again")
		}
	}
	if req.Op == VarOpDelete {
		if cur == nil {
			return &VarApplyResponse{Result: VarResultOK}, nil
		}
		if err := w.delete(TableVariables, cur); err != nil {
			return nil, err
		}
		return &VarApplyResponse{Result: VarResultOK}, nil
	}
	var v *cluster.VariableEncrypted
	switch req.Op {
	case VarOpLockRelease:
		v = cur.Copy()
		v.Lock = nil
	case VarOpLockRenew:
		// Only the lease moves: the variable is unchanged, so its
		// ModifyIndex (users' check-and-set index) stays.
		v = cur.Copy()
		v.Lock.Expires = req.Now.Add(v.Lock.TTL).UnixNano()
		if err := w.insert(TableVariables, v); err != nil {
			return nil, err
		}
		return &VarApplyResponse{Result: VarResultOK, Written: v.Copy()}, nil
	default:
		if snap.RootKey(req.Var.KeyID) == nil {
			return nil, invalid("variable %s is encrypted with root key %s, which the keyring does not hold", req.Var.Path, req.Var.KeyID)
		}
		v = req.Var.Copy()
		switch {
		case req.Op == VarOpSet && held:
			v.Lock = cur.Lock // a write by the holder keeps the lock
		case req.Op == VarOpSet:
			v.Lock = nil // a lapsed lock goes with the write
		case req.Op == VarOpLockAcquire:
			v.Lock.Expires = req.Now.Add(v.Lock.TTL).UnixNano()
		}
	}
	v.Namespace = ns
	v.ModifyIndex, v.ModifyTime = w.index, req.Now.UnixNano()
	v.CreateIndex, v.CreateTime = w.index, req.Now.UnixNano()
	if cur != nil {
		v.CreateIndex, v.CreateTime = cur.CreateIndex, cur.CreateTime
	}
	if err := w.insert(TableVariables, v); err != nil {
		return nil, err
	}
	return &VarApplyResponse{Result: VarResultOK, Written: v.Copy()}, nil
}

// varRekey replaces each variable's ciphertext if it is still the
// version the leader read; one changed since is left for the next pass.
func (w *writer) varRekey(snap *Snapshot, req *VarApplyRequest) (any, error) {
	n := 0
	for _, nv := range req.Rekey {
		cur := snap.Variable(nv.Namespace, nv.Path)
		if cur == nil || cur.ModifyIndex != nv.ModifyIndex || cur.KeyID == nv.KeyID {
			continue
		}
		if snap.RootKey(nv.KeyID) == nil {
			return nil, invalid("rekey to root key %s, which the keyring does not hold", nv.KeyID)
		}
		v := cur.Copy()
		v.Data, v.KeyID, v.Nonce = append([]byte(nil), nv.Data...), nv.KeyID, append([]byte(nil), nv.Nonce...)
		if err := w.insert(TableVariables, v); err != nil {
			return nil, err
		}
		n++
	}
	return &VarApplyResponse{Result: VarResultOK, Rekeyed: n}, nil
}

// Variable returns one variable, or nil.
func (s *Snapshot) Variable(ns, path string) *cluster.VariableEncrypted {
	return first[*cluster.VariableEncrypted](s.txn.First(TableVariables, "id", ns, path))
}

// Variables returns the variables of namespace ns ("*" for all) whose
// path starts with prefix, in path order, at most limit (0: all).
func (s *Snapshot) Variables(ns, prefix string, limit int) []*cluster.VariableEncrypted {
	var it memdb.ResultIterator
	var err error
	if ns == "*" {
		it, err = s.txn.Get(TableVariables, "id")
	} else {
		it, err = s.txn.Get(TableVariables, "id_prefix", ns, prefix)
	}
	if err != nil {
		panic("state: query variables: " + err.Error())
	}
	var out []*cluster.VariableEncrypted
	for raw := it.Next(); raw != nil; raw = it.Next() {
		v := raw.(*cluster.VariableEncrypted)
		if !strings.HasPrefix(v.Path, prefix) {
			continue
		}
		out = append(out, v)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out
}

// VariablesByKey returns up to limit variables encrypted with root key
// id.
func (s *Snapshot) VariablesByKey(id string, limit int) []*cluster.VariableEncrypted {
	it, err := s.txn.Get(TableVariables, "key", id)
	if err != nil {
		panic("state: query variables: " + err.Error())
	}
	var out []*cluster.VariableEncrypted
	for raw := it.Next(); raw != nil && (limit <= 0 || len(out) < limit); raw = it.Next() {
		out = append(out, raw.(*cluster.VariableEncrypted))
	}
	return out
}

// VariableUsesKey reports whether any variable is encrypted with root
// key id.
func (s *Snapshot) VariableUsesKey(id string) bool {
	return len(s.VariablesByKey(id, 1)) > 0
}

// VarApply validates req and commits it through Raft.
func (r *Replicated) VarApply(ctx context.Context, req *VarApplyRequest) (uint64, *VarApplyResponse, error) {
	if err := req.Validate(); err != nil {
		return 0, nil, err
	}
	idx, resp, err := r.Apply(ctx, MsgVarApply, req)
	if err != nil {
		return idx, nil, err
	}
	out, _ := resp.(*VarApplyResponse)
	if out == nil {
		out = &VarApplyResponse{Result: VarResultOK}
	}
	return idx, out, nil
}
