package pki

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
)

// Secrets the servers keep in Raft (the CA key, join tokens) are sealed
// with a key-encryption key (KEK) that every server holds in a 0600 file
// and that never enters Raft:
//
//	sealed = version (1 byte) || nonce (12 random bytes) || AES-256-GCM ciphertext and tag
//
// The additional data (aad) names what the secret is (e.g. "ca-key"), so
// that one sealed value cannot be passed off as another; the version
// byte is authenticated with it.

const (
	sealVersion = 1
	kekPrefix   = "drover-kek-1:"
)

// NewKEK returns a new random key-encryption key.
func NewKEK() ([32]byte, error) {
	var kek [32]byte
	if _, err := rand.Read(kek[:]); err != nil {
		return kek, fmt.Errorf("pki: new KEK: %w", err)
	}
	return kek, nil
}

// EncodeKEK returns the one-line text form of a KEK,
// drover-kek-1:<base64>, for a 0600 file.
func EncodeKEK(kek [32]byte) string {
	return kekPrefix + base64.StdEncoding.EncodeToString(kek[:])
}

// ParseKEK parses EncodeKEK's form (surrounding space ignored). Errors do
// not repeat the input, since it is a secret.
func ParseKEK(s string) ([32]byte, error) {
	var kek [32]byte
	b64, ok := strings.CutPrefix(strings.TrimSpace(s), kekPrefix)
	if !ok {
		return kek, fmt.Errorf("%w: key-encryption key: want %s<base64 of 32 bytes>", ErrInvalid, kekPrefix)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(b) != len(kek) {
		return kek, fmt.Errorf("%w: key-encryption key: want %s<base64 of 32 bytes>", ErrInvalid, kekPrefix)
	}
	copy(kek[:], b)
	return kek, nil
}

func newAEAD(kek [32]byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(kek[:])
	if err != nil {
		return nil, fmt.Errorf("pki: seal: %w", err)
	}
	// A random 12-byte nonce per message, prefixed to the ciphertext.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("pki: seal: %w", err)
	}
	return aead, nil
}

func sealAAD(aad []byte) []byte { return append([]byte{sealVersion}, aad...) }

// Seal encrypts plaintext with kek, binding it to aad.
func Seal(kek [32]byte, plaintext, aad []byte) ([]byte, error) {
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	return aead.Seal([]byte{sealVersion}, nil, plaintext, sealAAD(aad)), nil
}

// Open decrypts what Seal returned for the same kek and aad. A wrong key,
// a wrong aad or a change to sealed is an error wrapping ErrInvalid.
func Open(kek [32]byte, sealed, aad []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, fmt.Errorf("%w: sealed data: empty", ErrInvalid)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: sealed data: version %d is not supported (want %d)", ErrInvalid, sealed[0], sealVersion)
	}
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	if len(sealed)-1 < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: sealed data: too short", ErrInvalid)
	}
	plain, err := aead.Open(nil, nil, sealed[1:], sealAAD(aad))
	if err != nil {
		return nil, fmt.Errorf("%w: sealed data: does not open with this key and context: the key-encryption key differs, or the data was changed", ErrInvalid)
	}
	return plain, nil
}
