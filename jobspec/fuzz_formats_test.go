package jobspec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fuzzSeeds converts the corpus to fmt (json, yaml, hcljson).
func fuzzSeeds(f *testing.F, format string) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.hcl"))
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		p, _ := Parse(filepath.Base(path), src, corpusVars)
		if p == nil {
			continue
		}
		var out []byte
		switch format {
		case "json":
			out, err = MarshalAPIJSON(p.Job)
		case "yaml":
			out, err = MarshalAPIYAML(p.Job)
		case "hcljson":
			out = toHCLJSON(f, src)
		}
		if err == nil {
			f.Add(out)
		}
	}
	f.Add([]byte(`{"Job": {"ID": "x"}} {}`))
	f.Add([]byte("a: &a [x, x]\nb: &b [*a, *a]\nJob: {ID: x}\n"))
}

// fuzzLoad: any input gives a job or an error diagnostic, quickly, and a
// job that is returned is valid.
func fuzzLoad(t *testing.T, name string, src []byte) {
	start := time.Now()
	f, diags := Parse(name, src, nil)
	if f == nil && !diags.HasErrors() {
		t.Fatal("no job and no error")
	}
	if f != nil {
		if errs := ValidateJob(f.Job); len(errs) > 0 {
			t.Fatalf("returned an invalid job: %v", errs)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
}

func FuzzAPIJobJSON(f *testing.F) {
	fuzzSeeds(f, "json")
	f.Fuzz(func(t *testing.T, src []byte) {
		fuzzLoad(t, "f.job.json", src)
		// The hand-written parser (json_tree.go) is no laxer than
		// encoding/json.
		if _, diags := jsonTree("f.job.json", src); !diags.HasErrors() && !json.Valid(src) {
			t.Fatalf("accepted invalid JSON %q", src)
		}
	})
}

func FuzzAPIJobYAML(f *testing.F) {
	fuzzSeeds(f, "yaml")
	f.Fuzz(func(t *testing.T, src []byte) { fuzzLoad(t, "f.job.yaml", src) })
}

func FuzzHCLJSON(f *testing.F) {
	fuzzSeeds(f, "hcljson")
	f.Fuzz(func(t *testing.T, src []byte) { fuzzLoad(t, "f.nomad.json", src) })
}
