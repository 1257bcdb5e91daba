package repo

import (
	"context"
	"fmt"
	"io"
	"maps"

	"github.com/hashicorp/hcl/v2"

	"github.com/droverhq/drover/jobspec"
)

// Repo is a loaded job repository.
type Repo struct {
	// Config is drover.hcl, or DefaultConfig when there is none or it has
	// errors.
	Config *Config
	// Jobs are the parsed jobs by ID. A file with errors has no entry;
	// of two files declaring the same ID, the first by path has it.
	Jobs map[string]*jobspec.File
	// Diagnostics are every file's, sorted by file then position.
	Diagnostics hcl.Diagnostics
	// Files are the job files, sorted by path.
	Files []File
	// Sealed are the sealed variables of *.sealed.hcl files, by path
	// then position, not yet decrypted (sealed.go).
	Sealed []*SealedVariable
	// Sources holds the bytes of every file a diagnostic points into,
	// plus drover.hcl and the variables files, by the name diagnostics
	// use. ReadFile reads any other file.
	Sources map[string][]byte

	src Source
}

// HasErrors reports whether any diagnostic is an error.
func (r *Repo) HasErrors() bool {
	return r.Diagnostics.HasErrors()
}

// ReadFile reads one file of the repository's source by path.
func (r *Repo) ReadFile(ctx context.Context, path string) ([]byte, error) {
	if b, ok := r.Sources[path]; ok {
		return b, nil
	}
	return r.src.ReadFile(ctx, File{Path: path})
}

// WriteDiagnostics prints the diagnostics as file:line:col with a source
// snippet, wrapped at width columns (0: no wrapping), in color if asked.
func (r *Repo) WriteDiagnostics(w io.Writer, width uint, color bool) error {
	files := make(map[string]*hcl.File, len(r.Sources))
	for name, src := range r.Sources {
		files[name] = &hcl.File{Bytes: src}
	}
	return hcl.NewDiagnosticTextWriter(w, files, width, color).WriteDiagnostics(r.Diagnostics)
}

// JobMap returns the jobs by ID.
func (r *Repo) JobMap() map[string]*jobspec.Job {
	m := make(map[string]*jobspec.Job, len(r.Jobs))
	for id, f := range r.Jobs {
		m[id] = f.Job
	}
	return m
}

// addJobs collects parse results, in path order so that which of two
// duplicates wins does not depend on scheduling. It returns the files
// whose bytes a duplicate-ID diagnostic needs for its snippet: they parsed
// cleanly, so the cache did not keep them.
//
// When the previous load had the same files by path and no duplicate IDs,
// its job map is copied and patched where a file's outcome changed, which
// spares reading ten thousand jobs' IDs to rebuild it.
func (r *Repo) addJobs(files []File, results []result, prev *lastLoad) (needSource []File) {
	if prev != nil && prev.jobs != nil && r.patchJobs(files, results, prev) {
		for i, res := range results {
			r.Diagnostics = append(r.Diagnostics, res.diags...)
			if res.src != nil {
				r.Sources[files[i].Path] = res.src
			}
		}
		return nil
	}
	r.Jobs = make(map[string]*jobspec.File, len(files))
	for i, res := range results {
		r.Diagnostics = append(r.Diagnostics, res.diags...)
		if res.src != nil {
			r.Sources[files[i].Path] = res.src
		}
		if res.file == nil || res.file.Job == nil {
			continue
		}
		id := res.file.Job.ID
		if first, ok := r.Jobs[id]; ok {
			r.Diagnostics = append(r.Diagnostics, duplicateJob(id, first, res.file))
			needSource = append(needSource, files[i])
			continue
		}
		r.Jobs[id] = res.file
	}
	return needSource
}

// patchJobs sets r.Jobs to prev's jobs with the changes of results, and
// reports false, leaving r.Jobs alone, when the change is not a plain edit
// of the same files or makes two files declare one ID.
func (r *Repo) patchJobs(files []File, results []result, prev *lastLoad) bool {
	if len(files) != len(prev.files) {
		return false
	}
	var changed []int
	for i := range files {
		if files[i].Path != prev.files[i].Path {
			return false
		}
		if results[i].file != prev.results[i].file {
			changed = append(changed, i)
		}
	}
	jobs := maps.Clone(prev.jobs)
	// Every old ID first, then every new one, so that two files swapping
	// IDs is not taken for a duplicate.
	for _, i := range changed {
		if old := prev.results[i].file; old != nil && old.Job != nil {
			delete(jobs, old.Job.ID) // prev had no duplicates: old held it
		}
	}
	for _, i := range changed {
		f := results[i].file
		if f == nil || f.Job == nil {
			continue
		}
		if _, dup := jobs[f.Job.ID]; dup {
			return false
		}
		jobs[f.Job.ID] = f
	}
	r.Jobs = jobs
	return true
}

func duplicateJob(id string, first, second *jobspec.File) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Duplicate job ID",
		Detail: fmt.Sprintf("Job %q is declared at %s and again at %s. Job IDs must be unique across the repository: rename one of them.",
			id, position(first.JobRange), position(second.JobRange)),
		Subject: second.JobRange.Ptr(),
	}
}

func position(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

func (r *Repo) finish() *Repo {
	r.Diagnostics = dedupDiagnostics(r.Diagnostics)
	sortDiagnostics(r.Diagnostics)
	return r
}
