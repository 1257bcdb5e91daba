package repo

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestParseConfig(t *testing.T) {
	src := `# settings
paths     = ["jobs/**", "extra/*.nomad"]
exclude   = ["jobs/wip/**"]
var_files = ["vars/common.hcl"]
sensitive = ["DB_DSN", "*_URL"]
prune     = false
`
	cfg, diags := ParseConfig("drover.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := &Config{
		Paths:     []string{"jobs/**", "extra/*.nomad"},
		Exclude:   []string{"jobs/wip/**"},
		VarFiles:  []string{"vars/common.hcl"},
		Sensitive: []string{"DB_DSN", "*_URL"},
		Prune:     false, // set in the file
		SelfHeal:  true,  // the default
	}
	cfg.ranges = nil
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("ParseConfig = %+v, want %+v", cfg, want)
	}
	for key, want := range map[string]bool{"DB_DSN": true, "db_dsn": true, "REDIS_URL": true, "URL": false, "DB_USER": false} {
		if got := cfg.IsSensitive(key); got != want {
			t.Errorf("IsSensitive(%s) = %v, want %v", key, got, want)
		}
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		summary   string // of the first error
		line, col int
		detail    string // substring
	}{
		{"unknown attribute", "paths = [\"a/**\"]\nvar_file = [\"x.hcl\"]\n", "Unsupported argument", 2, 1, `Did you mean "var_files"?`},
		{"unknown block", "jobs \"x\" {}\n", "Unsupported block type", 1, 1, ""},
		{"wrong type", "\nsensitive = \"X\"\n", "Unsuitable value type", 2, 0, "list of string required"},
		{"variable", "paths = [var.x]\n", "Variables not allowed", 1, 10, ""},
		{"syntax", "paths = [\n", "", 2, 0, ""},
		{"bad glob", "exclude = [\"jobs/[\"]\n", "Invalid pattern", 1, 11, `"jobs/["`},
		{"absolute glob", "paths = [\"/jobs/**\"]\n", "Invalid pattern", 1, 9, "relative"},
		{"escaping var file", "var_files = [\"../x.hcl\"]\n", "Invalid variables file path", 1, 13, ""},
		{"non-boolean prune", "prune = \"no\"\n", "Unsuitable value type", 1, 10, "a bool is required"},
		{"duplicate var file", "var_files = [\"a.hcl\", \"a.hcl\"]\n", "Duplicate variables file", 1, 13, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := ParseConfig("drover.hcl", []byte(tc.src))
			if !diags.HasErrors() {
				t.Fatalf("no error for %q", tc.src)
			}
			d := diags[0]
			if tc.summary != "" && d.Summary != tc.summary {
				t.Errorf("summary = %q, want %q (%s)", d.Summary, tc.summary, d.Detail)
			}
			if d.Subject == nil || d.Subject.Filename != "drover.hcl" || d.Subject.Start.Line != tc.line ||
				(tc.col != 0 && d.Subject.Start.Column != tc.col) {
				t.Errorf("subject = %v, want drover.hcl:%d:%d", d.Subject, tc.line, tc.col)
			}
			if !strings.Contains(d.Detail, tc.detail) {
				t.Errorf("detail = %q, want it to contain %q", d.Detail, tc.detail)
			}
		})
	}
}

func TestSelectsJob(t *testing.T) {
	cfg := &Config{Paths: []string{"jobs/**"}, Exclude: []string{"jobs/wip/**"}}
	vars := map[string]bool{"jobs/shared.hcl": true}
	for p, want := range map[string]bool{
		"jobs/web.hcl":            true,
		"jobs/a/b/web.nomad.hcl":  true,
		"jobs/web.nomad":          true,
		"jobs/web.json":           false,
		"jobs/prod.vars.hcl":      false,
		"jobs/prod.auto.vars.hcl": false,
		"jobs/shared.hcl":         false, // a var file
		"jobs/wip/x.hcl":          false,
		"jobs/.hidden/x.hcl":      false,
		"other/web.hcl":           false,
		"drover.hcl":              false,
	} {
		if got := cfg.selectsJob(p, vars); got != want {
			t.Errorf("selectsJob(%s) = %v, want %v", p, got, want)
		}
	}
	def := DefaultConfig()
	for p, want := range map[string]bool{"web.hcl": true, "a/b.nomad": true, "drover.hcl": false, "a/drover.hcl": true, ".github/x.hcl": false} {
		if got := def.selectsJob(p, nil); got != want {
			t.Errorf("default selectsJob(%s) = %v, want %v", p, got, want)
		}
	}
}

func TestInvalidConfigStopsLoad(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"drover.hcl": "exclude = [\"jobs/**\"]\npath = 1\n",
		"jobs/a.hcl": minimalJob("a"),
	})
	r, err := NewLoader(LoadOptions{}).Load(context.Background(), DirSource(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Diagnostics) != 1 {
		t.Fatalf("diagnostics = %v, want one for drover.hcl", r.Diagnostics)
	}
	d := r.Diagnostics[0]
	if d.Severity != hcl.DiagError || d.Subject.Filename != "drover.hcl" || d.Subject.Start.Line != 2 {
		t.Errorf("diagnostic = %v", d)
	}
	if !strings.Contains(d.Detail, `Did you mean "paths"?`) {
		t.Errorf("detail %q has no suggestion", d.Detail)
	}
	if len(r.Jobs) != 0 {
		t.Errorf("jobs loaded despite broken drover.hcl")
	}
	var out strings.Builder
	if err := r.WriteDiagnostics(&out, 0, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "drover.hcl line 2") || !strings.Contains(out.String(), "path = 1") {
		t.Errorf("WriteDiagnostics output has no position or snippet:\n%s", out.String())
	}
}
