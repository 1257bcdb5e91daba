package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/sync/errgroup"

	"github.com/droverhq/drover/jobspec"
)

// LoadOptions are the variable inputs that come from the command line
// rather than the repository.
type LoadOptions struct {
	// Vars are -var name=value pairs.
	Vars map[string]string
	// VarFiles are -var-file paths on disk, applied in order after the
	// repository's var_files. They are read at every Load, so an edit is
	// seen by the next reload.
	VarFiles []string
	// Environ is the process environment (os.Environ() form); only
	// DROVER_VAR_ and NOMAD_VAR_ entries are used.
	Environ []string
	// CheckConfig checks task config blocks against driver schemas (see
	// jobspec.ParseOptions). It must be the same function for the life
	// of the Loader: cached parses were checked with it.
	CheckConfig jobspec.ConfigChecker
}

// Loader loads repositories, caching each job file's parse by its blob
// hash, path and variable inputs. A Loader is safe for concurrent use.
type Loader struct {
	opts LoadOptions

	mu sync.Mutex
	// cache is by variable-inputs fingerprint, then file: the fingerprint
	// is the same for a whole load, so it is hashed once, not per file.
	cache map[string]map[fileKey]*cacheEntry
	size  int    // entries in cache
	gen   uint64 // counts loads; an entry remembers the last that used it

	// last is the most recent load's outcome, so that a reload compares
	// listings in one ordered pass and touches only what changed, instead
	// of looking ten thousand files up in the cache and rebuilding the
	// job map. It is replaced whole, never changed, and guarded by mu.
	last *lastLoad

	parses atomic.Uint64
	hits   atomic.Uint64
}

// lastLoad is one load's job files and their outcomes.
type lastLoad struct {
	fp string
	// files are the job files by path; Hash is the hash their result was
	// parsed from, or "" where the result is not reusable (not cached).
	files   []File
	results []result
	entries []*cacheEntry
	// jobs is the Repo's Jobs map as built, a private copy. It is only
	// set when no two files declared the same ID, which is when it can be
	// patched file by file.
	jobs map[string]*jobspec.File
}

// keepGenerations is how many loads an unused cache entry survives. It
// lets a caller alternate between a few revisions (HEAD~1, HEAD, the
// working tree) without re-parsing.
const keepGenerations = 8

// fileKey is a file's cache key within one variables fingerprint (which
// covers every variable input, so changing one re-parses).
type fileKey struct {
	hash string
	// path is in the key because diagnostics and jobspec.File name the
	// file: a renamed file with the same content must say its new name.
	path string
}

type cacheEntry struct {
	file  *jobspec.File
	diags hcl.Diagnostics
	hash  string // of the bytes parsed
	// src is kept only when there are diagnostics to show a snippet of.
	src     []byte
	lastGen uint64
}

// Stats counts a Loader's work since it was made.
type Stats struct {
	// Parses is the number of job files parsed.
	Parses uint64
	// CacheHits is the number of job files whose parse came from cache.
	CacheHits uint64
}

// NewLoader returns a Loader with an empty cache.
func NewLoader(opts LoadOptions) *Loader {
	// Copies: the Loader reads them from several goroutines for its
	// whole life, and a caller reusing its map must not race with that.
	opts.Vars = maps.Clone(opts.Vars)
	opts.VarFiles = slices.Clone(opts.VarFiles)
	opts.Environ = slices.Clone(opts.Environ)
	return &Loader{opts: opts, cache: make(map[string]map[fileKey]*cacheEntry)}
}

// Stats returns the Loader's counters.
func (l *Loader) Stats() Stats {
	return Stats{Parses: l.parses.Load(), CacheHits: l.hits.Load()}
}

// Load lists, reads and parses a source's job files. The error is only for
// failures to read (I/O, a cancelled ctx); problems in the files, drover.hcl
// included, are in Repo.Diagnostics. The returned jobspec.Files are shared
// with the cache and with other Repos: treat them as read-only.
func (l *Loader) Load(ctx context.Context, src Source) (*Repo, error) {
	files, err := src.Files(ctx)
	if err != nil {
		return nil, fmt.Errorf("list files: %w", err)
	}
	if d, ok := src.(listedDropper); ok {
		defer d.dropListed()
	}
	r := &Repo{
		Config:  DefaultConfig(),
		Jobs:    make(map[string]*jobspec.File),
		Sources: make(map[string][]byte),
		src:     src,
	}
	_, explicit := src.(explicitSource)
	cf, ok, dup := findConfig(files)
	if dup != nil && !explicit {
		r.Diagnostics = append(r.Diagnostics, dup)
		return r.finish(), nil
	}
	if ok && !explicit {
		stop, err := r.loadConfig(ctx, cf)
		if err != nil {
			return nil, err
		}
		if stop {
			// With broken settings we would pick the wrong files and
			// variables: report drover.hcl alone.
			return r.finish(), nil
		}
	}

	varFiles, err := r.readVarFiles(ctx, files, l.opts.VarFiles)
	if err != nil {
		return nil, err
	}
	opts := &jobspec.ParseOptions{
		Vars:        l.opts.Vars,
		VarFiles:    varFiles,
		Environ:     varEnviron(l.opts.Environ),
		CheckConfig: l.opts.CheckConfig,
	}
	fp := fingerprint(opts)

	isVarFile := make(map[string]bool, len(r.Config.VarFiles))
	for _, v := range r.Config.VarFiles {
		isVarFile[v] = true
	}
	jobFiles := make([]File, 0, len(files))
	for _, f := range files {
		if explicit || r.Config.selectsJob(f.Path, isVarFile) {
			jobFiles = append(jobFiles, f)
		}
	}
	byPath := func(a, b File) int { return strings.Compare(a.Path, b.Path) }
	if !slices.IsSortedFunc(jobFiles, byPath) { // sources usually list in order
		slices.SortFunc(jobFiles, byPath)
	}

	l.mu.Lock()
	prev := l.last
	l.mu.Unlock()
	if prev != nil && prev.fp != fp {
		prev = nil
	}
	results, next, err := l.parseAll(ctx, src, jobFiles, opts, fp, prev)
	if err != nil {
		return nil, err
	}
	r.Files = jobFiles
	needSource := r.addJobs(jobFiles, results, prev)
	if len(needSource) == 0 {
		next.jobs = maps.Clone(r.Jobs)
	}
	l.mu.Lock()
	l.last = next
	l.mu.Unlock()
	for _, f := range needSource {
		data, _, err := readText(ctx, src, f)
		if err != nil {
			return nil, err
		}
		r.Sources[f.Path] = data
	}
	if err := r.loadSealed(ctx, files, isVarFile); err != nil { // sealed.go
		return nil, err
	}
	if len(r.Config.Jobs) > 0 && !r.Diagnostics.HasErrors() {
		// Only now: with a broken job file its job is missing, and an
		// "unknown dependency" on it would only add noise.
		ids := make([]string, 0, len(r.Jobs))
		for id := range r.Jobs {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		r.Diagnostics = append(r.Diagnostics, r.Config.CheckJobs(ids)...)
	}
	return r.finish(), nil
}

// listedDropper is a source that keeps what its listing read for
// ReadFile (dirSource): a load tells it when it is done reading.
type listedDropper interface{ dropListed() }

// loadConfig reads drover.hcl into r.Config. stop is true when the
// settings are unusable.
func (r *Repo) loadConfig(ctx context.Context, f File) (stop bool, err error) {
	src, diag, err := readText(ctx, r.src, f)
	if err != nil {
		return false, err
	}
	if diag != nil {
		r.Diagnostics = append(r.Diagnostics, diag)
		return true, nil
	}
	r.Sources[f.Path] = src
	cfg, diags := ParseConfig(f.Path, src)
	r.Diagnostics = append(r.Diagnostics, diags...)
	if diags.HasErrors() {
		return true, nil
	}
	r.Config = cfg
	return false, nil
}

// readVarFiles returns the repository's var_files then the command line's,
// in the order they apply.
func (r *Repo) readVarFiles(ctx context.Context, files []File, cli []string) ([]jobspec.VarFile, error) {
	var out []jobspec.VarFile
	for _, name := range r.Config.VarFiles {
		f, ok := findFile(files, name)
		if !ok {
			d := &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Variables file not found",
				Detail:   fmt.Sprintf("var_files names %q, which is not a file of the repository.", name),
			}
			if rng, ok := r.Config.ranges["var_files"]; ok {
				d.Subject = rng.Ptr()
			}
			r.Diagnostics = append(r.Diagnostics, d)
			continue
		}
		src, diag, err := readText(ctx, r.src, f)
		if err != nil {
			return nil, err
		}
		if diag != nil {
			r.Diagnostics = append(r.Diagnostics, diag)
			continue
		}
		r.Sources[name] = src
		out = append(out, jobspec.VarFile{Name: name, Src: src})
	}
	for _, name := range cli {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		src, err := readOSFile(name)
		if err != nil {
			return nil, fmt.Errorf("read variables file: %w", err)
		}
		r.Sources[name] = src
		out = append(out, jobspec.VarFile{Name: name, Src: src})
	}
	return out, nil
}

// findFile looks a path up in a listing. A scan, not a map: it is done
// for a handful of names, and a map of ten thousand paths costs more.
func findFile(files []File, p string) (File, bool) {
	for _, f := range files {
		if f.Path == p {
			return f, true
		}
	}
	return File{}, false
}

// result is one job file's outcome.
type result struct {
	file  *jobspec.File
	diags hcl.Diagnostics
	src   []byte // set when diags is not empty
}

// parseAll parses files on a bounded pool. Cache lookups come first, in
// one pass under the lock, so that a reload where one file changed does
// not start ten thousand goroutines. A file the previous load (prev, for
// the same variables) had with the same path and hash takes that load's
// result without a lookup: both listings are sorted, so one merge pass
// finds them. It returns the results and this load's lastLoad, whose jobs
// map the caller fills in.
func (l *Loader) parseAll(ctx context.Context, src Source, files []File, opts *jobspec.ParseOptions, fp string, prev *lastLoad) ([]result, *lastLoad, error) {
	results := make([]result, len(files))
	next := &lastLoad{
		fp:      fp,
		files:   make([]File, len(files)),
		results: results,
		entries: make([]*cacheEntry, len(files)),
	}
	var misses []int

	l.mu.Lock()
	l.gen++
	gen := l.gen
	byFile := l.cache[fp]
	j := 0
	for i, f := range files {
		next.files[i].Path = f.Path
		if f.Hash == "" {
			misses = append(misses, i)
			continue
		}
		if prev != nil {
			for j < len(prev.files) && prev.files[j].Path < f.Path {
				j++
			}
			if j < len(prev.files) && prev.files[j] == f && prev.entries[j] != nil {
				e := prev.entries[j]
				e.lastGen = gen
				results[i] = prev.results[j]
				next.files[i].Hash, next.entries[i] = f.Hash, e
				continue
			}
		}
		if e, ok := byFile[fileKey{f.Hash, f.Path}]; ok {
			e.lastGen = gen
			results[i] = result{file: e.file, diags: e.diags, src: e.src}
			next.files[i].Hash, next.entries[i] = f.Hash, e
			continue
		}
		misses = append(misses, i)
	}
	l.mu.Unlock()
	l.hits.Add(uint64(len(files) - len(misses)))

	// A fixed set of workers, each taking the next file, rather than a
	// goroutine per file: the parser recurses deeply, and a fresh
	// goroutine grows its stack anew for every file.
	g, gctx := errgroup.WithContext(ctx)
	var cursor atomic.Int64
	for range min(runtime.GOMAXPROCS(0), len(misses)) {
		g.Go(func() error {
			for {
				k := int(cursor.Add(1)) - 1
				if k >= len(misses) {
					return nil
				}
				i := misses[k]
				res, e, err := l.parseOne(gctx, src, files[i], opts, fp, gen)
				if err != nil {
					return err
				}
				results[i] = res
				// Reusable by the next load only under the listed hash:
				// a file that changed since listing was parsed from
				// other bytes.
				if e != nil && e.hash == files[i].Hash {
					next.files[i].Hash, next.entries[i] = files[i].Hash, e
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	l.sweep(gen, len(files))
	return results, next, nil
}

// parseOne reads and parses one file, or finds it in the cache under the
// hash of what it read. The entry is nil for an outcome not cached.
func (l *Loader) parseOne(ctx context.Context, src Source, f File, opts *jobspec.ParseOptions, fp string, gen uint64) (result, *cacheEntry, error) {
	data, diag, err := readText(ctx, src, f)
	if err != nil {
		return result{}, nil, err
	}
	if diag != nil {
		// Not cached: the file may have no hash (too large to read), and
		// rejecting it again costs no parse.
		return result{diags: hcl.Diagnostics{diag}}, nil, nil
	}
	// Key the parse by the bytes actually read: a working-tree file can
	// change between listing and reading, and a parse filed under the
	// listed hash would be served for that old content later.
	key := fileKey{BlobHash(data), f.Path}
	if key.hash != f.Hash {
		if e, ok := l.lookup(fp, key, gen); ok {
			return result{file: e.file, diags: e.diags, src: e.src}, e, nil
		}
	}

	l.parses.Add(1)
	// Under the parse budget and ctx: a file that asks for too much is
	// refused with a positioned error (and cached like any other), but
	// an outcome cut short by ctx says nothing about the file.
	file, diags := jobspec.ParseContext(ctx, f.Path, data, opts)
	if err := ctx.Err(); err != nil {
		return result{}, nil, err
	}
	e := &cacheEntry{file: file, diags: diags, hash: key.hash, lastGen: gen}
	if len(diags) > 0 {
		e.src = data
	}
	l.mu.Lock()
	byFile := l.cache[fp]
	if byFile == nil {
		byFile = make(map[fileKey]*cacheEntry)
		l.cache[fp] = byFile
	}
	if _, ok := byFile[key]; !ok {
		l.size++
	}
	byFile[key] = e
	l.mu.Unlock()
	return result{file: e.file, diags: e.diags, src: e.src}, e, nil
}

func (l *Loader) lookup(fp string, key fileKey, gen uint64) (*cacheEntry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.cache[fp][key]
	if !ok {
		return nil, false
	}
	e.lastGen = gen
	l.hits.Add(1)
	return e, true
}

// sweep drops entries no recent load used, once the cache has grown well
// past the size of a load: edits and variable changes leave dead entries.
func (l *Loader) sweep(gen uint64, loaded int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size <= 2*loaded+128 {
		return
	}
	for fp, byFile := range l.cache {
		for k, e := range byFile {
			if e.lastGen+keepGenerations < gen {
				delete(byFile, k)
				l.size--
			}
		}
		if len(byFile) == 0 {
			delete(l.cache, fp)
		}
	}
}

// readText reads a file that must be HCL text. A file that is not (too
// large, binary, not UTF-8) yields a diagnostic rather than an error.
func readText(ctx context.Context, src Source, f File) ([]byte, *hcl.Diagnostic, error) {
	data, err := src.ReadFile(ctx, f)
	if errors.Is(err, ErrTooLarge) {
		return nil, fileDiagnostic(f.Path, "File too large",
			fmt.Sprintf("%s is larger than %d MiB, which no job file needs. Remove it or exclude it in drover.hcl.", f.Path, MaxFileSize>>20)), nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", f.Path, err)
	}
	if d := checkText(f.Path, data); d != nil {
		return nil, d, nil
	}
	return data, nil, nil
}

// varEnviron keeps the environment entries the parser reads variables
// from, so that unrelated changes (PWD, a new shell) do not change the
// fingerprint and empty the cache.
func varEnviron(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "DROVER_VAR_") || strings.HasPrefix(kv, "NOMAD_VAR_") {
			out = append(out, kv)
		}
	}
	sort.Strings(out)
	return out
}

// fingerprint hashes every variable input of a parse.
func fingerprint(opts *jobspec.ParseOptions) string {
	h := sha256.New()
	field := func(s string) {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	keys := make([]string, 0, len(opts.Vars))
	for k := range opts.Vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	field("vars")
	for _, k := range keys {
		field(k)
		field(opts.Vars[k])
	}
	field("var-files")
	for _, vf := range opts.VarFiles {
		field(vf.Name)
		field(string(vf.Src))
	}
	field("environ")
	for _, kv := range opts.Environ {
		field(kv)
	}
	return hex.EncodeToString(h.Sum(nil))
}
