package cluster

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// ACL token types: a management token may do everything; a client token
// only what its policies grant.
const (
	ACLTokenClient     = "client"
	ACLTokenManagement = "management"
)

// ACLPolicy is a named set of rules, kept as the HCL text the operator
// applied; the servers parse it when they resolve a token.
type ACLPolicy struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Rules       string `json:"rules"`

	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
}

// ACLToken is an API credential. Its SecretID is shown once, at creation;
// the servers keep only its SHA-256 (SecretHash), so that a copy of the
// Raft state does not hold a usable token. The AccessorID is public and
// names the token in listings, revocation and audit.
type ACLToken struct {
	AccessorID     string     `json:"accessor_id"`
	SecretHash     string     `json:"secret_hash"`
	Name           string     `json:"name,omitempty"`
	Type           string     `json:"type"`
	Policies       []string   `json:"policies,omitempty"`
	CreateTime     time.Time  `json:"create_time"`
	ExpirationTime *time.Time `json:"expiration_time,omitempty"`

	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
}

// Expired reports whether the token has expired at now.
func (t *ACLToken) Expired(now time.Time) bool {
	return t.ExpirationTime != nil && !now.Before(*t.ExpirationTime)
}

// HashACLSecret is how a token secret is stored and looked up.
func HashACLSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewACLSecret returns a fresh random token secret.
func NewACLSecret() string { return newUUID() }

// NewACLAccessor returns a fresh random accessor ID.
func NewACLAccessor() string { return newUUID() }

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
