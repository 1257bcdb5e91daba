package pki

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
)

// A join token lets its holder obtain a certificate of one role (server
// or client), once it has checked the CA it talks to. It looks like
// Docker Swarm's SWMTKN:
//
//	DRVTKN-1-<role>-<CA fingerprint, 64 hex>-<secret, 32 hex>
//
// The fingerprint is the SHA-256 of the CA certificate: a joiner refuses
// an answer whose CA does not match it, so a server in the middle cannot
// hand it a CA of its own. The secret is what the CA's holder checks.

// Role is what a join token admits.
type Role string

// Join-token roles. An operator's CLI certificate comes from `drover tls
// cert create`, never from a join token.
const (
	// RoleServer admits a server: a Raft voter.
	RoleServer Role = "server"
	// RoleClient admits an agent: a client node.
	RoleClient Role = "client"
)

const (
	tokenPrefix  = "DRVTKN"
	tokenVersion = "1"
	secretBytes  = 16
)

// JoinToken is a parsed join token.
type JoinToken struct {
	Role        Role
	Fingerprint [32]byte
	Secret      [secretBytes]byte
}

// NewJoinToken returns a token of role for the CA with the given
// fingerprint and a fresh random secret.
func NewJoinToken(role Role, caFingerprint [32]byte) (JoinToken, error) {
	if err := role.validate(); err != nil {
		return JoinToken{}, err
	}
	t := JoinToken{Role: role, Fingerprint: caFingerprint}
	_, _ = rand.Read(t.Secret[:]) // crypto/rand.Read never fails
	return t, nil
}

// String formats the token.
func (t JoinToken) String() string {
	return strings.Join([]string{tokenPrefix, tokenVersion, string(t.Role),
		hex.EncodeToString(t.Fingerprint[:]), hex.EncodeToString(t.Secret[:])}, "-")
}

// Equal compares two tokens in constant time (as far as their content
// goes): the secret must not leak through timing.
func (t JoinToken) Equal(o JoinToken) bool {
	same := subtle.ConstantTimeCompare(t.Secret[:], o.Secret[:])
	same &= subtle.ConstantTimeCompare(t.Fingerprint[:], o.Fingerprint[:])
	same &= subtle.ConstantTimeCompare([]byte(t.Role), []byte(o.Role))
	return same == 1
}

// ParseJoinToken parses a token. Errors do not repeat the input, since it
// holds a secret.
func ParseJoinToken(s string) (JoinToken, error) {
	s = strings.TrimSpace(s)
	if len(s) > 256 {
		return JoinToken{}, fmt.Errorf("%w: join token: too long", ErrInvalid)
	}
	parts := strings.Split(s, "-")
	if len(parts) != 5 || parts[0] != tokenPrefix {
		return JoinToken{}, fmt.Errorf("%w: join token: want %s-%s-<role>-<fingerprint>-<secret>", ErrInvalid, tokenPrefix, tokenVersion)
	}
	if parts[1] != tokenVersion {
		return JoinToken{}, fmt.Errorf("%w: join token: version %q is not supported (want %s)", ErrInvalid, parts[1], tokenVersion)
	}
	t := JoinToken{Role: Role(parts[2])}
	if err := t.Role.validate(); err != nil {
		return JoinToken{}, err
	}
	if err := decodeHex(t.Fingerprint[:], parts[3]); err != nil {
		return JoinToken{}, fmt.Errorf("%w: join token: CA fingerprint: %v", ErrInvalid, err)
	}
	if err := decodeHex(t.Secret[:], parts[4]); err != nil {
		return JoinToken{}, fmt.Errorf("%w: join token: secret: %v", ErrInvalid, err)
	}
	return t, nil
}

func (r Role) validate() error {
	if r != RoleServer && r != RoleClient {
		return fmt.Errorf("%w: join token role %.20q (want %q or %q)", ErrInvalid, string(r), RoleServer, RoleClient)
	}
	return nil
}

// decodeHex fills dst from lowercase hex of exactly its length.
func decodeHex(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("want %d hex digits, got %d", 2*len(dst), len(s))
	}
	if strings.ToLower(s) != s {
		return fmt.Errorf("want lowercase hex")
	}
	_, err := hex.Decode(dst, []byte(s))
	return err
}
