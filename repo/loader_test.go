package repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

func load(t *testing.T, l *Loader, src Source) *Repo {
	t.Helper()
	r, err := l.Load(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func jobIDs(r *Repo) []string {
	ids := make([]string, 0, len(r.Jobs))
	for id := range r.Jobs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func TestLoadSelectsJobFiles(t *testing.T) {
	parserReady(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"drover.hcl": `paths   = ["jobs/**"]
exclude = ["jobs/wip/**"]
sensitive = ["DB_DSN", "*_URL"]
`,
		"jobs/web.nomad.hcl":   minimalJob("web"),
		"jobs/team/api.nomad":  minimalJob("api"),
		"jobs/wip/draft.hcl":   "this is not HCL {",
		"jobs/prod.vars.hcl":   "x = 1\n",
		"jobs/notes.md":        "# notes",
		"other/ignored.hcl":    "neither {",
		".github/workflow.hcl": "nor {",
	})
	r := load(t, NewLoader(LoadOptions{}), DirSource(dir))
	if len(r.Diagnostics) > 0 {
		t.Fatalf("diagnostics: %v", r.Diagnostics)
	}
	if got := fmt.Sprint(jobIDs(r)); got != "[api web]" {
		t.Errorf("jobs = %s, want [api web]", got)
	}
	if !r.Config.IsSensitive("REDIS_URL") {
		t.Error("sensitive from drover.hcl not honoured")
	}
	if r.Jobs["web"].Path != "jobs/web.nomad.hcl" {
		t.Errorf("web path = %s", r.Jobs["web"].Path)
	}
	if r.JobMap()["api"].ID != "api" {
		t.Errorf("JobMap = %v", r.JobMap())
	}
}

const varJob = `variable "image" {
  type = string
}

job "web" {
  group "g" {
    task "t" {
      driver = "docker"
      config {
        image = var.image
      }
    }
  }
}
`

func TestLoadVarFiles(t *testing.T) {
	parserReady(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"drover.hcl":      `var_files = ["vars/common.hcl"]`,
		"vars/common.hcl": `image = "nginx:1"`,
		"web.hcl":         varJob,
	})
	l := NewLoader(LoadOptions{})
	src := DirSource(dir)
	r := load(t, l, src)
	if r.HasErrors() {
		t.Fatalf("diagnostics: %v", r.Diagnostics)
	}
	if got := r.Jobs["web"].Job.Groups[0].Tasks[0].Config["image"]; got != "nginx:1" {
		t.Errorf("image = %v, want nginx:1 from the repository's var file", got)
	}
	if len(r.Jobs) != 1 {
		t.Errorf("the var file was loaded as a job: %v", jobIDs(r))
	}

	// A command-line var file applies after the repository's.
	cli := filepath.Join(t.TempDir(), "prod.hcl")
	writeTree(t, filepath.Dir(cli), map[string]string{"prod.hcl": `image = "nginx:2"`})
	r = load(t, NewLoader(LoadOptions{VarFiles: []string{cli}}), src)
	if got := r.Jobs["web"].Job.Groups[0].Tasks[0].Config["image"]; got != "nginx:2" {
		t.Errorf("image = %v, want nginx:2 from -var-file", got)
	}

	// Changing a variable input re-parses; the same inputs do not.
	before := l.Stats().Parses
	writeTree(t, dir, map[string]string{"vars/common.hcl": `image = "nginx:3"`})
	r = load(t, l, src)
	if got := r.Jobs["web"].Job.Groups[0].Tasks[0].Config["image"]; got != "nginx:3" {
		t.Errorf("image = %v after editing the var file, want nginx:3", got)
	}
	if n := l.Stats().Parses - before; n != 1 {
		t.Errorf("editing the var file parsed %d files, want 1", n)
	}
	load(t, l, src)
	if n := l.Stats().Parses - before; n != 1 {
		t.Errorf("an unchanged reload parsed again (%d parses)", n)
	}
}

func TestLoadMissingVarFile(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"drover.hcl": "\nvar_files = [\"vars/nope.hcl\"]\n",
		"web.hcl":    minimalJob("web"),
	})
	r := load(t, NewLoader(LoadOptions{}), DirSource(dir))
	d := findDiag(r.Diagnostics, "Variables file not found")
	if d == nil {
		t.Fatalf("no diagnostic for a missing var file: %v", r.Diagnostics)
	}
	if d.Subject == nil || d.Subject.Filename != "drover.hcl" || d.Subject.Start.Line != 2 {
		t.Errorf("subject = %v, want drover.hcl line 2", d.Subject)
	}
}

func findDiag(diags hcl.Diagnostics, summary string) *hcl.Diagnostic {
	for _, d := range diags {
		if d.Summary == summary {
			return d
		}
	}
	return nil
}

func TestDuplicateJobIDs(t *testing.T) {
	parserReady(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"a/web.hcl": minimalJob("web"),
		"b/web.hcl": "# the same job again\n\n" + minimalJob("web"),
	})
	r := load(t, NewLoader(LoadOptions{}), DirSource(dir))
	d := findDiag(r.Diagnostics, "Duplicate job ID")
	if d == nil || d.Severity != hcl.DiagError {
		t.Fatalf("no duplicate error: %v", r.Diagnostics)
	}
	for _, loc := range []string{"a/web.hcl:1:1", "b/web.hcl:3:1"} {
		if !strings.Contains(d.Detail, loc) {
			t.Errorf("detail %q does not name %s", d.Detail, loc)
		}
	}
	if d.Subject == nil || d.Subject.Filename != "b/web.hcl" || d.Subject.Start.Line != 3 {
		t.Errorf("subject = %v, want b/web.hcl line 3", d.Subject)
	}
	if r.Jobs["web"].Path != "a/web.hcl" {
		t.Errorf("kept %s, want the first by path", r.Jobs["web"].Path)
	}
	var out strings.Builder
	if err := r.WriteDiagnostics(&out, 80, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `job "web"`) {
		t.Errorf("no snippet of the duplicate:\n%s", out.String())
	}
}

func TestNotTextFiles(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"x.hcl":      "\x7fELF\x02\x01\x01\x00\x00\x00binary",
		"latin1.hcl": "job \"caf\xe9\" {\n}\n",
	})
	r := load(t, NewLoader(LoadOptions{}), DirSource(dir))
	bin := findDiag(r.Diagnostics, "Binary file")
	if bin == nil || bin.Subject.Filename != "x.hcl" {
		t.Errorf("no binary-file diagnostic on x.hcl: %v", r.Diagnostics)
	}
	u := findDiag(r.Diagnostics, "Invalid UTF-8")
	if u == nil || u.Subject.Filename != "latin1.hcl" || u.Subject.Start.Line != 1 || u.Subject.Start.Column != 9 {
		t.Errorf("invalid UTF-8 diagnostic = %v, want latin1.hcl:1:9", u)
	}
	var out strings.Builder
	if err := r.WriteDiagnostics(&out, 0, false); err != nil {
		t.Fatal(err)
	}
}

func TestSyntaxErrorPositioned(t *testing.T) {
	parserReady(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"good.hcl":     minimalJob("good"),
		"jobs/bad.hcl": "job \"bad\" {\n  group \"g\" {\n    count = \n}\n",
	})
	r := load(t, NewLoader(LoadOptions{}), DirSource(dir))
	if !r.HasErrors() {
		t.Fatal("no error for a broken file")
	}
	if r.Diagnostics[0].Subject == nil || r.Diagnostics[0].Subject.Filename != "jobs/bad.hcl" {
		t.Errorf("first diagnostic = %v", r.Diagnostics[0])
	}
	if _, ok := r.Jobs["good"]; !ok {
		t.Error("a good file next to a broken one was not loaded")
	}
	var out strings.Builder
	if err := r.WriteDiagnostics(&out, 0, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "jobs/bad.hcl line") || !strings.Contains(out.String(), "count =") {
		t.Errorf("no position or snippet:\n%s", out.String())
	}
}

func TestReloadParsesOnlyChanged(t *testing.T) {
	parserReady(t)
	dir := t.TempDir()
	files := make(map[string]string)
	for i := range 50 {
		files[fmt.Sprintf("jobs/svc-%02d.hcl", i)] = serviceJob(i)
	}
	writeTree(t, dir, files)
	ageFiles(t, dir)

	l := NewLoader(LoadOptions{})
	src := DirSource(dir)
	r := load(t, l, src)
	if r.HasErrors() || len(r.Jobs) != 50 {
		t.Fatalf("%d jobs, diagnostics %v", len(r.Jobs), r.Diagnostics)
	}
	if s := l.Stats(); s.Parses != 50 || s.CacheHits != 0 {
		t.Fatalf("cold stats = %+v", s)
	}

	load(t, l, src)
	if s := l.Stats(); s.Parses != 50 || s.CacheHits != 50 {
		t.Errorf("unchanged reload: stats = %+v, want no parse", s)
	}

	writeTree(t, dir, map[string]string{"jobs/svc-07.hcl": strings.Replace(serviceJob(7), "count = 3", "count = 5", 1)})
	r = load(t, l, src)
	if s := l.Stats(); s.Parses != 51 {
		t.Errorf("one changed file: %d parses, want 51", s.Parses)
	}
	if got := r.Jobs["svc-00007"].Job.Groups[0].Count; got != 5 {
		t.Errorf("count = %d, want the edit's 5", got)
	}

	// A renamed file with the same content is parsed again: its
	// diagnostics and jobspec.File name the new path.
	if err := os.Rename(filepath.Join(dir, "jobs/svc-08.hcl"), filepath.Join(dir, "jobs/renamed.hcl")); err != nil {
		t.Fatal(err)
	}
	r = load(t, l, src)
	if s := l.Stats(); s.Parses != 52 {
		t.Errorf("rename: %d parses, want 52", s.Parses)
	}
	if r.Jobs["svc-00008"].Path != "jobs/renamed.hcl" {
		t.Errorf("renamed job path = %s", r.Jobs["svc-00008"].Path)
	}

	// Environment that is not a variable does not invalidate the cache.
	l2 := NewLoader(LoadOptions{Environ: []string{"HOME=/a"}})
	load(t, l2, src)
	l2.opts.Environ = []string{"HOME=/b", "PWD=/x"}
	load(t, l2, src)
	if s := l2.Stats(); s.Parses != 50 {
		t.Errorf("unrelated environment change re-parsed: %+v", s)
	}
}

// ageFiles sets every file's mtime an hour back, as in a checkout that
// is not being edited, so DirSource may reuse its hashes.
func ageFiles(t testing.TB, dir string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFileSource(t *testing.T) {
	parserReady(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"drover.hcl":  `paths = ["nothing/**"]`,
		"a.txt":       minimalJob("a"),
		"b.nomad.hcl": minimalJob("b"),
	})
	r := load(t, NewLoader(LoadOptions{}), FileSource(filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.nomad.hcl")))
	if r.HasErrors() {
		t.Fatal(r.Diagnostics)
	}
	if got := fmt.Sprint(jobIDs(r)); got != "[a b]" {
		t.Errorf("jobs = %s: explicit files are job files whatever their name", got)
	}
	_, err := NewLoader(LoadOptions{}).Load(context.Background(), FileSource(filepath.Join(dir, "missing.hcl")))
	if err == nil {
		t.Error("a missing explicit file is not an error")
	}
}

func TestLoadCancelled(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.hcl": minimalJob("a")})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewLoader(LoadOptions{}).Load(ctx, DirSource(dir)); err == nil {
		t.Error("Load with a cancelled context succeeded")
	}
}

func TestCacheEviction(t *testing.T) {
	parserReady(t)
	src := memSource{"b.hcl": []byte(minimalJob("b"))}
	l := NewLoader(LoadOptions{})
	for i := range 300 {
		// Each load sees a new version of a.hcl; old versions must go.
		src["a.hcl"] = []byte(fmt.Sprintf("# v%d\n%s", i, minimalJob("a")))
		load(t, l, src)
	}
	l.mu.Lock()
	size := l.size
	l.mu.Unlock()
	if size > 2*2+128 {
		t.Errorf("cache holds %d entries after 300 loads of 2 files", size)
	}
	if s := l.Stats(); s.Parses != 301 {
		t.Errorf("parses = %d, want 301 (b.hcl once, a.hcl each time)", s.Parses)
	}
}

// changingSource lists one hash and then reads other content, as a
// working-tree file edited between listing and reading does.
type changingSource struct{ memSource }

func (s changingSource) Files(ctx context.Context) ([]File, error) {
	return []File{{Path: "a.hcl", Hash: BlobHash([]byte(minimalJob("old")))}}, nil
}

func TestParseKeyedByContentRead(t *testing.T) {
	parserReady(t)
	l := NewLoader(LoadOptions{})
	r := load(t, l, changingSource{memSource{"a.hcl": []byte(minimalJob("new"))}})
	if _, ok := r.Jobs["new"]; !ok {
		t.Fatalf("jobs = %v", jobIDs(r))
	}
	// The file goes back to the listed content: it must not get the
	// parse of what was read last time.
	r = load(t, l, memSource{"a.hcl": []byte(minimalJob("old"))})
	if _, ok := r.Jobs["old"]; !ok {
		t.Errorf("jobs = %v, want [old]: a parse was cached under the wrong hash", jobIDs(r))
	}
}
