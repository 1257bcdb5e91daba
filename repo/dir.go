package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// racyWindow is how old a file's mtime must be, when we hash it, for the
// hash to be reused on a later listing without reading the file again.
// A file written within the same clock tick as our read could change
// without changing its stat (Git's "racily clean" problem); file systems
// with coarse timestamps have 1-2 s ticks.
const racyWindow = 2 * time.Second

// DirSource is a Source of a working-tree directory. It lists regular
// files, follows symlinks to files inside dir, and skips hidden files and
// folders (which covers .git), symlinks that lead outside dir and
// symlinked folders (which could loop). It is a Git working tree's view
// only in content: untracked and ignored files are listed too.
//
// Listing hashes each file; the hash is reused while the file's size and
// mtime (and on Linux its inode and ctime) are unchanged, so keep one
// DirSource and reuse it across loads.
func DirSource(dir string) Source {
	return &dirSource{dir: dir, cache: make(map[string]statHash)}
}

type dirSource struct {
	dir string

	mu    sync.Mutex          // held for a whole listing
	cache map[string]statHash // by slash path
	// cached is cache's content sorted by path, so that a listing,
	// sorted too, finds its files' hashes in one merge pass rather than
	// ten thousand map lookups; the map is only written where it changes.
	cached []cachedFile
}

type cachedFile struct {
	rel string
	statHash
}

var _ Source = (*dirSource)(nil)

// statHash is a file's blob hash and the stat it was computed for.
type statHash struct {
	stat statKey
	hash string
}

// dirEntry is a file found by the walk, before hashing.
type dirEntry struct {
	rel  string // slash path
	stat statKey
}

func (d *dirSource) Files(ctx context.Context) ([]File, error) {
	root, err := filepath.Abs(d.dir)
	if err != nil {
		return nil, err
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", d.dir, err)
	}
	entries, err := walkDir(ctx, root, realRoot)
	if err != nil {
		return nil, err
	}

	// One listing at a time updates the cache in place.
	d.mu.Lock()
	defer d.mu.Unlock()

	// Stat results came from the walk; hashing is only needed for new or
	// changed files, and those are read in parallel.
	files := make([]File, len(entries))
	var stale []int // entries to hash
	j := 0
	for i, e := range entries {
		files[i].Path = e.rel
		for j < len(d.cached) && d.cached[j].rel < e.rel {
			delete(d.cache, d.cached[j].rel) // gone from the tree
			j++
		}
		if j < len(d.cached) && d.cached[j].rel == e.rel {
			c := d.cached[j]
			j++
			if c.stat == e.stat {
				files[i].Hash = c.hash
				continue
			}
		}
		stale = append(stale, i)
	}
	for ; j < len(d.cached); j++ {
		delete(d.cache, d.cached[j].rel)
	}
	// Taken before reading: a file is racy if it changed within the
	// window before we read it.
	now := time.Now().UnixNano()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, i := range stale {
		g.Go(func() error {
			name := filepath.Join(root, filepath.FromSlash(entries[i].rel))
			h, err := hashOSFile(gctx, name, entries[i].stat.size)
			files[i].Hash = h
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	for _, i := range stale {
		e := entries[i]
		if files[i].Hash != "" && now-e.stat.mtime > int64(racyWindow) {
			d.cache[e.rel] = statHash{stat: e.stat, hash: files[i].Hash}
		} else {
			delete(d.cache, e.rel)
		}
	}
	// The next listing's sorted view: every file the map now holds, and
	// only those. A stale file is in it exactly when the loop above kept
	// it; every other file with a hash came from the cache unchanged.
	cached := make([]cachedFile, 0, len(d.cache))
	k := 0
	for i, e := range entries {
		if k < len(stale) && stale[k] == i {
			k++
			if c, ok := d.cache[e.rel]; ok {
				cached = append(cached, cachedFile{e.rel, c})
			}
			continue
		}
		cached = append(cached, cachedFile{e.rel, statHash{stat: e.stat, hash: files[i].Hash}})
	}
	d.cached = cached
	return files, nil
}

func (d *dirSource) ReadFile(ctx context.Context, f File) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return readOSFile(filepath.Join(d.dir, filepath.FromSlash(f.Path)))
}

// hashOSFile returns a file's blob hash, or "" for a file too large to be
// read at all (ReadFile reports that).
func hashOSFile(ctx context.Context, name string, size int64) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if size > MaxFileSize {
		return "", nil
	}
	fh, err := os.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil // deleted since the walk; ReadFile will say so
		}
		return "", err
	}
	defer fh.Close()
	// Hash what we read, with the size we read: the file may be written
	// meanwhile, and the header must match the content.
	b, err := readLimited(fh, size, name)
	if errors.Is(err, ErrTooLarge) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return BlobHash(b), nil
}

// walkDir lists the regular files under root, sorted by path. Folders are
// read in parallel: a stat per file dominates the cost of listing a
// large tree.
func walkDir(ctx context.Context, root, realRoot string) ([]dirEntry, error) {
	var (
		mu     sync.Mutex
		byFold = make(map[string][]dirEntry) // each folder's files
	)
	g, gctx := errgroup.WithContext(ctx)
	// Folders schedule their subfolders, so the limit must not make a
	// parent wait for a slot its own children hold: TryGo falls back to
	// walking inline.
	g.SetLimit(runtime.GOMAXPROCS(0))
	var walk func(rel string) error
	walk = func(rel string) error {
		if err := gctx.Err(); err != nil {
			return err
		}
		abs := filepath.Join(root, filepath.FromSlash(rel))
		dir, err := os.Open(abs)
		if err != nil {
			if rel != "" && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked
			}
			return fmt.Errorf("read folder: %w", err)
		}
		defer dir.Close()
		// File.ReadDir, unlike os.ReadDir, does not sort: the result is
		// sorted once at the end.
		des, err := dir.ReadDir(-1)
		if err != nil {
			return fmt.Errorf("read folder %s: %w", abs, err)
		}
		var found []dirEntry
		for _, de := range des {
			name := de.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			child := name
			if rel != "" {
				child = rel + "/" + name // names from ReadDir need no cleaning
			}
			switch typ := de.Type(); {
			case typ.IsDir():
				if !g.TryGo(func() error { return walk(child) }) {
					if err := walk(child); err != nil {
						return err
					}
				}
				continue
			case typ&fs.ModeSymlink != 0:
				info, ok := resolveLink(filepath.Join(abs, name), realRoot)
				if !ok {
					continue
				}
				found = append(found, dirEntry{rel: child, stat: statKeyOf(info)})
				continue
			case !typ.IsRegular():
				continue // sockets, FIFOs, devices
			}
			st, err := lstatAt(dir, name)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return fmt.Errorf("stat %s: %w", filepath.Join(abs, name), err)
			}
			found = append(found, dirEntry{rel: child, stat: st})
		}
		// Sorting per folder keeps each sort small; the folders are put
		// in order below.
		slices.SortFunc(found, func(a, b dirEntry) int { return strings.Compare(a.rel, b.rel) })
		mu.Lock()
		byFold[rel] = found
		mu.Unlock()
		return nil
	}
	g.Go(func() error { return walk("") })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	folders := make([]string, 0, len(byFold))
	n := 0
	for rel, found := range byFold {
		folders = append(folders, rel)
		n += len(found)
	}
	slices.Sort(folders)
	out := make([]dirEntry, 0, n)
	for _, rel := range folders {
		out = append(out, byFold[rel]...)
	}
	// Folder order is path order except where a file sorts between
	// folders (a.hcl, a/x.hcl, a0.hcl): pdqsort finishes nearly sorted
	// input in about linear time.
	cmp := func(a, b dirEntry) int { return strings.Compare(a.rel, b.rel) }
	if !slices.IsSortedFunc(out, cmp) {
		slices.SortFunc(out, cmp)
	}
	return out, nil
}

// resolveLink returns the stat of a symlink's target when it is a regular
// file inside realRoot.
func resolveLink(link, realRoot string) (fs.FileInfo, bool) {
	target, err := filepath.EvalSymlinks(link)
	if err != nil {
		return nil, false // dangling
	}
	rel, err := filepath.Rel(realRoot, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, false
	}
	// A hidden target is as good as absent: the walk, and a Git
	// snapshot's, never see it.
	if rel := filepath.ToSlash(rel); strings.HasPrefix(rel, ".") || strings.Contains(rel, "/.") {
		return nil, false
	}
	info, err := os.Stat(target)
	if err != nil || !info.Mode().IsRegular() {
		return nil, false
	}
	return info, true
}
