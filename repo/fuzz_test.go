package repo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// memSource is an in-memory Source, so the fuzzer spends its time in the
// loader rather than in the file system.
type memSource map[string][]byte

func (m memSource) Files(ctx context.Context) ([]File, error) {
	var files []File
	for p, b := range m {
		files = append(files, File{Path: p, Hash: BlobHash(b)})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

func (m memSource) ReadFile(ctx context.Context, f File) ([]byte, error) {
	b, ok := m[f.Path]
	if !ok {
		return nil, os.ErrNotExist
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%s: %w", f.Path, ErrTooLarge)
	}
	return b, nil
}

func FuzzLoadRepo(f *testing.F) {
	seeds, _ := filepath.Glob("../../shared/testdata/nomad-jobspecs/*.hcl")
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, []byte(""))
	}
	f.Add([]byte(minimalJob("a")), []byte(`paths = ["jobs/**"]`))
	f.Add([]byte(serviceJob(3)), []byte("var_files = [\"vars.hcl\"]\nsensitive = [\"*_URL\"]"))
	f.Add([]byte(minimalJob("b")), []byte(`exclude = ["jobs/a.hcl"]`))
	f.Add([]byte("job \"x\" {\x00\xff"), []byte("paths = [\"[\"]"))
	f.Add([]byte(`variable "image" {}`+"\n"+varJob), []byte(`var_files = ["jobs/a.hcl"]`))

	f.Fuzz(func(t *testing.T, job, cfg []byte) {
		src := memSource{
			"jobs/a.hcl": job,
			"jobs/b.hcl": []byte(minimalJob("b")),
			"vars.hcl":   []byte(`image = "x"`),
			"drover.hcl": cfg,
		}
		l := NewLoader(LoadOptions{Vars: map[string]string{"replicas": "2"}})
		r, err := l.Load(context.Background(), src)
		if err != nil {
			t.Fatalf("Load of an in-memory source failed: %v", err)
		}
		for id, jf := range r.Jobs {
			if jf == nil || jf.Job == nil || jf.Job.ID != id {
				t.Fatalf("Jobs[%q] = %+v", id, jf)
			}
		}
		for i := 1; i < len(r.Diagnostics); i++ {
			a, b := r.Diagnostics[i-1].Subject, r.Diagnostics[i].Subject
			if a != nil && b != nil && a.Filename > b.Filename {
				t.Fatalf("diagnostics not sorted by file: %s before %s", a.Filename, b.Filename)
			}
		}
		var out bytes.Buffer
		if err := r.WriteDiagnostics(&out, 80, true); err != nil {
			t.Fatal(err)
		}

		// A reload is served from the cache and says the same.
		before := l.Stats().Parses
		r2, err := l.Load(context.Background(), src)
		if err != nil {
			t.Fatal(err)
		}
		if l.Stats().Parses != before {
			t.Fatalf("an unchanged reload parsed %d files", l.Stats().Parses-before)
		}
		if len(r2.Diagnostics) != len(r.Diagnostics) || len(r2.Jobs) != len(r.Jobs) {
			t.Fatalf("reload differs: %d/%d diagnostics, %d/%d jobs",
				len(r2.Diagnostics), len(r.Diagnostics), len(r2.Jobs), len(r.Jobs))
		}
	})
}
