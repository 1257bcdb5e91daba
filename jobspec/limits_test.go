package jobspec

import (
	"strings"
	"testing"
	"time"
)

// Hostile inputs must be refused quickly with an error, never crash the
// process (hclsyntax overflows the stack on ~100k nested brackets, which
// no recover can catch) and never hang.
func TestHostileInputs(t *testing.T) {
	const n = 100_000
	wrapJob := func(expr string) string {
		return "job \"j\" {\n group \"g\" {\n task \"t\" {\n driver = \"exec\"\n config {\n x = " + expr + "\n }\n }\n }\n}\n"
	}
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"10 MB", wrapJob(`"` + strings.Repeat("a", 10<<20) + `"`), "File too large"},
		{"10 MB garbage", strings.Repeat("\x01{[(", 10<<20/4), "File too large"},
		{"nested brackets", wrapJob(strings.Repeat("[", n) + strings.Repeat("]", n)), "Nesting too deep"},
		{"unclosed brackets", wrapJob(strings.Repeat("[", n)), "Nesting too deep"},
		{"nested objects", wrapJob(strings.Repeat("{a=", n) + "1" + strings.Repeat("}", n)), "Nesting too deep"},
		{"nested parens", wrapJob(strings.Repeat("(", n) + "1" + strings.Repeat(")", n)), "Nesting too deep"},
		{"nested blocks", strings.Repeat("a {\n", n) + strings.Repeat("}\n", n), "Nesting too deep"},
		{"nested templates", wrapJob(strings.Repeat(`"${`, n) + "1" + strings.Repeat(`}"`, n)), "Nesting too deep"},
		{"unary chain", wrapJob(strings.Repeat("!", n) + "true"), "Too many operators"},
		{"negation chain", wrapJob(strings.Repeat("-", n) + "1"), "Too many operators"},
		{"ternary chain", wrapJob(strings.Repeat("true ? 1 : ", n/2) + "2"), "Too many operators"},
		{"binary chain", wrapJob("1" + strings.Repeat("+1", n)), "Too many operators"},
		{"index chain", wrapJob("[1]" + strings.Repeat("[0]", n)), "Too many operators"},
		{"long heredoc", wrapJob("<<EOT\n" + strings.Repeat("x\n", 30000) + "EOT\n"), "Template too long"},
		{"many heredocs", strings.Repeat("x = <<EOT\n"+strings.Repeat("x\n", 3000)+"EOT\n", 20), "Template too long"},
		{"NUL byte", wrapJob(`"a` + "\x00" + `"`), "NUL byte"},
		{"not UTF-8", wrapJob("\"\xff\xfe\""), "not valid UTF-8"},
		{"duplicate blocks", "job \"j\" {\n" + strings.Repeat(" update {\n }\n", 500) + "}\n", "Duplicate update block"},
		{"many errors", strings.Repeat("job \"j\" {\n bogus = 1\n}\n", 2000), "Too many errors"},
		{"infinity", wrapJob("pow(10, 400) * pow(10, 400)"), "out of range"},
		{"NaN", wrapJob("pow(-1, 0.5)"), ""},
		{"division by zero", wrapJob("1 / 0"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			f, diags := Parse("hostile.hcl", []byte(tt.src), nil)
			if d := time.Since(start); d > slowdown*2*time.Second {
				t.Errorf("Parse took %v", d)
			}
			if f != nil || !diags.HasErrors() {
				t.Fatalf("want an error, got File=%v diags=%v", f != nil, diags)
			}
			if tt.want != "" && !strings.Contains(diagText(diags), tt.want) {
				t.Errorf("want an error containing %q, got:\n%.2000s", tt.want, diagText(diags))
			}
			for _, d := range diags {
				if d.Subject == nil && d.Summary != "Too many errors" {
					t.Errorf("diagnostic %q has no position", d.Summary)
				}
			}
		})
	}
}

// Real files stay well inside the limits: nesting just under the limit
// and a large but legal file parse.
func TestInputsInsideLimits(t *testing.T) {
	deep := strings.Repeat("[", MaxNesting-10) + strings.Repeat("]", MaxNesting-10)
	src := "job \"j\" {\n group \"g\" {\n task \"t\" {\n driver = \"exec\"\n config {\n x = " + deep + "\n }\n }\n }\n}\n"
	mustParse(t, src, nil)

	big := strings.Replace(minimal, `driver = "docker"`, "driver = \"docker\"\n template {\n destination = \"local/x\"\n data = <<EOT\n"+strings.Repeat("line {{ with $x := 1 }} - = + <> /x\n", maxLiteralRun/3-10)+"EOT\n }", 1)
	start := time.Now()
	job := mustParse(t, big, nil)
	if len(job.Groups[0].Tasks[0].Templates[0].Data) < 20_000 {
		t.Error("template data lost")
	}
	t.Logf("%d bytes parsed in %v", len(big), time.Since(start))
}
