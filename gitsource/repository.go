package gitsource

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ErrNotRepository is returned, wrapped, by Open for a folder that is in
// no Git repository.
var ErrNotRepository = errors.New("not a Git repository")

// ErrUnknownRevision is returned, wrapped, by Resolve for a revision that
// names no commit.
var ErrUnknownRevision = errors.New("unknown revision")

// Repository is an open Git repository. It is safe for concurrent use.
type Repository struct {
	root string // worktree root; "" for a bare repository

	mu  sync.Mutex // guards every use of git and the fields below; see the package doc
	git *git.Repository
	// trees caches tree listings; listGen counts listings, for eviction.
	trees   map[treeKey]*walker
	listGen uint64

	// blobs reads file contents, which is most of a cold load's Git work:
	// each reader is a go-git Repository of its own, so reads run in
	// parallel without sharing go-git's unsynchronized state.
	blobs *readerPool
}

// keepListings is how many listings an unused cached tree survives,
// letting a caller alternate between a few commits.
const keepListings = 8

// sweepTrees drops cached listings that recent listings did not use, once
// there are many. The caller holds r.mu.
func (r *Repository) sweepTrees() {
	if len(r.trees) < 1024 {
		return
	}
	for k, w := range r.trees {
		if w.gen+keepListings < r.listGen {
			delete(r.trees, k)
		}
	}
}

// Commit is one commit's metadata.
type Commit struct {
	SHA         string
	Author      string
	AuthorEmail string
	// Time is the author time, in the author's time zone.
	Time time.Time
	// Subject is the message's first line.
	Subject string
	Message string

	tree plumbing.Hash
}

// Open opens the Git repository that contains path, looking in parent
// folders as git does.
func Open(path string) (*Repository, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	opts := &git.PlainOpenOptions{
		DetectDotGit: true,
		// Worktrees made by `git worktree add` keep their objects in the
		// main repository's .git.
		EnableDotGitCommonDir: true,
	}
	g, err := git.PlainOpenWithOptions(path, opts)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("%s is not a Git repository: run `git init` or pass --repo: %w", path, ErrNotRepository)
	}
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}
	open := func() (*git.Repository, error) { return git.PlainOpenWithOptions(path, opts) }
	r := &Repository{git: g, trees: make(map[treeKey]*walker), blobs: newReaderPool(open, runtime.GOMAXPROCS(0))}
	if wt, err := g.Worktree(); err == nil {
		r.root = wt.Filesystem.Root()
	} else if !errors.Is(err, git.ErrIsBareRepository) {
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}
	return r, nil
}

// Root returns the working tree's root folder, or "" for a bare
// repository.
func (r *Repository) Root() string {
	return r.root
}

// Resolve finds the commit a revision names: HEAD, HEAD~1, HEAD^, a
// branch, a tag (annotated or not), or a full or abbreviated SHA.
func (r *Repository) Resolve(rev string) (*Commit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if strings.TrimSpace(rev) == "" {
		return nil, fmt.Errorf("resolve revision: empty revision: %w", ErrUnknownRevision)
	}
	h, err := r.git.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, r.unknown(rev, err)
	}
	c, err := r.git.CommitObject(*h)
	if err != nil {
		return nil, fmt.Errorf("resolve %q: read commit %s: %w", rev, h, err)
	}
	return newCommit(c), nil
}

// unknown explains why rev did not resolve. go-git answers a missing ref,
// a walk past the first commit and an empty repository alike.
func (r *Repository) unknown(rev string, err error) error {
	if _, herr := r.git.Head(); errors.Is(herr, plumbing.ErrReferenceNotFound) {
		return fmt.Errorf("revision %q: the repository has no commits yet: %w", rev, ErrUnknownRevision)
	}
	if errors.Is(err, plumbing.ErrReferenceNotFound) || errors.Is(err, io.EOF) || errors.Is(err, plumbing.ErrObjectNotFound) {
		return fmt.Errorf("revision %q is not a branch, tag or commit of this repository (or goes back past its first commit): %w", rev, ErrUnknownRevision)
	}
	return fmt.Errorf("revision %q: %w: %w", rev, ErrUnknownRevision, err)
}

func newCommit(c *object.Commit) *Commit {
	subject, _, _ := strings.Cut(c.Message, "\n")
	return &Commit{
		SHA:         c.Hash.String(),
		Author:      c.Author.Name,
		AuthorEmail: c.Author.Email,
		Time:        c.Author.When,
		Subject:     strings.TrimSpace(subject),
		Message:     c.Message,
		tree:        c.TreeHash,
	}
}

// treeOf returns a commit's root tree hash; a Commit the caller built
// from a SHA alone has not loaded it yet. The caller holds r.mu.
func (r *Repository) treeOf(c *Commit) (plumbing.Hash, error) {
	if !c.tree.IsZero() {
		return c.tree, nil
	}
	if !plumbing.IsHash(c.SHA) {
		return plumbing.ZeroHash, fmt.Errorf("commit %q: not a full SHA", c.SHA)
	}
	obj, err := r.git.CommitObject(plumbing.NewHash(c.SHA))
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("commit %s: %w", c.SHA, err)
	}
	return obj.TreeHash, nil
}
