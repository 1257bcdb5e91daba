package state

import (
	"context"
	"strings"
	"time"

	"github.com/droverhq/drover/cluster"
	memdb "github.com/hashicorp/go-memdb"
)

// TableSealKey holds the age keyring that opens sealed variable files
// (cluster.SealKeyring): at most one record, its identities sealed.
const TableSealKey = "seal_key"

const sealKeyringKey = "keyring"

// MaxSealKeys bounds the keys a seal keyring keeps: the one new seals
// encrypt to and those still opening files sealed before a rotation.
const MaxSealKeys = 16

// sealedAgeIdentitySize is a sealed age X25519 identity (pki.Seal of
// its 74-character "AGE-SECRET-KEY-1..." form): version byte, nonce,
// the identity, GCM tag. An identity in the clear is 74 bytes, so the
// check refuses it.
const sealedAgeIdentitySize = 1 + 12 + 74 + 16

// SealKeySetRequest creates (CASIndex 0) or replaces (CASIndex = the
// stored keyring's ModifyIndex) the seal keyring. A refused request
// changes nothing.
type SealKeySetRequest struct {
	Keyring  *cluster.SealKeyring `json:"keyring"`
	CASIndex uint64               `json:"cas_index"`
	Now      time.Time            `json:"now"`
}

// Validate checks what can be checked without the stored keyring; the
// FSM checks it again.
func (r *SealKeySetRequest) Validate() error {
	if r == nil || r.Keyring == nil || len(r.Keyring.Keys) == 0 {
		return invalid("no seal keyring to store")
	}
	if len(r.Keyring.Keys) > MaxSealKeys {
		return invalid("a seal keyring holds at most %d keys, not %d: remove old keys first", MaxSealKeys, len(r.Keyring.Keys))
	}
	seen := map[string]bool{}
	for _, k := range r.Keyring.Keys {
		switch {
		case !strings.HasPrefix(k.Recipient, "age1") || len(k.Recipient) > 128 || seen[k.Recipient]:
			return invalid("seal key recipient %q is not an age recipient, or is repeated", k.Recipient)
		case len(k.SealedIdentity) != sealedAgeIdentitySize:
			return invalid("seal key %s: the identity is not sealed", k.Fingerprint())
		}
		seen[k.Recipient] = true
	}
	return nil
}

func sealKeyTable() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableSealKey,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: keyIndex[*cluster.SealKeyring](1, func(*cluster.SealKeyring) []string {
				return []string{sealKeyringKey}
			})},
		},
	}
}

func (w *writer) sealKeySet(req *SealKeySetRequest) (any, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	prev := w.read().SealKeyring()
	switch {
	case req.CASIndex == 0 && prev != nil:
		return nil, casConflict("the seal keyring already exists (modify index %d)", prev.ModifyIndex)
	case req.CASIndex != 0 && (prev == nil || prev.ModifyIndex != req.CASIndex):
		return nil, casConflict("the seal keyring is not at modify index %d", req.CASIndex)
	}
	k := req.Keyring.Copy()
	k.CreateIndex, k.ModifyIndex = w.index, w.index
	if prev != nil {
		k.CreateIndex = prev.CreateIndex
	}
	return nil, w.insert(TableSealKey, k)
}

// SealKeyring returns the age keyring of sealed variable files, or nil.
func (s *Snapshot) SealKeyring() *cluster.SealKeyring {
	return first[*cluster.SealKeyring](s.txn.First(TableSealKey, "id", sealKeyringKey))
}

// SealKeySet validates req and commits it through Raft, returning the
// keyring's new ModifyIndex.
func (r *Replicated) SealKeySet(ctx context.Context, req *SealKeySetRequest) (uint64, error) {
	if err := req.Validate(); err != nil {
		return 0, err
	}
	idx, _, err := r.Apply(ctx, MsgSealApply, &SealApplyRequest{Keyring: req})
	return idx, err
}

// SealApplyRequest is MsgSealApply's body: exactly one of its fields.
// One message type carries both because both are sealed secrets' and
// the message space is shared by every feature.
type SealApplyRequest struct {
	Keyring *SealKeySetRequest `json:"keyring,omitempty"`
	Vars    *SealedVarsRequest `json:"vars,omitempty"`
}

// SealedVarsRequest writes and deletes the variables of one commit's
// sealed files in one index: all of them or, if any is refused (a lock
// held by someone, an unknown root key), none. The variables are
// already encrypted with the root keyring (the leader decrypted the
// sealed files and encrypted the items as any variable write does), so
// the log holds no plaintext.
type SealedVarsRequest struct {
	// Source and Commit say where the variables came from, for errors.
	Source string `json:"source"`
	Commit string `json:"commit"`
	// Set are variables to write, Delete namespace/path pairs (in
	// Var.Namespace, Var.Path) to remove: sealed files deleted from the
	// repository of a source whose prune is on.
	Set    []*cluster.VariableEncrypted `json:"set,omitempty"`
	Delete []*cluster.VariableEncrypted `json:"delete,omitempty"`
	Now    time.Time                    `json:"now"`
}

// MaxSealedVarsBatch bounds the variables of one commit's sealed files.
const MaxSealedVarsBatch = 1024

// Validate checks what can be checked without the store.
func (r *SealApplyRequest) Validate() error {
	switch {
	case r == nil || (r.Keyring == nil) == (r.Vars == nil):
		return invalid("a seal request sets the keyring or writes variables, one of the two")
	case r.Keyring != nil:
		return r.Keyring.Validate()
	}
	v := r.Vars
	if len(v.Set)+len(v.Delete) == 0 || len(v.Set)+len(v.Delete) > MaxSealedVarsBatch {
		return invalid("a commit writes 1 to %d sealed variables, not %d", MaxSealedVarsBatch, len(v.Set)+len(v.Delete))
	}
	for _, sv := range v.Set {
		if err := (&VarApplyRequest{Op: VarOpSet, Var: sv, Now: v.Now}).Validate(); err != nil {
			return err
		}
	}
	for _, dv := range v.Delete {
		if err := (&VarApplyRequest{Op: VarOpDelete, Var: dv, Now: v.Now}).Validate(); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) sealApply(req *SealApplyRequest) (any, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if req.Keyring != nil {
		return w.sealKeySet(req.Keyring)
	}
	v := req.Vars
	one := func(op VarOp, sv *cluster.VariableEncrypted) error {
		resp, err := w.varApply(&VarApplyRequest{Op: op, Var: sv, Now: v.Now})
		if err != nil {
			return err
		}
		if r, _ := resp.(*VarApplyResponse); r != nil && r.Result == VarResultConflict {
			// An error after a write aborts the whole command.
			return casConflict("sealed variable %s/%s of %s at %s: %s", sv.Namespace, sv.Path, v.Source, v.Commit, r.Reason)
		}
		return nil
	}
	for _, sv := range v.Set {
		if err := one(VarOpSet, sv); err != nil {
			return nil, err
		}
	}
	for _, dv := range v.Delete {
		if err := one(VarOpDelete, dv); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// SealedVarsApply commits one commit's sealed variables through Raft.
func (r *Replicated) SealedVarsApply(ctx context.Context, req *SealedVarsRequest) (uint64, error) {
	body := &SealApplyRequest{Vars: req}
	if err := body.Validate(); err != nil {
		return 0, err
	}
	idx, _, err := r.Apply(ctx, MsgSealApply, body)
	return idx, err
}
