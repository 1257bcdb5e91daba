package state

import (
	"context"
	"time"

	"github.com/droverhq/drover/cluster"
	memdb "github.com/hashicorp/go-memdb"
)

// TableTLSKeyring holds the cluster's TLS keyring (cluster.TLSKeyring): at
// most one record. Its secret parts arrive sealed; the store never sees
// them in the clear.
const TableTLSKeyring = "tls_keyring"

// tlsKeyringKey is the key of the one keyring record.
const tlsKeyringKey = "keyring"

// TLSKeyringSetRequest creates or rotates the cluster's TLS keyring.
//
// With CASIndex 0 it creates the keyring, and fails with ErrCASConflict
// if one exists. With CASIndex N it replaces the keyring only if the
// stored one's ModifyIndex is N (a rotation), and fails with
// ErrCASConflict otherwise. The CA certificate cannot change once set: a
// rotation that carries a different one fails with ErrInvalid. A refused
// request changes nothing.
type TLSKeyringSetRequest struct {
	Keyring  *cluster.TLSKeyring `json:"keyring"`
	CASIndex uint64              `json:"cas_index"`
	Now      time.Time           `json:"now"`
}

// Validate checks what can be checked without the stored keyring. The FSM
// checks it again, since a log entry may come from another server.
func (r *TLSKeyringSetRequest) Validate() error {
	switch {
	case r == nil || r.Keyring == nil:
		return invalid("no TLS keyring to store")
	case r.Keyring.CACert == "":
		return invalid("a TLS keyring needs a CA certificate")
	case len(r.Keyring.SealedCAKey) == 0:
		return invalid("a TLS keyring needs a sealed CA key")
	}
	return nil
}

func tlsKeyringTable() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableTLSKeyring,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: keyIndex[*cluster.TLSKeyring](1, func(*cluster.TLSKeyring) []string {
				return []string{tlsKeyringKey}
			})},
		},
	}
}

func (w *writer) tlsKeyringSet(req *TLSKeyringSetRequest) (any, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	prev := w.read().TLSKeyring()
	switch {
	case req.CASIndex == 0 && prev != nil:
		return nil, casConflict("the cluster TLS keyring already exists (modify index %d)", prev.ModifyIndex)
	case req.CASIndex != 0 && prev == nil:
		return nil, casConflict("no cluster TLS keyring to rotate (check index %d)", req.CASIndex)
	case req.CASIndex != 0 && prev.ModifyIndex != req.CASIndex:
		return nil, casConflict("cluster TLS keyring is at modify index %d, not %d", prev.ModifyIndex, req.CASIndex)
	case prev != nil && prev.CACert != req.Keyring.CACert:
		return nil, invalid("the cluster CA cannot be replaced")
	}
	k := req.Keyring.Copy()
	if prev != nil {
		k.CreateIndex = prev.CreateIndex
	} else {
		k.CreateIndex = w.index
	}
	k.ModifyIndex = w.index
	return nil, w.insert(TableTLSKeyring, k)
}

// TLSKeyring returns the cluster's TLS keyring, or nil when none was
// stored.
func (s *Snapshot) TLSKeyring() *cluster.TLSKeyring {
	return first[*cluster.TLSKeyring](s.txn.First(TableTLSKeyring, "id", tlsKeyringKey))
}

// TLSKeyringSet validates req and commits it through Raft. It returns the
// index the keyring was stored at, which is its new ModifyIndex and the
// CASIndex of the next rotation. Errors are those of Apply: ErrNotLeader
// on a follower, ErrCASConflict when the keyring exists (CASIndex 0) or
// has moved on (CASIndex N), ErrInvalid for a malformed request or a
// different CA certificate.
func (r *Replicated) TLSKeyringSet(ctx context.Context, req *TLSKeyringSetRequest) (uint64, error) {
	if err := req.Validate(); err != nil {
		return 0, err
	}
	idx, _, err := r.Apply(ctx, MsgTLSKeyringSet, req)
	if err != nil {
		return 0, err
	}
	return idx, nil
}
