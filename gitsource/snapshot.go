package gitsource

import (
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/droverhq/drover/repo"
)

// Snapshot returns the commit's tree as a repo.Source, read from the
// object store. Paths are relative to the repository root.
func (r *Repository) Snapshot(c *Commit) repo.Source {
	return &snapshot{r: r, commit: c}
}

// SnapshotDir is Snapshot of one folder of the tree (slash-separated,
// relative to the root), for a job repository that is a folder of a larger
// Git repository. Paths are relative to that folder, as a DirSource of
// the same folder would give them.
func (r *Repository) SnapshotDir(c *Commit, dir string) repo.Source {
	return &snapshot{r: r, commit: c, dir: strings.Trim(path.Clean("/"+dir), "/")}
}

type snapshot struct {
	r      *Repository
	commit *Commit
	dir    string
}

var _ repo.Source = (*snapshot)(nil)

// Files lists the tree's regular and executable files, and the symlinks
// that lead to one of them, as DirSource does with a checkout: Git stores
// a link's target path, so a link is listed with its target's blob.
// Submodules, hidden folders and links to folders or outside the tree
// are left out, as DirSource leaves them out.
func (s *snapshot) Files(ctx context.Context) ([]repo.File, error) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	return s.files(ctx)
}

// files is Files for a caller that holds s.r.mu.
func (s *snapshot) files(ctx context.Context) ([]repo.File, error) {
	root, err := s.r.treeOf(s.commit)
	if err != nil {
		return nil, err
	}
	if s.dir != "" {
		t, err := s.r.git.TreeObject(root)
		if err != nil {
			return nil, fmt.Errorf("commit %s: read tree: %w", s.commit.SHA, err)
		}
		e, err := t.FindEntry(s.dir)
		if err != nil || e.Mode != filemode.Dir {
			return nil, fmt.Errorf("commit %s has no folder %s", short(s.commit.SHA), s.dir)
		}
		root = e.Hash
	}
	s.r.listGen++
	w, err := s.walk(ctx, root, "")
	if err != nil {
		return nil, err
	}
	s.r.sweepTrees()
	return s.addLinks(*w), nil
}

// walker is a tree's listing: its files, and its symlinks for resolving
// once the whole tree is known. Cached listings are shared: never append
// to one in place.
type walker struct {
	files []repo.File
	links []repo.File // Hash is the link blob's
	gen   uint64      // the last listing that used it
}

// treeKey names a cached listing. The prefix is part of it because the
// same tree can sit at two paths.
type treeKey struct {
	hash   plumbing.Hash
	prefix string
}

// maxLinkHops bounds a chain of links to links, which may loop.
const maxLinkHops = 8

// addLinks resolves the walk's symlinks against its files. The caller
// holds s.r.mu.
func (s *snapshot) addLinks(w walker) []repo.File {
	if len(w.links) == 0 {
		// A copy: the caller may sort or append to what it gets.
		return append([]repo.File(nil), w.files...)
	}
	byPath := make(map[string]string, len(w.files)+len(w.links))
	targets := make(map[string]string, len(w.links))
	for _, f := range w.files {
		byPath[f.Path] = f.Hash
	}
	for _, l := range w.links {
		b, err := s.r.git.BlobObject(plumbing.NewHash(l.Hash))
		if err != nil || b.Size > 4096 {
			continue
		}
		rd, err := b.Reader()
		if err != nil {
			continue
		}
		target, err := io.ReadAll(rd)
		rd.Close()
		if err != nil {
			continue
		}
		targets[l.Path] = string(target)
	}
	files := append([]repo.File(nil), w.files...)
	for _, l := range w.links {
		p := l.Path
		for range maxLinkHops {
			t, ok := targets[p]
			if !ok {
				break
			}
			if path.IsAbs(t) {
				p = ""
				break
			}
			p = path.Join(path.Dir(p), t)
		}
		if h, ok := byPath[p]; ok {
			files = append(files, repo.File{Path: l.Path, Hash: h})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files
}

// walk lists the files of tree h, whose path is prefix. A listing is
// kept by tree hash: a commit that changed one file shares every other
// folder's listing with its parent, so only the trees on the changed
// path are read again. The caller holds s.r.mu.
func (s *snapshot) walk(ctx context.Context, h plumbing.Hash, prefix string) (*walker, error) {
	key := treeKey{h, prefix}
	if w, ok := s.r.trees[key]; ok {
		w.gen = s.r.listGen
		return w, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := s.r.git.TreeObject(h)
	if err != nil {
		return nil, fmt.Errorf("commit %s: read tree %s: %w", short(s.commit.SHA), prefix, err)
	}
	w := &walker{gen: s.r.listGen}
	for _, e := range t.Entries {
		if strings.HasPrefix(e.Name, ".") {
			continue
		}
		p := prefix + e.Name
		switch e.Mode {
		case filemode.Dir:
			sub, err := s.walk(ctx, e.Hash, p+"/")
			if err != nil {
				return nil, err
			}
			w.files = append(w.files, sub.files...)
			w.links = append(w.links, sub.links...)
		case filemode.Regular, filemode.Executable, filemode.Deprecated:
			w.files = append(w.files, repo.File{Path: p, Hash: e.Hash.String()})
		case filemode.Symlink:
			w.links = append(w.links, repo.File{Path: p, Hash: e.Hash.String()})
		}
	}
	s.r.trees[key] = w
	return w, nil
}

// ReadFile reads a blob by its hash, or by path when the File has none.
func (s *snapshot) ReadFile(ctx context.Context, f repo.File) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h := plumbing.NewHash(f.Hash)
	if f.Hash == "" {
		var err error
		s.r.mu.Lock()
		h, err = s.blobAt(ctx, f.Path)
		s.r.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	g, err := s.r.blobs.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("commit %s: read %s: %w", short(s.commit.SHA), f.Path, err)
	}
	defer s.r.blobs.put(g)
	b, err := g.BlobObject(h)
	if err != nil {
		return nil, fmt.Errorf("commit %s: read %s: %w", short(s.commit.SHA), f.Path, err)
	}
	if b.Size > repo.MaxFileSize {
		return nil, fmt.Errorf("%s: %d bytes: %w", f.Path, b.Size, repo.ErrTooLarge)
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("commit %s: read %s: %w", short(s.commit.SHA), f.Path, err)
	}
	defer rd.Close()
	data := make([]byte, b.Size)
	if _, err := io.ReadFull(rd, data); err != nil {
		return nil, fmt.Errorf("commit %s: read %s: %w", short(s.commit.SHA), f.Path, err)
	}
	return data, nil
}

// blobAt finds the blob at a path of the snapshot. The caller holds s.r.mu.
func (s *snapshot) blobAt(ctx context.Context, p string) (plumbing.Hash, error) {
	root, err := s.r.treeOf(s.commit)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	t, err := s.r.git.TreeObject(root)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("commit %s: read tree: %w", short(s.commit.SHA), err)
	}
	e, err := t.FindEntry(path.Join(s.dir, p))
	if err == nil && e.Mode == filemode.Symlink {
		// Resolving a link takes the listing; a rare path.
		files, err := s.files(ctx)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		for _, f := range files {
			if f.Path == p {
				return plumbing.NewHash(f.Hash), nil
			}
		}
	}
	if err != nil || !e.Mode.IsFile() || e.Mode == filemode.Symlink {
		return plumbing.ZeroHash, fmt.Errorf("commit %s has no file %s", short(s.commit.SHA), p)
	}
	return e.Hash, nil
}

func short(sha string) string {
	return sha[:min(len(sha), 12)]
}
