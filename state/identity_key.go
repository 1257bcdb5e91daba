package state

import (
	"context"
	"crypto/ed25519"
	"time"

	"github.com/droverhq/drover/cluster"
	memdb "github.com/hashicorp/go-memdb"
)

// TableIdentityKey holds the workload identity keyring
// (cluster.IdentityKeyring): at most one record, its private keys
// sealed.
const TableIdentityKey = "identity_key"

const identityKeyringKey = "keyring"

// MaxIdentityKeys bounds the keys a keyring keeps (the signing one and
// those still verifying tokens it signed before a rotation).
const MaxIdentityKeys = 8

// IdentityKeySetRequest creates (CASIndex 0) or replaces (CASIndex = the
// stored keyring's ModifyIndex) the workload identity keyring. A refused
// request changes nothing.
type IdentityKeySetRequest struct {
	Keyring  *cluster.IdentityKeyring `json:"keyring"`
	CASIndex uint64                   `json:"cas_index"`
	Now      time.Time                `json:"now"`
}

// sealedSeedSize is the size of a sealed Ed25519 seed (pki.Seal): a
// version byte, the nonce, the 32-byte seed and the GCM tag. Anything
// else is not a sealed seed: a seed or private key in the clear is 32 or
// 64 bytes.
const sealedSeedSize = 1 + 12 + ed25519.SeedSize + 16

// Validate checks what can be checked without the stored keyring; the
// FSM checks it again.
func (r *IdentityKeySetRequest) Validate() error {
	if r == nil || r.Keyring == nil || len(r.Keyring.Keys) == 0 {
		return invalid("no identity keyring to store")
	}
	if len(r.Keyring.Keys) > MaxIdentityKeys {
		return invalid("an identity keyring holds at most %d keys, not %d", MaxIdentityKeys, len(r.Keyring.Keys))
	}
	seen := map[string]bool{}
	for _, k := range r.Keyring.Keys {
		switch {
		case k.KeyID == "" || len(k.KeyID) > 64 || seen[k.KeyID]:
			return invalid("identity key ID %q is empty, too long or repeated", k.KeyID)
		case len(k.PublicKey) != ed25519.PublicKeySize:
			return invalid("identity key %s: the public key is %d bytes, not %d", k.KeyID, len(k.PublicKey), ed25519.PublicKeySize)
		case len(k.SealedPrivateKey) != sealedSeedSize:
			return invalid("identity key %s: the private key is not sealed", k.KeyID)
		}
		seen[k.KeyID] = true
	}
	return nil
}

func identityKeyTable() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableIdentityKey,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: keyIndex[*cluster.IdentityKeyring](1, func(*cluster.IdentityKeyring) []string {
				return []string{identityKeyringKey}
			})},
		},
	}
}

func (w *writer) identityKeySet(req *IdentityKeySetRequest) (any, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	prev := w.read().IdentityKeyring()
	switch {
	case req.CASIndex == 0 && prev != nil:
		return nil, casConflict("the identity keyring already exists (modify index %d)", prev.ModifyIndex)
	case req.CASIndex != 0 && (prev == nil || prev.ModifyIndex != req.CASIndex):
		return nil, casConflict("the identity keyring is not at modify index %d", req.CASIndex)
	}
	k := req.Keyring.Copy()
	k.CreateIndex, k.ModifyIndex = w.index, w.index
	if prev != nil {
		k.CreateIndex = prev.CreateIndex
	}
	return nil, w.insert(TableIdentityKey, k)
}

// IdentityKeyring returns the workload identity keyring, or nil.
func (s *Snapshot) IdentityKeyring() *cluster.IdentityKeyring {
	return first[*cluster.IdentityKeyring](s.txn.First(TableIdentityKey, "id", identityKeyringKey))
}

// IdentityKeySet validates req and commits it through Raft, returning
// the keyring's new ModifyIndex.
func (r *Replicated) IdentityKeySet(ctx context.Context, req *IdentityKeySetRequest) (uint64, error) {
	if err := req.Validate(); err != nil {
		return 0, err
	}
	idx, _, err := r.Apply(ctx, MsgIdentityKeySet, req)
	return idx, err
}
