package gitsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/memory"
)

// ErrBranchNotFound is returned, wrapped, when the tracked branch does not
// exist (any more) on the remote: deleted, or never pushed.
var ErrBranchNotFound = errors.New("branch not found")

// ErrAuth is returned, wrapped, when the remote refused the credentials or
// wanted some.
var ErrAuth = errors.New("authentication failed")

// Auth holds the credentials of a remote. Exactly one kind is used: a
// token or a username and password over HTTPS, or a deploy key over SSH.
type Auth struct {
	Username string
	Password string
	// Token is sent as the HTTPS password (GitHub, GitLab and Gitea accept
	// a token with any username).
	Token string
	// SSHKey is a PEM private key; KnownHosts is the known_hosts file
	// that the server's host key must be listed in. There is no way to
	// skip that check: a deploy key must not talk to an impostor.
	SSHKey     []byte
	KnownHosts string
}

// secrets lists the values that must never appear in an error.
func (a Auth) secrets() []string {
	var s []string
	for _, v := range []string{a.Password, a.Token} {
		if v != "" {
			s = append(s, v)
		}
	}
	return s
}

// method turns the credentials into go-git's form for the URL's scheme.
func (a Auth) method(rawURL string) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		return nil, err
	}
	switch ep.Protocol {
	case "ssh":
		if len(a.SSHKey) == 0 {
			return nil, fmt.Errorf("%s needs an SSH key (auth { ssh_key_file })", ep.Protocol)
		}
		if a.KnownHosts == "" {
			return nil, errors.New("an SSH remote needs auth { known_hosts_file }: the server's host key is always checked")
		}
		user := ep.User
		if user == "" {
			user = "git"
		}
		keys, err := gitssh.NewPublicKeys(user, a.SSHKey, "")
		if err != nil {
			return nil, fmt.Errorf("ssh key: %w", err)
		}
		cb, err := gitssh.NewKnownHostsCallback(a.KnownHosts)
		if err != nil {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
		keys.HostKeyCallback = cb
		return keys, nil
	case "http", "https":
		switch {
		case a.Token != "":
			user := a.Username
			if user == "" {
				user = "x-access-token"
			}
			return &githttp.BasicAuth{Username: user, Password: a.Token}, nil
		case a.Username != "" || a.Password != "":
			return &githttp.BasicAuth{Username: a.Username, Password: a.Password}, nil
		}
	}
	return nil, nil
}

// Mirror keeps a single-branch copy, without a checkout, of a remote repository's
// tracked branch in a cache folder. It is not safe for concurrent use:
// one reconciler owns one Mirror.
type Mirror struct {
	url    string
	branch string
	dir    string
	auth   Auth
	// Depth limits fetches to the newest commits: the reconciler needs
	// only the tip's tree. 0 fetches the whole history.
	depth int
}

// NewMirror returns a Mirror of url's branch in dir (created on first
// Sync).
func NewMirror(rawURL, branch, dir string, auth Auth) *Mirror {
	return &Mirror{url: rawURL, branch: branch, dir: dir, auth: auth, depth: 1}
}

// SyncResult is what a Sync found.
type SyncResult struct {
	// Head is the SHA the branch points at on the remote.
	Head string
	// Fetched is false when the branch had not moved since the last
	// fetch, and nothing but the ref listing was transferred.
	Fetched bool
}

// Sync brings the mirror up to the remote branch: a cheap ref listing
// first, then a fetch only when the branch moved. A force-push is
// followed like any other move.
func (m *Mirror) Sync(ctx context.Context) (SyncResult, error) {
	res, err := m.sync(ctx)
	return res, Scrub(err, m.auth.secrets()...)
}

func (m *Mirror) sync(ctx context.Context) (SyncResult, error) {
	auth, err := m.auth.method(m.url)
	if err != nil {
		return SyncResult{}, fmt.Errorf("remote %s: %w", RedactURL(m.url), err)
	}
	head, err := m.remoteHead(ctx, auth)
	if err != nil {
		return SyncResult{}, err
	}
	g, err := m.open()
	if err != nil {
		return SyncResult{}, err
	}
	local := plumbing.NewBranchReferenceName(m.branch)
	if ref, err := g.Reference(local, true); err == nil && ref.Hash().String() == head {
		return SyncResult{Head: head}, nil
	}
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", local, local))
	err = m.remote(g).FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{spec},
		Depth:      m.depth,
		Auth:       auth,
		Tags:       git.NoTags,
		Force:      true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return SyncResult{}, m.wrap("fetch", err)
	}
	ref, err := g.Reference(local, true)
	if err != nil {
		return SyncResult{}, fmt.Errorf("fetch %s: the branch is missing after the fetch: %w", m.branch, err)
	}
	// The branch may have moved between listing and fetching: report
	// what was fetched, which is what the mirror holds.
	return SyncResult{Head: ref.Hash().String(), Fetched: true}, nil
}

// remoteHead lists the remote's refs (git ls-remote) and returns the
// tracked branch's SHA.
func (m *Mirror) remoteHead(ctx context.Context, auth transport.AuthMethod) (string, error) {
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{m.url}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return "", fmt.Errorf("remote %s has no branch %q (it has no branches at all): %w", RedactURL(m.url), m.branch, ErrBranchNotFound)
	}
	if err != nil {
		return "", m.wrap("list refs of", err)
	}
	want := plumbing.NewBranchReferenceName(m.branch)
	for _, r := range refs {
		if r.Name() == want && r.Type() == plumbing.HashReference {
			return r.Hash().String(), nil
		}
	}
	return "", fmt.Errorf("remote %s has no branch %q: %w", RedactURL(m.url), m.branch, ErrBranchNotFound)
}

func (m *Mirror) wrap(op string, err error) error {
	if errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed) {
		return fmt.Errorf("%s %s: %w: %w", op, RedactURL(m.url), ErrAuth, err)
	}
	return fmt.Errorf("%s %s: %w", op, RedactURL(m.url), err)
}

// open opens the mirror's bare repository, creating it on first use.
// The mirror's .git/config names the remote by its URL without
// credentials (RedactURL): a token written into the URL stays in memory,
// and fetches go through remote, which holds the URL as configured.
func (m *Mirror) open() (*git.Repository, error) {
	g, err := git.PlainOpen(m.dir)
	if err == nil {
		return g, m.scrubConfig(g)
	}
	if !errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("open mirror %s: %w", m.dir, err)
	}
	if err := os.MkdirAll(filepath.Dir(m.dir), 0o700); err != nil {
		return nil, fmt.Errorf("mirror: %w", err)
	}
	// Not bare, though nothing is ever checked out: Open finds a
	// repository by its .git folder.
	g, err = git.PlainInit(m.dir, false)
	if err != nil {
		return nil, fmt.Errorf("create mirror %s: %w", m.dir, err)
	}
	if _, err := g.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{RedactURL(m.url)}}); err != nil {
		return nil, fmt.Errorf("create mirror %s: %w", m.dir, err)
	}
	return g, nil
}

// scrubConfig rewrites the origin remote of a mirror created before
// mirrors stored the URL without credentials.
func (m *Mirror) scrubConfig(g *git.Repository) error {
	cfg, err := g.Config()
	if err != nil {
		return fmt.Errorf("open mirror %s: %w", m.dir, err)
	}
	rc := cfg.Remotes["origin"]
	if rc == nil || len(rc.URLs) == 0 {
		return nil
	}
	changed := false
	for i, u := range rc.URLs {
		if clean := RedactURL(u); clean != u {
			rc.URLs[i], changed = clean, true
		}
	}
	if !changed {
		return nil
	}
	if err := g.SetConfig(cfg); err != nil {
		return fmt.Errorf("mirror %s: remove credentials from the stored remote: %w", m.dir, err)
	}
	return nil
}

// remote is the mirror's origin with the URL as configured, credentials
// included, for fetching; it is never written to disk.
func (m *Mirror) remote(g *git.Repository) *git.Remote {
	return git.NewRemote(g.Storer, &config.RemoteConfig{Name: "origin", URLs: []string{m.url}})
}

// Open opens the mirror as a Repository to read commits from. Open one
// per pass (see the package doc): a fetch adds pack files.
func (m *Mirror) Open() (*Repository, error) {
	return Open(m.dir)
}

// Dir returns the mirror's folder.
func (m *Mirror) Dir() string { return m.dir }

// IsLocalPath reports whether a source URL names a repository on this
// machine's file system (a path, not file://), which is read in place
// rather than mirrored.
func IsLocalPath(rawURL string) bool {
	if strings.Contains(rawURL, "://") {
		return false
	}
	// scp-like SSH: git@host:org/repo.git
	if i := strings.Index(rawURL, ":"); i > 0 && !strings.ContainsAny(rawURL[:i], `/\`) && !filepath.IsAbs(rawURL) {
		return false
	}
	return true
}
