package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/repo"
)

// DesiredJob is one job of a commit.
type DesiredJob struct {
	Spec *jobspec.Job
	Hash string
	// Path is the job file, relative to the repository root.
	Path string
}

// Desired is the state a commit asks for.
type Desired struct {
	// Jobs by key (namespace/id, see jobKey).
	Jobs      map[string]DesiredJob
	Settings  Settings
	Sensitive []string
	// Deps orders rollouts: the job blocks of drover.hcl. nil orders
	// nothing.
	Deps *repo.Config
	// Repo is the loaded repository, for plans and diagnostics.
	Repo *repo.Repo
}

// jobKey names a job across namespaces.
func jobKey(namespace, id string) string {
	if namespace == "" {
		namespace = "default"
	}
	return namespace + "/" + id
}

// Load is the load step: the source's jobs and settings, or a Rejected
// *StepError whose Errors are every error diagnostic as
// "file:line:col: summary: detail". prefix is the folder of the source in
// the repository ("" for the root), prepended to paths in provenance and
// diagnostics.
func Load(ctx context.Context, loader *repo.Loader, hashes *HashCache, src repo.Source, prefix string) (*Desired, error) {
	r, err := loader.Load(ctx, src)
	if err != nil {
		return nil, stepErr("load", Failed, err)
	}
	errs := diagStrings(r.Diagnostics)
	if len(errs) > 0 {
		for i := range errs {
			errs[i] = joinPath(prefix, errs[i])
		}
		e := stepErr("load", Rejected, fmt.Errorf("the commit has %d invalid file(s): %s", len(errs), errs[0]))
		e.Errors = errs
		return nil, e
	}
	d := &Desired{Jobs: make(map[string]DesiredJob, len(r.Jobs)), Settings: SettingsFrom(r.Config), Sensitive: r.Config.Sensitive, Deps: r.Config, Repo: r}
	files := make([]*jobspec.File, 0, len(r.Jobs))
	jobs := make([]*jobspec.Job, 0, len(r.Jobs))
	for _, f := range r.Jobs {
		files = append(files, f)
		jobs = append(jobs, f.Job)
	}
	sums := hashes.hash(jobs)
	for i, f := range files {
		j := f.Job
		d.Jobs[jobKey(j.Namespace, j.ID)] = DesiredJob{Spec: j, Hash: sums[i], Path: joinPath(prefix, f.JobRange.Filename)}
	}
	return d, nil
}

// HashCache remembers job hashes by parsed job. The loader shares a parse
// between commits while the file's blob is unchanged, so a commit that
// changes one file of ten thousand hashes one job, not ten thousand
// (hashing is a JSON encoding). A nil HashCache hashes every time.
type HashCache struct {
	mu sync.Mutex
	// last and older are the two latest loads': a pass loads the new
	// commit and the last applied one, and both stay warm.
	last, older map[*jobspec.Job]string
}

// hash returns the jobs' hashes, keeping the last two loads' in the cache.
func (c *HashCache) hash(jobs []*jobspec.Job) []string {
	out := make([]string, len(jobs))
	if c == nil {
		for i, j := range jobs {
			out[i] = j.Hash()
		}
		return out
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make(map[*jobspec.Job]string, len(jobs))
	for i, j := range jobs {
		h, ok := c.last[j]
		if !ok {
			if h, ok = c.older[j]; !ok {
				h = j.Hash()
			}
		}
		out[i], next[j] = h, h
	}
	c.older, c.last = c.last, next
	return out
}

func joinPath(prefix, p string) string {
	if prefix == "" {
		return p
	}
	return strings.TrimSuffix(prefix, "/") + "/" + p
}

// diagStrings renders error diagnostics as "file:line:col: summary:
// detail", the form sync status shows and editors jump to.
func diagStrings(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		s := d.Summary
		if d.Detail != "" {
			s += ": " + d.Detail
		}
		if d.Subject != nil {
			s = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, s)
		}
		out = append(out, s)
	}
	return out
}

// IsRejected reports whether err rejected the commit.
func IsRejected(err error) bool {
	var se *StepError
	return errors.As(err, &se) && se.Kind == Rejected
}
