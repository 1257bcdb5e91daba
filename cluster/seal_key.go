package cluster

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"
)

// SealKeyring holds the servers' age X25519 identities, which open the
// sealed variable files of a Git source (drover var seal). As with the
// identity and TLS keyrings only the public halves are in the clear:
// each identity is sealed (pki.Seal) with the servers' key-encryption
// key before the record is written, so a copy of the Raft log or of a
// snapshot cannot open a sealed file. There is at most one keyring; its
// last key is the one `drover var seal` encrypts to, the others only
// decrypt files sealed before a rotation, until removed.
type SealKeyring struct {
	Keys []SealKey `json:"keys"`

	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
}

// SealKey is one age identity.
type SealKey struct {
	// Recipient is the public key in age's form ("age1...").
	Recipient string `json:"recipient"`
	// SealedIdentity is the identity ("AGE-SECRET-KEY-1...") sealed with
	// the servers' KEK and bound to Recipient.
	SealedIdentity []byte    `json:"sealed_identity"`
	CreateTime     time.Time `json:"create_time"`
}

// Fingerprint is the short name a sealed file and its errors use for
// the key: "age:" and the first 8 bytes of the SHA-256 of the recipient.
func (k SealKey) Fingerprint() string { return SealFingerprint(k.Recipient) }

// SealFingerprint returns the fingerprint of an age recipient string.
// It hashes public data only, so it reveals nothing about any secret.
func SealFingerprint(recipient string) string {
	sum := sha256.Sum256([]byte(recipient))
	return "age:" + hex.EncodeToString(sum[:8])
}

// Active returns the key new seals encrypt to, or nil.
func (k *SealKeyring) Active() *SealKey {
	if k == nil || len(k.Keys) == 0 {
		return nil
	}
	return &k.Keys[len(k.Keys)-1]
}

// Fingerprints lists the keys' fingerprints, oldest first.
func (k *SealKeyring) Fingerprints() []string {
	if k == nil {
		return nil
	}
	out := make([]string, len(k.Keys))
	for i, key := range k.Keys {
		out[i] = key.Fingerprint()
	}
	return out
}

// Copy returns a deep copy.
func (k *SealKeyring) Copy() *SealKeyring {
	if k == nil {
		return nil
	}
	c := *k
	c.Keys = slices.Clone(k.Keys)
	for i := range c.Keys {
		c.Keys[i].SealedIdentity = bytes.Clone(c.Keys[i].SealedIdentity)
	}
	return &c
}
