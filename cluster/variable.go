package cluster

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Nomad Variables: small encrypted key/value documents at file-like
// paths, scoped to a namespace. The servers encrypt a variable's items
// with the root keyring (root_key.go) before the Raft apply, so the
// state store, the Raft log and snapshots hold only ciphertext.

// MaxVariablePathLen is the longest variable path (Nomad's).
const MaxVariablePathLen = 128

// MaxVariableSize bounds the encoded items of one variable (Nomad's
// 64 KiB): keys and values summed.
const MaxVariableSize = 64 << 10

// MaxVariableItems bounds the items of one variable.
const MaxVariableItems = 1024

// Variable lock TTL bounds (Nomad's defaults and limits).
const (
	DefaultVariableLockTTL = 15 * time.Second
	MinVariableLockTTL     = 10 * time.Second
	MaxVariableLockTTL     = 24 * time.Hour
)

var variablePathRe = regexp.MustCompile(`^[a-zA-Z0-9\-_~/]{1,128}$`)

// variableItemKeyRe is a key usable in templates (Nomad's rule: no dots
// or @, so that {{ with nomadVar "a/b" }}{{ .key }} works).
var variableItemKeyRe = regexp.MustCompile(`^[a-zA-Z0-9_\-]{1,128}$`)

// VariableMetadata is a variable without its items: what lists return
// and what a check-and-set conflict shows.
type VariableMetadata struct {
	Namespace   string        `json:"Namespace"`
	Path        string        `json:"Path"`
	CreateIndex uint64        `json:"CreateIndex"`
	ModifyIndex uint64        `json:"ModifyIndex"`
	CreateTime  int64         `json:"CreateTime"` // Unix nanoseconds, as Nomad
	ModifyTime  int64         `json:"ModifyTime"`
	Lock        *VariableLock `json:"Lock,omitempty"`
}

// VariableLock is a lock held over a variable (Nomad's). The ID is the
// lock holder's secret: only metadata for a holder shows it.
type VariableLock struct {
	ID        string        `json:"ID,omitempty"`
	TTL       time.Duration `json:"TTL,omitempty"`
	LockDelay time.Duration `json:"LockDelay,omitempty"`
	// Expires is when the lock lapses unless renewed (Unix nanoseconds,
	// from the leader's clock in the Raft entry); after Expires +
	// LockDelay another holder may acquire it.
	Expires int64 `json:"Expires,omitempty"`
}

// Held reports whether the lock still binds at now: it has a holder and
// has not lapsed (plus its delay).
func (l *VariableLock) Held(now time.Time) bool {
	if l == nil || l.ID == "" {
		return false
	}
	return l.Expires == 0 || now.UnixNano() < l.Expires+int64(l.LockDelay)
}

// VariableEncrypted is a variable as the state store keeps it.
type VariableEncrypted struct {
	VariableMetadata
	// Data is the AES-256-GCM ciphertext of the JSON-encoded items,
	// with Namespace and Path as additional data.
	Data  []byte `json:"Data"`
	KeyID string `json:"KeyID"`
	Nonce []byte `json:"Nonce"`
}

// VariableDecrypted is a variable with its items in the clear: only in
// a server's memory and in API answers to a reader with the capability.
type VariableDecrypted struct {
	VariableMetadata
	Items map[string]string `json:"Items"`
}

// Copy returns a deep copy.
func (v *VariableEncrypted) Copy() *VariableEncrypted {
	if v == nil {
		return nil
	}
	c := *v
	c.Data = append([]byte(nil), v.Data...)
	c.Nonce = append([]byte(nil), v.Nonce...)
	if v.Lock != nil {
		l := *v.Lock
		c.Lock = &l
	}
	return &c
}

// Redacted returns the metadata without the lock ID (a secret of the
// holder).
func (m VariableMetadata) Redacted() VariableMetadata {
	if m.Lock != nil {
		l := *m.Lock
		l.ID = ""
		m.Lock = &l
	}
	return m
}

// ModifyTimeOf is ModifyTime as a time.
func (m VariableMetadata) ModifyTimeOf() time.Time { return time.Unix(0, m.ModifyTime) }

// ValidateVariablePath checks a path as Nomad does: URL-safe characters
// that do not clash with template syntax, at most 128 of them, no ".."
// segment, and the nomad/ prefix reserved except for nomad/jobs (the
// implicit job paths).
func ValidateVariablePath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("a variable needs a path")
	case len(p) > MaxVariablePathLen:
		return fmt.Errorf("variable path is %d characters; at most %d are allowed", len(p), MaxVariablePathLen)
	case !variablePathRe.MatchString(p):
		return fmt.Errorf("variable path %q: only letters, digits and - _ ~ / are allowed", p)
	case strings.Contains(p, ".."):
		return fmt.Errorf("variable path %q must not contain \"..\"", p)
	case strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//"):
		return fmt.Errorf("variable path %q: no empty segments (leading, trailing or double /)", p)
	}
	if p == "nomad" || strings.HasPrefix(p, "nomad/") {
		if p != "nomad/jobs" && !strings.HasPrefix(p, "nomad/jobs/") {
			return fmt.Errorf("variable path %q: the nomad/ prefix is reserved (only nomad/jobs/... may be used)", p)
		}
	}
	return nil
}

// ValidateVariableItems checks the items' keys and total size. Errors
// name keys, never values.
func ValidateVariableItems(items map[string]string) error {
	if len(items) == 0 {
		return fmt.Errorf("a variable needs at least one item (key=value)")
	}
	if len(items) > MaxVariableItems {
		return fmt.Errorf("a variable holds at most %d items, not %d", MaxVariableItems, len(items))
	}
	size := 0
	for k, v := range items {
		if !variableItemKeyRe.MatchString(k) {
			return fmt.Errorf("item key %q: only letters, digits, - and _ are allowed (at most 128)", k)
		}
		size += len(k) + len(v)
	}
	if size > MaxVariableSize {
		return &VariableTooLargeError{Size: size}
	}
	return nil
}

// VariableTooLargeError is a variable over MaxVariableSize.
type VariableTooLargeError struct{ Size int }

func (e *VariableTooLargeError) Error() string {
	return fmt.Sprintf("variable items are %d bytes, more than the limit of %d (64 KiB): store large data elsewhere", e.Size, MaxVariableSize)
}
