package cluster

import (
	"bytes"
	"slices"
	"time"
)

// IdentityKeyring holds the servers' workload identity signing keys
// (Ed25519). As with the TLS keyring, only the public halves are in the
// clear: each private key is sealed by the servers with their
// key-encryption key before the record is written, so a copy of the Raft
// log or of a snapshot cannot sign identities. There is at most one
// keyring; its last key is the one that signs, the others only verify
// (a rotation appends).
type IdentityKeyring struct {
	Keys []IdentityKey `json:"keys"`

	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
}

// IdentityKey is one signing key.
type IdentityKey struct {
	// KeyID is the JWT header's kid and the JWK's kid.
	KeyID string `json:"key_id"`
	// PublicKey is the Ed25519 public key, 32 bytes.
	PublicKey []byte `json:"public_key"`
	// SealedPrivateKey is the Ed25519 seed, sealed (pki.Seal) with the
	// servers' KEK and bound to KeyID.
	SealedPrivateKey []byte    `json:"sealed_private_key"`
	CreateTime       time.Time `json:"create_time"`
}

// Active returns the key that signs, or nil.
func (k *IdentityKeyring) Active() *IdentityKey {
	if k == nil || len(k.Keys) == 0 {
		return nil
	}
	return &k.Keys[len(k.Keys)-1]
}

// Copy returns a deep copy.
func (k *IdentityKeyring) Copy() *IdentityKeyring {
	if k == nil {
		return nil
	}
	c := *k
	c.Keys = slices.Clone(k.Keys)
	for i := range c.Keys {
		c.Keys[i].PublicKey = bytes.Clone(c.Keys[i].PublicKey)
		c.Keys[i].SealedPrivateKey = bytes.Clone(c.Keys[i].SealedPrivateKey)
	}
	return &c
}
