package render

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestDiagnosticsText(t *testing.T) {
	src := []byte("job \"web\" {\n  group \"g\" {\n    cuont = 2\n  }\n}\n")
	rng := func(line, col, endCol int) *hcl.Range {
		return &hcl.Range{Filename: "web.hcl", Start: hcl.Pos{Line: line, Column: col}, End: hcl.Pos{Line: line, Column: endCol}}
	}
	tests := []struct {
		name string
		diag *hcl.Diagnostic
		want []string
		not  []string
	}{
		{
			name: "error with snippet and suggestion",
			diag: &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported argument", Detail: `Did you mean "count"?`, Subject: rng(3, 5, 10)},
			want: []string{"web.hcl:3:5: Error: Unsupported argument\n", "  3 |     cuont = 2\n", "    |     ^^^^^\n", `  Did you mean "count"?`},
		},
		{
			name: "warning",
			diag: &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Deprecated", Subject: rng(1, 1, 4)},
			want: []string{"web.hcl:1:1: Warning: Deprecated\n", "  1 | job \"web\" {\n", "    | ^^^\n"},
		},
		{
			name: "no subject",
			diag: &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate job"},
			want: []string{"Error: Duplicate job\n"},
			not:  []string{" | "},
		},
		{
			name: "line beyond the file",
			diag: &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "x", Subject: rng(99, 1, 2)},
			want: []string{"web.hcl:99:1: Error: x\n"},
			not:  []string{" | "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := DiagnosticsText(&b, hcl.Diagnostics{tt.diag}, map[string][]byte{"web.hcl": src}, false); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
			for _, n := range tt.not {
				if strings.Contains(b.String(), n) {
					t.Errorf("output has %q:\n%s", n, b.String())
				}
			}
			if strings.Contains(b.String(), "\x1b[") {
				t.Errorf("colour codes without colour:\n%q", b.String())
			}
		})
	}
}
