package reconciler

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/repo"
)

// Fetched is the fetch step's result: the tracked branch's newest commit.
type Fetched struct {
	Repo   *gitsource.Repository
	Commit *gitsource.Commit
	// Files is the commit's tree (the source's folder of it) for Load.
	Files repo.Source
	// Transferred is false when nothing was downloaded: a local
	// repository, or a remote whose branch had not moved.
	Transferred bool
}

// Fetcher is the fetch step of one source.
type Fetcher interface {
	Fetch(ctx context.Context) (*Fetched, error)
	// Reset drops cached Git state: the next Fetch reopens the
	// repository (after an object turned out missing, for example when
	// git gc packed loose objects).
	Reset()
}

// NewFetcher returns the fetcher of a source: the repository read in
// place for a local path, a mirror in cacheDir/<name> otherwise.
func NewFetcher(cfg SourceConfig, cacheDir string) (Fetcher, error) {
	if cfg.Local() {
		return &localFetcher{path: cfg.URL, branch: cfg.Branch, dir: cfg.Path}, nil
	}
	auth, err := cfg.ReadAuth()
	if err != nil {
		return nil, err
	}
	m := gitsource.NewMirror(cfg.URL, cfg.Branch, filepath.Join(cacheDir, cfg.Name+".git"), auth)
	return &mirrorFetcher{m: m, branch: cfg.Branch, dir: cfg.Path}, nil
}

// localFetcher reads a repository on this machine. It keeps the
// Repository open between passes, so that tree listings stay cached:
// git commit writes loose objects, which an open Repository sees.
type localFetcher struct {
	path, branch, dir string
	repo              *gitsource.Repository
}

func (f *localFetcher) Reset() { f.repo = nil }

func (f *localFetcher) Fetch(ctx context.Context) (*Fetched, error) {
	for attempt := 0; ; attempt++ {
		if f.repo == nil {
			r, err := gitsource.Open(f.path)
			if err != nil {
				return nil, stepErr("fetch", Stalled, err)
			}
			f.repo = r
		}
		c, err := f.repo.Resolve("refs/heads/" + f.branch)
		if err == nil {
			return &Fetched{Repo: f.repo, Commit: c, Files: snapshot(f.repo, c, f.dir)}, nil
		}
		if attempt == 0 {
			// A ref that moved to a packed object, or packed refs:
			// reopen once before concluding.
			f.repo = nil
			continue
		}
		if errors.Is(err, gitsource.ErrUnknownRevision) {
			return nil, stepErr("fetch", Stalled, fmt.Errorf("branch %q: %w: %w", f.branch, gitsource.ErrBranchNotFound, err))
		}
		return nil, stepErr("fetch", Failed, err)
	}
}

// mirrorFetcher keeps a mirror of a remote up to date.
type mirrorFetcher struct {
	m           *gitsource.Mirror
	branch, dir string
	repo        *gitsource.Repository
}

func (f *mirrorFetcher) Reset() { f.repo = nil }

func (f *mirrorFetcher) Fetch(ctx context.Context) (*Fetched, error) {
	res, err := f.m.Sync(ctx)
	if err != nil {
		kind := Failed
		if errors.Is(err, gitsource.ErrBranchNotFound) || errors.Is(err, gitsource.ErrAuth) {
			kind = Stalled
		}
		return nil, stepErr("fetch", kind, err)
	}
	if res.Fetched || f.repo == nil {
		// A fetch adds a pack, which an open Repository does not see.
		r, err := f.m.Open()
		if err != nil {
			return nil, stepErr("fetch", Failed, err)
		}
		f.repo = r
	}
	c, err := f.repo.Resolve(res.Head)
	if err != nil {
		f.repo = nil
		return nil, stepErr("fetch", Failed, err)
	}
	return &Fetched{Repo: f.repo, Commit: c, Files: snapshot(f.repo, c, f.dir), Transferred: res.Fetched}, nil
}

func snapshot(r *gitsource.Repository, c *gitsource.Commit, dir string) repo.Source {
	if dir == "" {
		return r.Snapshot(c)
	}
	return r.SnapshotDir(c, dir)
}
