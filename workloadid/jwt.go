// Package workloadid makes and checks workload identities: the JWTs the
// servers sign for a task (Nomad's workload identity), signed with
// Ed25519 (EdDSA, RFC 8037) and verified against the servers' public
// keys as a JSON Web Key Set (GET /.well-known/jwks.json).
//
// It is a few lines of crypto/ed25519 and base64url rather than a JWT
// library: one algorithm, fixed header, and a verifier that accepts
// nothing else (no "none", no algorithm chosen by the token).
package workloadid

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Algorithm is the only JWS algorithm signed and accepted.
const Algorithm = "EdDSA"

// DefaultAudience is the audience of a task's default identity when its
// identity block names none (Nomad's).
const DefaultAudience = "nomadproject.io"

// DefaultName is the name of a task's default identity.
const DefaultName = "default"

// MaxTokenBytes bounds a token Verify reads.
const MaxTokenBytes = 8 << 10

// Claims are Nomad's workload identity claims.
type Claims struct {
	Namespace    string `json:"nomad_namespace"`
	JobID        string `json:"nomad_job_id"`
	AllocationID string `json:"nomad_allocation_id"`
	TaskName     string `json:"nomad_task,omitempty"`

	Issuer    string   `json:"iss,omitempty"`
	Subject   string   `json:"sub"`
	Audience  []string `json:"aud,omitempty"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	// Expiry is 0 for an identity without a ttl (Nomad's default
	// identity): such a token is valid while its key is.
	Expiry int64  `json:"exp,omitempty"`
	ID     string `json:"jti,omitempty"`
}

// Subject is Nomad's sub claim of a task identity:
// <region>:<namespace>:<job>:<group>:<task>:<identity name>.
func Subject(region, namespace, job, group, task, name string) string {
	return strings.Join([]string{region, namespace, job, group, task, name}, ":")
}

type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

var b64 = base64.RawURLEncoding

// Sign returns the compact JWS of claims, signed by priv under key ID
// kid.
func Sign(kid string, priv ed25519.PrivateKey, c *Claims) (string, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return "", errors.New("workloadid: not an Ed25519 private key")
	}
	h, err := json.Marshal(header{Alg: Algorithm, Kid: kid, Typ: "JWT"})
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signing := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	sig := ed25519.Sign(priv, []byte(signing))
	return signing + "." + b64.EncodeToString(sig), nil
}

// JWK is one public key, as RFC 8037 writes an Ed25519 key.
type JWK struct {
	KeyType string `json:"kty"` // OKP
	Curve   string `json:"crv"` // Ed25519
	X       string `json:"x"`
	KeyID   string `json:"kid"`
	Use     string `json:"use"` // sig
	Alg     string `json:"alg"` // EdDSA
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK returns pub as a JWK.
func PublicJWK(kid string, pub ed25519.PublicKey) JWK {
	return JWK{KeyType: "OKP", Curve: "Ed25519", X: b64.EncodeToString(pub), KeyID: kid, Use: "sig", Alg: Algorithm}
}

// Errors Verify wraps.
var (
	ErrMalformed = errors.New("malformed token")
	ErrSignature = errors.New("signature does not verify")
	ErrExpired   = errors.New("token expired")
	ErrNotYet    = errors.New("token not valid yet")
	ErrAudience  = errors.New("token is not for this audience")
)

// Verify checks token against keys at now and returns its claims. The
// header must say EdDSA and name a key of keys; the signature must
// verify; exp and nbf must hold at now. audience, when not empty, must
// be one of the token's.
func Verify(token string, keys JWKS, now time.Time, audience string) (*Claims, error) {
	if len(token) > MaxTokenBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenBytes)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: want three dot-separated parts", ErrMalformed)
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	var h header
	if err := strictUnmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if h.Alg != Algorithm {
		return nil, fmt.Errorf("%w: algorithm %q (only %s is accepted)", ErrSignature, h.Alg, Algorithm)
	}
	var pub ed25519.PublicKey
	for _, k := range keys.Keys {
		if k.KeyID == h.Kid && k.KeyType == "OKP" && k.Curve == "Ed25519" {
			b, err := b64.DecodeString(k.X)
			if err == nil && len(b) == ed25519.PublicKeySize {
				pub = b
			}
		}
	}
	if pub == nil {
		return nil, fmt.Errorf("%w: no key %q in the key set", ErrSignature, h.Kid)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature encoding", ErrMalformed)
	}
	if !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		return nil, ErrSignature
	}
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	var c Claims
	if err := json.Unmarshal(pb, &c); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	t := now.Unix()
	switch {
	case c.Expiry != 0 && t >= c.Expiry:
		return nil, fmt.Errorf("%w at %s", ErrExpired, time.Unix(c.Expiry, 0).UTC().Format(time.RFC3339))
	case t < c.NotBefore:
		return nil, ErrNotYet
	}
	if audience != "" {
		ok := false
		for _, a := range c.Audience {
			ok = ok || a == audience
		}
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrAudience, audience)
		}
	}
	return &c, nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
