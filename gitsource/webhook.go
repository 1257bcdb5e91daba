package gitsource

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
)

// GitHub's webhook headers.
const (
	HeaderGitHubSignature = "X-Hub-Signature-256"
	HeaderGitHubEvent     = "X-GitHub-Event"
	HeaderGitHubDelivery  = "X-GitHub-Delivery"
	// HeaderSignature is the generic endpoint's header, for forges other
	// than GitHub: "sha256=" and the hex HMAC-SHA256 of the raw body.
	HeaderSignature = "X-Drover-Signature"
)

// ErrSignature is returned, wrapped, for a webhook whose signature is
// missing, malformed or wrong.
var ErrSignature = errors.New("webhook signature does not verify")

// VerifySignature checks a "sha256=<hex>" header against the HMAC-SHA256
// of the raw body. Only SHA-256 is accepted: GitHub's older SHA-1
// X-Hub-Signature is not a header this reads, and "sha1=" is refused. The
// comparison takes constant time, so a forger learns nothing from timing.
func VerifySignature(secret, body []byte, header string) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: no secret configured", ErrSignature)
	}
	if header == "" {
		return fmt.Errorf("%w: the signature header is missing", ErrSignature)
	}
	algo, digest, ok := strings.Cut(strings.TrimSpace(header), "=")
	if !ok || algo != "sha256" {
		return fmt.Errorf("%w: want sha256=<hex>", ErrSignature)
	}
	got, err := hex.DecodeString(digest)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: the digest is not 64 hex digits", ErrSignature)
	}
	if !hmac.Equal(got, Sign(secret, body)) {
		return fmt.Errorf("%w: wrong secret or altered body", ErrSignature)
	}
	return nil
}

// Sign returns the HMAC-SHA256 of body.
func Sign(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}

// SignatureHeader returns the header value VerifySignature accepts.
func SignatureHeader(secret, body []byte) string {
	return "sha256=" + hex.EncodeToString(Sign(secret, body))
}

// PushEvent is the part of a push webhook (GitHub's shape, which Gitea,
// Forgejo and others copy) that decides whether to fetch.
type PushEvent struct {
	Ref     string `json:"ref"`
	Before  string `json:"before"`
	After   string `json:"after"`
	Created bool   `json:"created"`
	Deleted bool   `json:"deleted"`
	Forced  bool   `json:"forced"`
	Repo    struct {
		CloneURL string `json:"clone_url"`
		SSHURL   string `json:"ssh_url"`
		GitURL   string `json:"git_url"`
		HTMLURL  string `json:"html_url"`
		FullName string `json:"full_name"`
	} `json:"repository"`
}

// ParsePush decodes a push event.
func ParsePush(body []byte) (*PushEvent, error) {
	var p PushEvent
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("push event: %w", err)
	}
	if p.Ref == "" {
		return nil, errors.New("push event: no ref")
	}
	return &p, nil
}

// Branch returns the pushed branch, or false for a tag.
func (p *PushEvent) Branch() (string, bool) {
	return strings.CutPrefix(p.Ref, "refs/heads/")
}

// Deploys reports whether the push should make a reconciler of branch
// fetch: a push to that branch that did not delete it. A tag push or a
// deletion deploys nothing.
func (p *PushEvent) Deploys(branch string) bool {
	b, ok := p.Branch()
	return ok && b == branch && !p.Deleted && strings.Trim(p.After, "0") != ""
}

// SameRepo reports whether the event is about the repository at rawURL,
// comparing host and path without scheme, credentials, ".git" or case.
func (p *PushEvent) SameRepo(rawURL string) bool {
	want := repoKey(rawURL)
	if want == "" {
		return false
	}
	for _, u := range []string{p.Repo.CloneURL, p.Repo.SSHURL, p.Repo.GitURL, p.Repo.HTMLURL} {
		if u != "" && repoKey(u) == want {
			return true
		}
	}
	return false
}

// repoKey normalizes a repository URL to host/path.
func repoKey(raw string) string {
	raw = strings.TrimSpace(raw)
	if !strings.Contains(raw, "://") {
		// scp-like: git@github.com:org/repo.git
		if at := strings.Index(raw, "@"); at >= 0 {
			raw = raw[at+1:]
		}
		raw = "ssh://" + strings.Replace(raw, ":", "/", 1)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	p := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	return strings.ToLower(u.Hostname() + "/" + p)
}

// Deliveries remembers recent delivery IDs, so that a webhook GitHub
// redelivers (or an attacker replays) is answered but not acted on
// twice. It forgets the oldest beyond its size, which bounds memory.
type Deliveries struct {
	mu   sync.Mutex
	seen map[string]struct{}
	ring []string
	next int
}

// NewDeliveries remembers up to size IDs.
func NewDeliveries(size int) *Deliveries {
	return &Deliveries{seen: make(map[string]struct{}, size), ring: make([]string, size)}
}

// First records id and reports whether it was new. An empty ID is always
// new: de-duplication needs an ID.
func (d *Deliveries) First(id string) bool {
	if id == "" {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.seen[id]; ok {
		return false
	}
	if old := d.ring[d.next]; old != "" {
		delete(d.seen, old)
	}
	d.ring[d.next] = id
	d.next = (d.next + 1) % len(d.ring)
	d.seen[id] = struct{}{}
	return true
}
