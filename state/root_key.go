package state

import (
	"context"
	"time"

	"github.com/droverhq/drover/cluster"
	memdb "github.com/hashicorp/go-memdb"
)

// TableRootKeys holds the root keyring that encrypts variables
// (cluster.RootKey): each key sealed with the servers' KEK.
const TableRootKeys = "root_keys"

// MaxRootKeys bounds the keys kept: the active one and those that still
// decrypt variables written before a rotation.
const MaxRootKeys = 32

// sealedRootKeySize is a sealed 256-bit key (pki.Seal): version byte,
// nonce, key, GCM tag. A key in the clear (32 bytes) is refused.
const sealedRootKeySize = 1 + 12 + 32 + 16

// RootKeyUpsertRequest writes root keys and deletes others in one
// index. After it at most one key is active, and a deleted key must
// encrypt no variable; a request that breaks either changes nothing.
type RootKeyUpsertRequest struct {
	Keys   []*cluster.RootKey `json:"keys,omitempty"`
	Delete []string           `json:"delete,omitempty"`
	Now    time.Time          `json:"now"`
}

// Validate checks what can be checked without the store.
func (r *RootKeyUpsertRequest) Validate() error {
	if r == nil || len(r.Keys)+len(r.Delete) == 0 {
		return invalid("no root key to write or delete")
	}
	if len(r.Keys) > MaxRootKeys || len(r.Delete) > MaxRootKeys {
		return invalid("too many root keys in one request")
	}
	for _, k := range r.Keys {
		switch {
		case k == nil || k.KeyID == "" || len(k.KeyID) > 64:
			return invalid("root key ID is empty or too long")
		case k.Algorithm != cluster.RootKeyAlgorithm:
			return invalid("root key %s: algorithm %q is not %s", k.KeyID, k.Algorithm, cluster.RootKeyAlgorithm)
		case k.State != cluster.RootKeyActive && k.State != cluster.RootKeyInactive && k.State != cluster.RootKeyRekeying:
			return invalid("root key %s: state %q is not active, inactive or rekeying", k.KeyID, k.State)
		case len(k.SealedKey) != sealedRootKeySize:
			return invalid("root key %s: the key is not sealed", k.KeyID)
		}
	}
	return nil
}

func rootKeysTable() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableRootKeys,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: keyIndex[*cluster.RootKey](1, func(k *cluster.RootKey) []string {
				return []string{k.KeyID}
			})},
		},
	}
}

func (w *writer) rootKeyUpsert(req *RootKeyUpsertRequest) (any, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	snap := w.read()
	for _, id := range req.Delete {
		k := snap.RootKey(id)
		if k == nil {
			continue
		}
		if snap.VariableUsesKey(id) {
			return nil, invalid("root key %s still encrypts variables; rotate with -full first", id)
		}
		if err := w.delete(TableRootKeys, k); err != nil {
			return nil, err
		}
	}
	for _, k := range req.Keys {
		c := k.Copy()
		c.CreateIndex, c.ModifyIndex = w.index, w.index
		if prev := snap.RootKey(k.KeyID); prev != nil {
			c.CreateIndex = prev.CreateIndex
			c.SealedKey = prev.SealedKey // a key's material never changes
		}
		if err := w.insert(TableRootKeys, c); err != nil {
			return nil, err
		}
	}
	keys := snap.RootKeys()
	active := 0
	for _, k := range keys {
		if k.State == cluster.RootKeyActive {
			active++
		}
	}
	switch {
	case active > 1:
		return nil, invalid("%d root keys would be active; one is", active)
	case len(keys) > MaxRootKeys:
		return nil, invalid("the keyring would hold %d keys, more than %d: finish a rotate -full first", len(keys), MaxRootKeys)
	}
	return nil, nil
}

// RootKey returns one root key, or nil.
func (s *Snapshot) RootKey(id string) *cluster.RootKey {
	return first[*cluster.RootKey](s.txn.First(TableRootKeys, "id", id))
}

// RootKeys returns every root key, by ID.
func (s *Snapshot) RootKeys() []*cluster.RootKey {
	return list[*cluster.RootKey](s.txn.Get(TableRootKeys, "id"))
}

// ActiveRootKey returns the key that encrypts new writes, or nil.
func (s *Snapshot) ActiveRootKey() *cluster.RootKey {
	for _, k := range s.RootKeys() {
		if k.State == cluster.RootKeyActive {
			return k
		}
	}
	return nil
}

// RootKeyUpsert validates req and commits it through Raft.
func (r *Replicated) RootKeyUpsert(ctx context.Context, req *RootKeyUpsertRequest) (uint64, error) {
	if err := req.Validate(); err != nil {
		return 0, err
	}
	idx, _, err := r.Apply(ctx, MsgRootKeyUpsert, req)
	return idx, err
}
