package jobspec

import (
	"strings"
	"testing"
)

func TestCheckConfigPositions(t *testing.T) {
	src := `job "web" {
  group "g" {
    task "t" {
      driver = "docker"
      config {
        imagee = "nginx"
        mount "a" {
          source = 1
        }
      }
    }
  }
}
`
	var gotDriver string
	check := func(driver string, cfg map[string]any) []ConfigProblem {
		gotDriver = driver
		var ps []ConfigProblem
		if _, ok := cfg["imagee"]; ok {
			ps = append(ps, ConfigProblem{Path: "imagee", Msg: `unknown attribute; did you mean "image"?`})
		}
		if _, ok := cfg["image"]; !ok {
			ps = append(ps, ConfigProblem{Path: "image", Msg: "required"})
		}
		ps = append(ps, ConfigProblem{Path: "mount[0].a[0].source", Msg: "want a string"})
		return ps
	}
	tests := []struct {
		path      string
		line, col int
	}{
		{"imagee", 6, 9},
		{"image", 5, 7},
		{"mount", 7, 9},
	}
	f, diags := Parse("web.hcl", []byte(src), &ParseOptions{CheckConfig: check})
	if f != nil || len(diags) != 3 {
		t.Fatalf("got file %v and %d diagnostics, want none and 3: %v", f != nil, len(diags), diags)
	}
	if gotDriver != "docker" {
		t.Errorf("checker got driver %q", gotDriver)
	}
	for _, tt := range tests {
		found := false
		for _, d := range diags {
			if strings.HasPrefix(d.Detail, tt.path) && d.Subject.Start.Line == tt.line && d.Subject.Start.Column == tt.col {
				found = true
			}
		}
		if !found {
			t.Errorf("no diagnostic for %s at %d:%d in %v", tt.path, tt.line, tt.col, diags)
		}
	}

	// Without a checker the same file parses: config stays opaque.
	if f, diags := Parse("web.hcl", []byte(src), nil); f == nil {
		t.Fatalf("without a checker: %v", diags)
	}
}
