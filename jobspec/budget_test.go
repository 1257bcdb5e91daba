package jobspec

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The three attack files of issue 13, rebuilt: before the budget the first
// took 12+ CPU-minutes, the second gigabytes, the third ran out of memory.
var bombs = []struct {
	file string
	want string // in the first error
}{
	{"nested-for.hcl", "nested-for.hcl:3,17-28: Expression too large; range(1000) nested three deep produces 10^9 elements; the limit is 10^6."},
	{"string-growth.hcl", "Expression too large"},
	{"dynamic.hcl", "Expression too large"},
}

func readBomb(t testing.TB, name string) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "bomb", name))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestBudgetBombs: each attack is refused with a positioned error, in
// under a second, without growing the heap past 100 MB.
func TestBudgetBombs(t *testing.T) {
	for _, b := range bombs {
		t.Run(b.file, func(t *testing.T) {
			src := readBomb(t, b.file)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			f, diags := ParseContext(t.Context(), "jobs/"+b.file, src, nil)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if f != nil || !diags.HasErrors() {
				t.Fatalf("accepted: %v", diags)
			}
			if !strings.Contains(diags[0].Error(), b.want) {
				t.Errorf("first error:\n  %s\nwant it to contain:\n  %s", diags[0].Error(), b.want)
			}
			for _, d := range diags {
				if d.Subject == nil || d.Subject.Start.Line == 0 {
					t.Errorf("diagnostic without a position: %s", d.Error())
				}
			}
			// Wall time on a shared machine is noisy: TestBudgetBombsRSS
			// holds the child's CPU time to a second.
			if took > slowdown*2*time.Second {
				t.Errorf("refused in %v, want under %v", took, slowdown*2*time.Second)
			}
			// HeapInuse after the parse bounds what stayed; the peak is
			// measured in a process of its own by TestBudgetBombsRSS.
			if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 100<<20 {
				t.Errorf("heap grew by %d MB", grew>>20)
			}
			t.Logf("%d bytes refused in %v, %d MB allocated: %s", len(src), took, (after.TotalAlloc-before.TotalAlloc)>>20, diags[0].Error())
		})
	}
}

// TestBudgetBombsRSS parses each bomb in a child process (this test
// binary, re-run) and compares the child's peak RSS with that of a child
// parsing an ordinary job.
func TestBudgetBombsRSS(t *testing.T) {
	if os.Getenv("DROVER_BOMB") != "" {
		t.Skip("child")
	}
	if testing.Short() {
		t.Skip("-short: child processes")
	}
	run := func(name string) (rssKB int64, cpu time.Duration, out string) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBudgetBombChild$", "-test.v")
		cmd.Env = append(os.Environ(), "DROVER_BOMB="+name)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child %s: %v\n%s", name, err, b)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		return ru.Maxrss, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), string(b)
	}
	base, baseCPU, _ := run("-")
	for _, b := range bombs {
		rss, cpu, out := run(b.file)
		if !strings.Contains(out, "refused") {
			t.Fatalf("child %s:\n%s", b.file, out)
		}
		grew := (rss - base) >> 10
		t.Logf("%s: peak RSS %d MB, %d MB above an ordinary parse; CPU %v (%v more)", b.file, rss>>10, grew, cpu, cpu-baseCPU)
		if cpu-baseCPU > slowdown*time.Second {
			t.Errorf("%s: the child used %v more CPU than an ordinary parse, want under %v", b.file, cpu-baseCPU, slowdown*time.Second)
		}
		if grew > 100 {
			t.Errorf("%s: peak RSS %d MB above an ordinary parse, want under 100", b.file, grew)
		}
	}
}

// TestBudgetBombChild is the child of TestBudgetBombsRSS.
func TestBudgetBombChild(t *testing.T) {
	name := os.Getenv("DROVER_BOMB")
	if name == "" {
		t.Skip("run by TestBudgetBombsRSS")
	}
	src, file := []byte(benchJob), "web.hcl"
	if name != "-" {
		src, file = readBomb(t, name), name
	}
	f, diags := Parse(file, src, nil)
	if name == "-" {
		if f == nil {
			t.Fatal(diags)
		}
		return
	}
	if f != nil {
		t.Fatal("accepted")
	}
	fmt.Println("refused:", diags[0].Error())
}

// TestBudgetReasonableFiles: large but sensible files stay well inside
// the budget.
func TestBudgetReasonableFiles(t *testing.T) {
	src := `
variable "prefix" {
  default = [for s in ["a", "b"] : "${s}-"]
}
locals {
  shards = [for i in range(100) : "shard-${i}"]
  ports = { for i in range(100) : "p${i}" => 8000 + i }
  text  = join("\n", [for i in range(1000) : format("%-20s %5d", "line", i)])
  pad   = format("%100s", "x")
}
job "web" {
  group "g" {
    count = 100
    task "t" {
      driver = "exec"
      config {
        command = "/bin/app"
        args    = [for s in local.shards : "--shard=${var.prefix[0]}${s}"]
        grid    = jsonencode([for a in range(100) : [for b in range(100) : a * b]])
        text    = local.text
        sum     = length(flatten([for a in range(100) : [for b in range(100) : a * b]]))
        ports   = jsonencode(local.ports)
        prod    = length(setproduct(range(50), range(50)))
      }
      template {
        destination = "local/x"
        data        = "%{for s in local.shards}${s}\n%{endfor}"
      }
    }
  }
}
`
	start := time.Now()
	job := mustParse(t, src, nil)
	if job.Groups[0].Count != 100 || len(job.Groups[0].Tasks[0].Config["args"].([]any)) != 100 {
		t.Fatalf("wrong job: %+v", job.Groups[0])
	}
	if d := time.Since(start); d > slowdown*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestBudgetLimits checks each kind of limit on a small file, with the
// error at the expression that asked for too much.
func TestBudgetLimits(t *testing.T) {
	wrap := func(expr string) string {
		return "job \"j\" {\n group \"g\" {\n task \"t\" {\n driver = \"exec\"\n config {\n x = " + expr + "\n }\n }\n }\n}\n"
	}
	tests := []struct {
		name, src, want string
		line            int
	}{
		{"static product", wrap(`[for a in range(1000) : [for b in range(1001) : b]]`), "nested, produce 1001000 elements; the limit is 10^6", 6},
		{"literal tuples", wrap(`[for a in [1,2,3] : [for b in range(1000) : [for c in range(1000) : c]]]`), "produce 3000000 elements", 6},
		{"dynamic product", "locals {\n l = range(1000)\n}\n" + wrap(`[for a in local.l : [for b in local.l : [for c in local.l : c]]]`), "steps", 9},
		{"replace", wrap(`replace(format("%5000s", ""), " ", format("%5000s", ""))`), "In replace(): the result would be about 25005000 bytes", 6},
		{"join", wrap(`join(format("%5000s", ""), range(1000))`), "In join()", 6},
		{"formatlist", wrap(`formatlist("%9000s", range(1000))`), "In formatlist()", 6},
		{"concat", "locals {\n l = range(1000)\n}\n" + wrap("length(concat("+strings.Repeat("local.l, ", 1001)+"))"), "In concat(): the result would have 1001000 elements; the limit is 10^6.", 9},
		{"interpolation", "locals {\n s = format(\"%10000s\", \"\")\n}\n" + wrap(`"`+strings.Repeat("${local.s}", 500)+`"`), "larger than", 9},
		{"template for", "locals {\n s = format(\"%10000s\", \"\")\n}\n" + wrap(`"%{for i in range(1000)}${local.s}%{endfor}"`), "larger than", 9},
		{"default", "variable \"v\" {\n default = [for a in [" + strings.Repeat("0,", 200) + "] : [for b in [" + strings.Repeat("0,", 200) + "] : [for c in [" + strings.Repeat("0,", 200) + "] : c]]]\n}\n" + wrap(`1`), "produces 8000000 elements", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			f, diags := Parse("x.hcl", []byte(tt.src), nil)
			if f != nil || !diags.HasErrors() {
				t.Fatalf("accepted: %v", diags)
			}
			text := diagText(diags)
			if !strings.Contains(text, tt.want) {
				t.Errorf("want %q in:\n%.1500s", tt.want, text)
			}
			if s := diags[0].Subject; s == nil || s.Start.Line != tt.line {
				t.Errorf("first error at %v, want line %d:\n%.1500s", s, tt.line, text)
			}
			if d := time.Since(start); d > slowdown*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestBudgetContext: a cancelled context stops a parse with an error,
// and a custom budget is used.
func TestBudgetContext(t *testing.T) {
	src := "locals {\n l = range(1000)\n}\njob \"j\" {\n meta = { a = jsonencode([for a in local.l : [for b in local.l : b]]) }\n}\n"
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, diags := ParseContext(ctx, "x.hcl", []byte(src), nil)
	if !strings.Contains(diagText(diags), "Evaluation stopped") {
		t.Errorf("cancelled: %s", diagText(diags))
	}
	small := DefaultBudget()
	small.MaxSteps = 50
	_, diags = Parse("x.hcl", []byte(src), &ParseOptions{Budget: &small})
	if !strings.Contains(diagText(diags), "more than 50 steps") {
		t.Errorf("small budget: %s", diagText(diags))
	}
	if err := (Budget{}).Validate(); err == nil {
		t.Error("zero budget validated")
	}
	if err := DefaultBudget().Validate(); err != nil {
		t.Error(err)
	}
}

// TestBudgetFunctionNames: the guarded table keeps hcl's suggestions for
// a misspelt function, and the inserted functions cannot be called.
func TestBudgetFunctionNames(t *testing.T) {
	src := "job \"j\" {\n meta = { a = jsonencde([\"a\"]) }\n}\n"
	_, diags := Parse("x.hcl", []byte(src), nil)
	if !strings.Contains(diagText(diags), `Did you mean "jsonencode"?`) {
		t.Errorf("%s", diagText(diags))
	}
	src = "variable \"v\" {\n default = upper(\"a\")\n}\njob \"j\" {}\n"
	_, diags = Parse("x.hcl", []byte(src), nil)
	if !strings.Contains(diagText(diags), "Function calls not allowed") {
		t.Errorf("%s", diagText(diags))
	}
}

// The budget's own bookkeeping costs next to nothing on a normal file.
func BenchmarkParseBomb(b *testing.B) {
	for _, bomb := range bombs {
		src := readBomb(b, bomb.file)
		b.Run(bomb.file, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, diags := Parse(bomb.file, src, nil); !diags.HasErrors() {
					b.Fatal("accepted")
				}
			}
		})
	}
}
