package jobspec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// toHCLJSON rewrites a native HCL file in HCL's JSON syntax, keeping every
// expression as written (as "${expr}"), so that parsing both must give the
// same job. Blocks become arrays of objects, the form that allows repeats.
func toHCLJSON(t testing.TB, src []byte) []byte {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, "in.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %s", diags)
	}
	out, err := json.MarshalIndent(jsonOfBody(src, f.Body.(*hclsyntax.Body)), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func jsonOfBody(src []byte, b *hclsyntax.Body) map[string]any {
	return jsonOfBlockBody(src, b, "")
}

func jsonOfBlockBody(src []byte, b *hclsyntax.Body, typ string) map[string]any {
	m := map[string]any{}
	for name, a := range b.Attributes {
		m[name] = jsonOfExpr(src, a.Expr)
		if typ == "variable" && name == "type" {
			r := a.Expr.Range()
			m[name] = string(src[r.Start.Byte:r.End.Byte])
		}
	}
	for _, blk := range b.Blocks {
		var v any = jsonOfBlockBody(src, blk.Body, blk.Type)
		for i := len(blk.Labels) - 1; i >= 0; i-- {
			v = map[string]any{blk.Labels[i]: v}
		}
		prev, _ := m[blk.Type].([]any)
		m[blk.Type] = append(prev, v)
	}
	return m
}

func escapeTemplate(s string) string {
	return strings.NewReplacer("${", "$${", "%{", "%%{").Replace(s)
}

func jsonOfExpr(src []byte, e hclsyntax.Expression) any {
	text := func(x hclsyntax.Expression) string {
		r := x.Range()
		return string(src[r.Start.Byte:r.End.Byte])
	}
	switch n := e.(type) {
	case *hclsyntax.TemplateExpr:
		var sb strings.Builder
		for _, p := range n.Parts {
			if lit, ok := p.(*hclsyntax.LiteralValueExpr); ok {
				sb.WriteString(escapeTemplate(lit.Val.AsString()))
				continue
			}
			sb.WriteString("${" + text(p) + "}")
		}
		return sb.String()
	case *hclsyntax.TemplateWrapExpr:
		return "${" + text(n.Wrapped) + "}"
	case *hclsyntax.TupleConsExpr:
		out := []any{}
		for _, x := range n.Exprs {
			out = append(out, jsonOfExpr(src, x))
		}
		return out
	case *hclsyntax.ObjectConsExpr:
		out := map[string]any{}
		for _, it := range n.Items {
			k := text(it.KeyExpr)
			k = strings.Trim(k, `"`)
			out[k] = jsonOfExpr(src, it.ValueExpr)
		}
		return out
	}
	return "${" + text(e) + "}"
}

// TestHCLJSONCorpus: every corpus file that parses, rewritten in HCL's
// JSON syntax, parses to the same job; variables and functions included.
func TestHCLJSONCorpus(t *testing.T) {
	for _, path := range corpusFiles(t) {
		name := filepath.Base(path)
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := Parse(name, src, corpusVars)
		if want == nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			js := toHCLJSON(t, src)
			got, diags := Parse(strings.TrimSuffix(name, ".hcl")+".nomad.json", js, corpusVars)
			if diags.HasErrors() {
				t.Fatalf("%s\n%s", diags, js)
			}
			if !reflect.DeepEqual(got.Job, want.Job) {
				t.Errorf("jobs differ:\n%s", firstDiff(got.Job, want.Job))
			}
		})
	}
}

func TestHCLJSONPositionedErrors(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"typo", `{
  "job": {
    "web": {
      "datacenter": ["dc1"],
      "group": {"g": {"task": {"t": {"driver": "docker"}}}}
    }
  }
}`, `x.nomad.json:4,7-19: Unsupported argument; An argument named "datacenter" is not expected in a job block. Did you mean "datacenters"?`},
		{"syntax", "{\"job\": {\"web\": {,}}}", "x.nomad.json:1,18-19: Invalid object property name"},
		{"trailing", "{\"job\": {}} {}", "x.nomad.json:1,13"},
		{"bad template", `{"job": {"web": {"region": "${var.}"}}}`, "x.nomad.json:1,35-36: Invalid attribute name"},
		// Escaped newlines do not count as lines: the error stays on line 1.
		{"escapes", `{"job": {"web": {"region": "a\nb\n${var.}"}}}`, "x.nomad.json:1,"},
		{"unknown var", `{"job": {"web": {"region": "${var.nope}", "group": {"g": {"task": {"t": {"driver": "docker"}}}}}}}`, "x.nomad.json:1,34-39: Unsupported attribute"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, diags := Parse("x.nomad.json", []byte(tc.src), nil)
			if f != nil || !diags.HasErrors() {
				t.Fatalf("want an error, got %+v", f)
			}
			if got := diags.Error(); !strings.Contains(got, tc.want) {
				t.Errorf("got %q\nwant it to contain %q", got, tc.want)
			}
		})
	}
}

func TestHCLJSONVariablesAndFunctions(t *testing.T) {
	src := `{
  "variable": {"image": {"type": "string", "default": "nginx"}, "n": {"type": "number", "default": 2}},
  "locals": {"tag": "${upper(var.image)}"},
  "job": {"web": {
    "datacenters": ["dc1"],
    "meta": {"tag": "${local.tag}"},
    "group": {"g": {
      "count": "${var.n + 1}",
      "task": {"t": {"driver": "docker", "config": {"image": "${var.image}:1", "ports": ["http"]}}}
    }}
  }}
}`
	f, diags := Parse("x.hcl.json", []byte(src), &ParseOptions{Vars: map[string]string{"image": "redis"}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	g := f.Job.Groups[0]
	if g.Count != 3 || f.Job.Meta["tag"] != "REDIS" || g.Tasks[0].Config["image"] != "redis:1" {
		t.Errorf("got count %d meta %v config %v", g.Count, f.Job.Meta, g.Tasks[0].Config)
	}
}

// firstDiff shows where two jobs' JSON forms first differ.
func firstDiff(got, want any) string {
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	gl, wl := strings.Split(string(g), "\n"), strings.Split(string(w), "\n")
	for i := 0; i < len(gl) && i < len(wl); i++ {
		if gl[i] != wl[i] {
			lo := max(0, i-3)
			return "got:\n" + strings.Join(gl[lo:min(len(gl), i+3)], "\n") + "\nwant:\n" + strings.Join(wl[lo:min(len(wl), i+3)], "\n")
		}
	}
	return "lengths differ"
}

// TestHCLJSONVarFileDiagnostics: a -var-file's error keeps its own
// position when the job file is JSON.
func TestHCLJSONVarFileDiagnostics(t *testing.T) {
	src := `{"variable": {"n": {"type": "number"}}, "job": {"web": {"group": {"g": {"count": "${var.n}", "task": {"t": {"driver": "docker"}}}}}}}`
	_, diags := Parse("x.nomad.json", []byte(src), &ParseOptions{VarFiles: []VarFile{{Name: "prod.vars.hcl", Src: []byte("\n\nn = \"many\"\n")}}})
	if !strings.Contains(diags.Error(), "prod.vars.hcl:3,") {
		t.Fatalf("got %v", diags)
	}
}
