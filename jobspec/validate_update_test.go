package jobspec

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestUpdateValidation(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		severity  hcl.DiagnosticSeverity // 0: no diagnostic expected
		want      string                 // substring of summary or detail
		line, col int
		count     int // diagnostics expected in all; 0 = not checked
	}{
		{name: "canary on batch job", src: `job "j" {
  type = "batch"
  group "g" {
    update {
      canary = 1
    }
    task "t" { driver = "exec" }
  }
}`, severity: hcl.DiagError, want: `does not allow the update block or canary`, line: 4, col: 5},
		{name: "canary on sysbatch job-level update", src: `job "j" {
  type = "sysbatch"
  update { canary = 2 }
  group "g" {
    task "t" { driver = "exec" }
  }
}`, severity: hcl.DiagError, want: `canary (at job.hcl:3,12-22)`, line: 3, col: 3},
		{name: "update without canary on batch still names the block", src: `job "j" {
  type = "batch"
  group "g" {
    update { max_parallel = 2 }
    task "t" { driver = "exec" }
  }
}`, severity: hcl.DiagError, want: `does not allow the update block`, line: 4, col: 5},
		{name: "max_parallel 0 with canary in one block", src: `job "j" {
  group "g" {
    update {
      max_parallel = 0
      canary       = 1
    }
    task "t" { driver = "exec" }
  }
}`, severity: hcl.DiagError, want: `max_parallel of at least 1`, line: 4, col: 7},
		{name: "max_parallel 0 at job level, canary in group", src: `job "j" {
  update { max_parallel = 0 }
  group "g" {
    update { canary = 3 }
    task "t" { driver = "exec" }
  }
}`, severity: hcl.DiagError, want: `canary = 3 with max_parallel = 0`, line: 2, col: 12},
		{name: "group max_parallel overrides job's 0", src: `job "j" {
  update { max_parallel = 0 }
  group "g" {
    update {
      canary       = 1
      max_parallel = 1
    }
    task "t" { driver = "exec" }
  }
}`},
		{name: "max_parallel 0 without canary is fine", src: `job "j" {
  group "g" {
    update { max_parallel = 0 }
    task "t" { driver = "exec" }
  }
}`},
		{name: "auto_promote without canary warns", src: `job "j" {
  group "g" {
    update {
      auto_promote = true
    }
    task "t" { driver = "exec" }
  }
}`, severity: hcl.DiagWarning, want: `auto_promote has no effect without canaries`, line: 4, col: 7},
		{name: "auto_promote at job level, no canary anywhere", src: `job "j" {
  update { auto_promote = true }
  group "g" {
    task "t" { driver = "exec" }
  }
}`, severity: hcl.DiagWarning, want: `auto_promote has no effect`, line: 2, col: 12},
		{name: "job-level warning shared by two groups is reported once", src: `job "j" {
  update { auto_promote = true }
  group "a" {
    task "t" { driver = "exec" }
  }
  group "b" {
    task "t" { driver = "exec" }
  }
}`, severity: hcl.DiagWarning, want: `auto_promote has no effect`, line: 2, col: 12, count: 1},
		{name: "auto_promote with canaries is fine", src: `job "j" {
  update { auto_promote = true }
  group "g" {
    update { canary = 1 }
    task "t" { driver = "exec" }
  }
}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, diags := Parse("job.hcl", []byte(tt.src), nil)
			if tt.severity == 0 {
				if len(diags) != 0 || f == nil {
					t.Fatalf("unexpected diagnostics:\n%s", diagText(diags))
				}
				return
			}
			if tt.count > 0 && len(diags) != tt.count {
				t.Fatalf("%d diagnostics, want %d:\n%s", len(diags), tt.count, diagText(diags))
			}
			if tt.severity == hcl.DiagWarning {
				if diags.HasErrors() || f == nil {
					t.Fatalf("want only a warning, got:\n%s", diagText(diags))
				}
			} else if f != nil {
				t.Fatalf("File must be nil when there are errors")
			}
			for _, d := range diags {
				if d.Severity != tt.severity || !strings.Contains(d.Summary+" "+d.Detail, tt.want) {
					continue
				}
				if d.Subject == nil {
					t.Fatalf("diagnostic %q has no position", d.Summary)
				}
				if d.Subject.Start.Line != tt.line || d.Subject.Start.Column != tt.col {
					t.Fatalf("%q at %d:%d, want %d:%d", d.Summary, d.Subject.Start.Line, d.Subject.Start.Column, tt.line, tt.col)
				}
				return
			}
			t.Fatalf("no diagnostic containing %q; got:\n%s", tt.want, diagText(diags))
		})
	}
}
