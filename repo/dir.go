package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	// folders are the entries of each folder as last read, by slash
	// path ("" for the root). Creating, removing or renaming an entry
	// changes its folder's mtime, so while a folder's stat is unchanged
	// its entries are too and a listing need not read it again: on a
	// large tree the reads cost a quarter of a listing that hashes
	// nothing.
	folders map[string]folderList

	// listedMu guards listed. It is not mu, which a listing holds
	// throughout: ReadFile, called from several goroutines, must not
	// wait for one.
	listedMu sync.Mutex
	// listed holds what the last listing read of files in order to hash
	// them, by slash path, for ReadFile to hand out once: a cold load
	// would otherwise read every file twice, and on a VM those system
	// calls cost a tenth of the load. It is served only for a File
	// whose Hash is the content's, so a caller gets the bytes it
	// listed, never another version; a file changed since then is the
	// same as a file changed just after ReadFile. Bounded by
	// maxListedFile and maxListedTotal, and dropped by the next listing
	// or by dropListed.
	listed map[string]listedContent
}

// listedContent is a file's content as a listing read it.
type listedContent struct {
	hash string
	data []byte
}

// The bounds of dirSource.listed: job files are a few kilobytes, and
// anything larger is read again when asked for.
const (
	maxListedFile  = 64 << 10
	maxListedTotal = 64 << 20
)

// folderList is a folder's visible entries, sorted by name, and the
// folder's stat when they were read.
type folderList struct {
	stat statKey
	ents []folderEnt
}

type folderEnt struct {
	rel string      // slash path from the root, kept to save building it
	typ fs.FileMode // type bits only
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

	// One listing at a time updates the caches in place.
	d.mu.Lock()
	defer d.mu.Unlock()

	// Taken before reading: a file or folder is racy if it changed
	// within the window before we read it.
	now := time.Now().UnixNano()
	entries, folders, err := walkDir(ctx, root, realRoot, d.folders, now)
	if err != nil {
		return nil, err
	}
	d.folders = folders

	// Stat results came from the walk; hashing is only needed for new or
	// changed files, and those are read in parallel.
	files := make([]File, len(entries))
	var stale []int // entries to hash
	removed := 0
	j := 0
	for i, e := range entries {
		files[i].Path = e.rel
		for j < len(d.cached) && d.cached[j].rel < e.rel {
			delete(d.cache, d.cached[j].rel) // gone from the tree
			removed++
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
		removed++
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	content := make([][]byte, len(stale))
	var budget atomic.Int64
	for k, i := range stale {
		g.Go(func() error {
			name := filepath.Join(root, filepath.FromSlash(entries[i].rel))
			h, b, err := hashOSFile(gctx, name, entries[i].stat.size)
			files[i].Hash = h
			if n := int64(len(b)); h != "" && n <= maxListedFile {
				if budget.Add(n) <= maxListedTotal {
					content[k] = b
				}
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	listed := make(map[string]listedContent, len(stale))
	for k, i := range stale {
		if content[k] != nil {
			listed[entries[i].rel] = listedContent{hash: files[i].Hash, data: content[k]}
		}
	}
	d.listedMu.Lock()
	d.listed = listed
	d.listedMu.Unlock()

	for _, i := range stale {
		e := entries[i]
		if files[i].Hash != "" && now-e.stat.mtime > int64(racyWindow) {
			d.cache[e.rel] = statHash{stat: e.stat, hash: files[i].Hash}
		} else {
			delete(d.cache, e.rel)
		}
	}
	d.cached = d.nextCached(entries, files, stale, removed)
	return files, nil
}

// nextCached returns the next listing's sorted view of the cache: every
// file the map now holds, and only those. A stale file is in it exactly
// when the map kept it; every other file with a hash came from the cache
// unchanged. When only a few files changed, as between two reloads, the
// old view is patched in place rather than copied whole.
func (d *dirSource) nextCached(entries []dirEntry, files []File, stale []int, removed int) []cachedFile {
	if removed == 0 && len(stale) <= 64 {
		cached := d.cached
		for _, i := range stale {
			e := entries[i]
			k, found := slices.BinarySearchFunc(cached, e.rel, func(c cachedFile, rel string) int { return strings.Compare(c.rel, rel) })
			c, keep := d.cache[e.rel]
			switch {
			case found && keep:
				cached[k].statHash = c
			case found:
				cached = slices.Delete(cached, k, k+1)
			case keep:
				cached = slices.Insert(cached, k, cachedFile{e.rel, c})
			}
		}
		return cached
	}
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
	return cached
}

func (d *dirSource) ReadFile(ctx context.Context, f File) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if b, ok := d.takeListed(f); ok {
		return b, nil
	}
	return readOSFile(filepath.Join(d.dir, filepath.FromSlash(f.Path)))
}

// takeListed returns, once, the content the last listing read of f,
// when f is that listing's File. It is given away rather than shared, so
// no two callers hold the same bytes.
func (d *dirSource) takeListed(f File) ([]byte, bool) {
	if f.Hash == "" {
		return nil, false
	}
	d.listedMu.Lock()
	defer d.listedMu.Unlock()
	c, ok := d.listed[f.Path]
	if !ok || c.hash != f.Hash {
		return nil, false
	}
	delete(d.listed, f.Path)
	return c.data, true
}

// dropListed forgets what the last listing read: the loader calls it once
// it has read what it needs, so that files it did not read (a README,
// files of no job) are not held until the next listing.
func (d *dirSource) dropListed() {
	d.listedMu.Lock()
	d.listed = nil
	d.listedMu.Unlock()
}

// hashOSFile returns a file's blob hash and the content it hashed, or ""
// and nil for a file that cannot be read as a job file at all (ReadFile
// reports why).
func hashOSFile(ctx context.Context, name string, size int64) (string, []byte, error) {
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	if size > MaxFileSize {
		return "", nil, nil
	}
	// Hash what we read, with the size we read: the file may be written
	// meanwhile, and the header must match the content.
	b, err := readRegular(name)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, ErrTooLarge), errors.Is(err, errNotRegular):
		// Deleted or replaced since the walk, or grown too large.
		return "", nil, nil
	case err != nil:
		return "", nil, err
	}
	return BlobHash(b), b, nil
}

// walkDir lists the regular files under root, sorted by path, and
// returns the folders whose entries a later walk may reuse (see
// dirSource.folders): those not changed within racyWindow before now.
// Folders are walked in parallel: a stat per file dominates the cost of
// listing a large tree.
func walkDir(ctx context.Context, root, realRoot string, prev map[string]folderList, now int64) ([]dirEntry, map[string]folderList, error) {
	var (
		mu      sync.Mutex
		byFold  = make(map[string][]dirEntry) // each folder's files
		folders = make(map[string]folderList, len(prev))
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
		list, err := readFolder(dir, rel, prev)
		if err != nil {
			return fmt.Errorf("read folder %s: %w", abs, err)
		}
		found := make([]dirEntry, 0, len(list.ents))
		for _, ent := range list.ents {
			name := path.Base(ent.rel)
			switch typ := ent.typ; {
			case typ.IsDir():
				if !g.TryGo(func() error { return walk(ent.rel) }) {
					if err := walk(ent.rel); err != nil {
						return err
					}
				}
				continue
			case typ&fs.ModeSymlink != 0:
				info, ok := resolveLink(filepath.Join(abs, name), realRoot)
				if !ok {
					continue
				}
				found = append(found, dirEntry{rel: ent.rel, stat: statKeyOf(info)})
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
			found = append(found, dirEntry{rel: ent.rel, stat: st})
		}
		mu.Lock()
		byFold[rel] = found
		if now-list.stat.mtime > int64(racyWindow) {
			folders[rel] = list
		}
		mu.Unlock()
		return nil
	}
	g.Go(func() error { return walk("") })
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(byFold))
	n := 0
	for rel, found := range byFold {
		names = append(names, rel)
		n += len(found)
	}
	slices.Sort(names)
	out := make([]dirEntry, 0, n)
	for _, rel := range names {
		out = append(out, byFold[rel]...)
	}
	// Folder order is path order except where a file sorts between
	// folders (a.hcl, a/x.hcl, a0.hcl): pdqsort finishes nearly sorted
	// input in about linear time.
	cmp := func(a, b dirEntry) int { return strings.Compare(a.rel, b.rel) }
	if !slices.IsSortedFunc(out, cmp) {
		slices.SortFunc(out, cmp)
	}
	return out, folders, nil
}

// readFolder returns an open folder's visible entries, from prev when
// the folder's stat is the one they were read with.
func readFolder(dir *os.File, rel string, prev map[string]folderList) (folderList, error) {
	fi, err := dir.Stat()
	if err != nil {
		return folderList{}, err
	}
	st := statKeyOf(fi)
	if c, ok := prev[rel]; ok && c.stat == st {
		return c, nil
	}
	// File.ReadDir, unlike os.ReadDir, does not sort: the entries are
	// sorted once, without the hidden ones.
	des, err := dir.ReadDir(-1)
	if err != nil {
		return folderList{}, err
	}
	ents := make([]folderEnt, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		child := name
		if rel != "" {
			child = rel + "/" + name // names from ReadDir need no cleaning
		}
		ents = append(ents, folderEnt{rel: child, typ: de.Type()})
	}
	slices.SortFunc(ents, func(a, b folderEnt) int { return strings.Compare(a.rel, b.rel) })
	return folderList{stat: st, ents: ents}, nil
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
