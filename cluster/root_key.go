package cluster

import "time"

// The root keyring encrypts variables (Nomad's keyring). Each key is a
// 256-bit AES-GCM data key, replicated in Raft sealed with the servers'
// key-encryption key (pki.Seal, as the TLS and identity keyrings), so a
// copy of the Raft log or of a snapshot cannot decrypt a variable.

// Root key states (Nomad's names).
const (
	// RootKeyActive encrypts new writes; there is one.
	RootKeyActive = "active"
	// RootKeyInactive only decrypts what it encrypted before a rotation.
	RootKeyInactive = "inactive"
	// RootKeyRekeying is an inactive key whose variables the leader is
	// re-encrypting with the active key (rotate -full); it is deleted
	// once no variable uses it.
	RootKeyRekeying = "rekeying"
)

// RootKey is one data key, sealed.
type RootKey struct {
	KeyID      string    `json:"KeyID"`
	Algorithm  string    `json:"Algorithm"`
	State      string    `json:"State"`
	CreateTime time.Time `json:"CreateTime"`
	// SealedKey is the key sealed (pki.Seal) with the servers' KEK and
	// bound to KeyID.
	SealedKey []byte `json:"SealedKey"`

	CreateIndex uint64 `json:"CreateIndex"`
	ModifyIndex uint64 `json:"ModifyIndex"`
}

// RootKeyAlgorithm is the only algorithm.
const RootKeyAlgorithm = "aes256-gcm"

// Copy returns a deep copy.
func (k *RootKey) Copy() *RootKey {
	if k == nil {
		return nil
	}
	c := *k
	c.SealedKey = append([]byte(nil), k.SealedKey...)
	return &c
}
