package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildVarPut(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("from-file"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(dir, "spec.hcl")
	if err := os.WriteFile(spec, []byte("path = \"ignored\"\nitems {\n  a = \"1\"\n  b = \"2\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		args  []string
		in    string
		stdin string
		path  string
		items map[string]string
		err   string
	}{
		{"pairs", []string{"a/b", "k=v", "x=y=z"}, "json", "", "a/b", map[string]string{"k": "v", "x": "y=z"}, ""},
		{"file value", []string{"a", "pw=@" + pw}, "json", "", "a", map[string]string{"pw": "from-file"}, ""},
		{"stdin value", []string{"a", "pw=-"}, "json", "typed", "a", map[string]string{"pw": "typed"}, ""},
		{"json spec on stdin", []string{"-", "extra=1"}, "json", `{"Path":"s/p","Items":{"k":"v"}}`, "s/p", map[string]string{"k": "v", "extra": "1"}, ""},
		{"hcl spec on stdin", []string{"-"}, "hcl", "path = \"h/p\"\nitems {\n  k = \"v\"\n}\n", "h/p", map[string]string{"k": "v"}, ""},
		{"spec file after path", []string{"p/q", "@" + spec, "b=override"}, "json", "", "p/q", map[string]string{"a": "1", "b": "override"}, ""},
		{"not a pair", []string{"a", "novalue"}, "json", "", "", nil, "want KEY=VALUE"},
		{"stdin twice", []string{"-", "k=-"}, "json", `{"Path":"x","Items":{}}`, "", nil, "stdin is already read"},
		{"spec without path", []string{"-"}, "json", `{"Items":{"k":"v"}}`, "", nil, "names no Path"},
		{"bad json", []string{"-"}, "json", `{`, "", nil, "not a JSON variable specification"},
		{"missing file", []string{"a", "k=@" + filepath.Join(dir, "nope")}, "json", "", "", nil, "no such file"},
	} {
		v, err := buildVarPut(c.args, c.in, stdio{in: strings.NewReader(c.stdin)})
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if v.Path != c.path || len(v.Items) != len(c.items) {
			t.Errorf("%s: %+v", c.name, v)
			continue
		}
		for k, want := range c.items {
			if v.Items[k] != want {
				t.Errorf("%s: item %s = %q, want %q", c.name, k, v.Items[k], want)
			}
		}
	}
}
