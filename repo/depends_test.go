package repo

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseJobDependencies(t *testing.T) {
	src := `prune = true

job "api" {
  depends_on = ["postgres"]
}

job "web" {
  depends_on = ["api", "cache"]
}
`
	cfg, diags := ParseConfig("drover.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for id, want := range map[string][]string{"api": {"postgres"}, "web": {"api", "cache"}, "postgres": nil} {
		if got := cfg.DependsOn(id); !reflect.DeepEqual(got, want) {
			t.Errorf("DependsOn(%s) = %q, want %q", id, got, want)
		}
	}
	if got, want := cfg.Requires("web"), []string{"api", "cache", "postgres"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Requires(web) = %q, want %q", got, want)
	}
}

func TestJobDependencyErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		summary   string
		line, col int
		detail    string
	}{
		{"self", "job \"a\" {\n  depends_on = [\"a\"]\n}\n", "Job depends on itself", 2, 17, `"a"`},
		{"duplicate", "job \"a\" {\n  depends_on = [\"b\", \"b\"]\n}\n", "Duplicate dependency", 2, 22, `"b" twice`},
		{"empty", "job \"a\" {\n  depends_on = [\"\"]\n}\n", "Empty dependency", 2, 17, ""},
		{"not a list", "job \"a\" {\n  depends_on = \"b\"\n}\n", "Invalid expression", 2, 17, ""},
		{"variable", "job \"a\" {\n  depends_on = [var.b]\n}\n", "Variables not allowed", 2, 17, ""},
		{"unknown attribute", "job \"a\" {\n  depend_on = [\"b\"]\n}\n", "Unsupported argument", 2, 3, `Did you mean "depends_on"?`},
		{"duplicate block", "job \"a\" {}\njob \"a\" {}\n", "Duplicate job block", 2, 1, "drover.hcl:1,1"},
		{"two-cycle", "job \"a\" {\n  depends_on = [\"b\"]\n}\njob \"b\" {\n  depends_on = [\"a\"]\n}\n", "Dependency cycle", 2, 17, "a → b → a"},
		{"three-cycle from the middle", "job \"web\" {\n  depends_on = [\"api\"]\n}\njob \"api\" {\n  depends_on = [\"postgres\"]\n}\njob \"postgres\" {\n  depends_on = [\"web\"]\n}\n",
			"Dependency cycle", 5, 17, "api → postgres → web → api"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := ParseConfig("drover.hcl", []byte(tc.src))
			if !diags.HasErrors() {
				t.Fatalf("no error for %q", tc.src)
			}
			d := diags[0]
			if d.Summary != tc.summary {
				t.Errorf("summary = %q, want %q (%s)", d.Summary, tc.summary, d.Detail)
			}
			if d.Subject == nil || d.Subject.Filename != "drover.hcl" || d.Subject.Start.Line != tc.line || d.Subject.Start.Column != tc.col {
				t.Errorf("subject = %v, want drover.hcl:%d:%d", d.Subject, tc.line, tc.col)
			}
			if !strings.Contains(d.Detail, tc.detail) {
				t.Errorf("detail = %q, want it to contain %q", d.Detail, tc.detail)
			}
		})
	}
}

func TestCyclesReportedOnce(t *testing.T) {
	cfg := &Config{Jobs: map[string]*JobConfig{
		"a": {ID: "a", DependsOn: []string{"b"}},
		"b": {ID: "b", DependsOn: []string{"c"}},
		"c": {ID: "c", DependsOn: []string{"a", "d"}},
		"d": {ID: "d", DependsOn: []string{"d2"}},
		"x": {ID: "x", DependsOn: []string{"y"}},
		"y": {ID: "y", DependsOn: []string{"x"}},
	}}
	got := cfg.cycles()
	want := [][]string{{"a", "b", "c", "a"}, {"x", "y", "x"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cycles = %q, want %q", got, want)
	}
	if (&Config{Jobs: map[string]*JobConfig{"a": {DependsOn: []string{"b"}}, "b": {DependsOn: []string{"c"}}}}).cycles() != nil {
		t.Error("a chain reported as a cycle")
	}
}

func TestWaves(t *testing.T) {
	cfg := &Config{Jobs: map[string]*JobConfig{
		"web":     {DependsOn: []string{"api"}},
		"api":     {DependsOn: []string{"postgres", "cache"}},
		"worker":  {DependsOn: []string{"postgres"}},
		"metrics": {},
	}}
	for _, tc := range []struct {
		name string
		ids  []string
		want [][]string
	}{
		{"all", []string{"web", "api", "postgres", "cache", "worker", "metrics"},
			[][]string{{"cache", "metrics", "postgres"}, {"api", "worker"}, {"web"}}},
		{"chain", []string{"web", "api", "postgres"}, [][]string{{"postgres"}, {"api"}, {"web"}}},
		// api is unchanged: web still goes after postgres, which it needs
		// through api.
		{"transitive through an unchanged job", []string{"web", "postgres"}, [][]string{{"postgres"}, {"web"}}},
		{"independent", []string{"web", "metrics"}, [][]string{{"metrics", "web"}}},
		{"one", []string{"api"}, [][]string{{"api"}}},
		{"none", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cfg.Waves(tc.ids); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Waves(%q) = %q, want %q", tc.ids, got, tc.want)
			}
		})
	}
	// A cycle (rejected by Validate) still returns every job.
	cyc := &Config{Jobs: map[string]*JobConfig{"a": {DependsOn: []string{"b"}}, "b": {DependsOn: []string{"a"}}}}
	if got := cyc.Waves([]string{"a", "b", "c"}); !reflect.DeepEqual(got, [][]string{{"c"}, {"a", "b"}}) {
		t.Errorf("Waves on a cycle = %q", got)
	}
}

func TestDidYouMean(t *testing.T) {
	ids := []string{"api", "postgres", "web", "worker"}
	for name, want := range map[string]string{
		"postgress": ` Did you mean "postgres"?`,
		"postgers":  ` Did you mean "postgres"?`,
		"wbe":       ` Did you mean "web"?`,
		"cache":     "",
		"":          "",
		"workers":   ` Did you mean "worker"?`,
	} {
		if got := didYouMean(name, ids); got != want {
			t.Errorf("didYouMean(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestLoadUnknownDependency(t *testing.T) {
	parserReady(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"drover.hcl": "job \"api\" {\n  depends_on = [\"postgres\", \"postgress\"]\n}\njob \"gone\" {}\n",
		"api.hcl":    minimalJob("api"),
		"pg.hcl":     minimalJob("postgres"),
	})
	r := load(t, NewLoader(LoadOptions{}), DirSource(dir))
	d := findDiag(r.Diagnostics, "Unknown dependency")
	if d == nil || d.Subject == nil || d.Subject.Filename != "drover.hcl" || d.Subject.Start.Line != 2 || d.Subject.Start.Column != 29 {
		t.Fatalf("unknown dependency diagnostic = %v, want at drover.hcl:2:29 (%v)", d, r.Diagnostics)
	}
	if !strings.Contains(d.Detail, `"postgress"`) || !strings.Contains(d.Detail, `Did you mean "postgres"?`) {
		t.Errorf("detail = %q", d.Detail)
	}
	if d := findDiag(r.Diagnostics, "Unknown job"); d == nil || d.Subject.Start.Line != 4 {
		t.Errorf("no Unknown job at line 4 for the block of a job without a file: %v", r.Diagnostics)
	}

	// A broken job file is reported alone: its job is missing, and an
	// unknown-dependency error on it would be noise.
	writeTree(t, dir, map[string]string{"drover.hcl": "job \"api\" {\n  depends_on = [\"postgres\"]\n}\n", "pg.hcl": "job \"postgres\" {\n"})
	r = load(t, NewLoader(LoadOptions{}), DirSource(dir))
	if findDiag(r.Diagnostics, "Unknown dependency") != nil || !r.HasErrors() {
		t.Errorf("diagnostics = %v, want the syntax error alone", r.Diagnostics)
	}
}
