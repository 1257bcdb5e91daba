package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

const mod = "example.com/m/"

// ev is one line of `go test -json`.
func ev(action, pkg, test, output string) string {
	b, err := json.Marshal(event{Action: action, Package: pkg, Test: test, Output: output})
	if err != nil {
		panic(err)
	}
	return string(b) + "\n"
}

// passing is a package whose tests pass, as go test -json reports it.
func passing(pkg string) string {
	return ev("start", pkg, "", "") +
		ev("run", pkg, "TestOK", "") +
		ev("output", pkg, "TestOK", "=== RUN   TestOK\n") +
		ev("output", pkg, "TestOK", "    ok_test.go:9: a log line plain go test hides\n") +
		ev("output", pkg, "TestOK", "--- PASS: TestOK (0.00s)\n") +
		ev("pass", pkg, "TestOK", "") +
		ev("output", pkg, "", "PASS\n") +
		ev("output", pkg, "", "ok  \t"+pkg+"\t0.010s\n") +
		ev("pass", pkg, "", "")
}

// skipped is a test that skips with reason, logging detail first.
func skipped(pkg, test, detail, reason string) string {
	s := ev("run", pkg, test, "") + ev("output", pkg, test, "=== RUN   "+test+"\n")
	if detail != "" {
		s += ev("output", pkg, test, "    x_test.go:10: "+detail+"\n")
	}
	for i, l := range strings.Split(reason, "\n") {
		if reason == "" {
			break
		}
		if i == 0 {
			s += ev("output", pkg, test, "    x_test.go:11: "+l+"\n")
		} else {
			s += ev("output", pkg, test, "        "+l+"\n")
		}
	}
	return s + ev("output", pkg, test, "--- SKIP: "+test+" (0.00s)\n") + ev("skip", pkg, test, "")
}

func TestRun(t *testing.T) {
	const (
		a = mod + "a"
		b = mod + "b"
		c = mod + "c"
	)
	noQEMU := "SKIP: needs QEMU; run 'make deps' as root to install it"
	tests := []struct {
		name   string
		in     string
		want   []string // in this order
		unwant []string
		failed bool
		err    bool
	}{
		{
			name: "passing packages print their ok line only",
			in: passing(a) + ev("start", b, "", "") + ev("output", b, "", "?   \t"+b+"\t[no test files]\n") +
				ev("skip", b, "", ""),
			want:   []string{"ok  \t" + a + "\t0.010s\n", "?   \t" + b + "\t[no test files]\n", "\nSkipped tests: none.\n"},
			unwant: []string{"PASS\n", "a log line", "=== RUN", "FAILED"},
		},
		{
			name: "skips are grouped by the reason they gave, detail logged before it dropped",
			in: ev("start", a, "", "") +
				skipped(a, "TestBoot", "", noQEMU) +
				skipped(a, "TestStop", "", noQEMU) +
				skipped(a, "TestDocker", "docker: connection refused", "SKIP: needs a Docker daemon\n(none is reachable)") +
				ev("output", a, "", "ok  \t"+a+"\t0.020s\n") + ev("pass", a, "", "") +
				ev("start", c, "", "") +
				ev("run", c, "TestTable", "") + ev("output", c, "TestTable", "=== RUN   TestTable\n") +
				skipped(c, "TestTable/vm", "", noQEMU) +
				ev("output", c, "TestTable", "--- PASS: TestTable (0.00s)\n") + ev("pass", c, "TestTable", "") +
				skipped(c, "TestQuiet", "", "") +
				ev("output", c, "", "ok  \t"+c+"\t0.030s\n") + ev("pass", c, "", ""),
			want: []string{
				"ok  \t" + a + "\t0.020s\n",
				"ok  \t" + c + "\t0.030s\n",
				"Skipped tests (5):\n",
				"  " + noQEMU + "\n      a: TestBoot, TestStop\n      c: TestTable/vm\n",
				"  (no reason given)\n      c: TestQuiet\n",
				"  SKIP: needs a Docker daemon (none is reachable)\n      a: TestDocker\n",
			},
			unwant: []string{"connection refused", "FAILED"},
		},
		{
			name: "a failed package prints as plain go test: stdout as it came, reports with subtests nested",
			in: passing(a) + ev("start", b, "", "") +
				ev("run", b, "TestPrints", "") + ev("output", b, "TestPrints", "=== RUN   TestPrints\n") +
				ev("output", b, "TestPrints", "straight to stdout\n") +
				ev("output", b, "TestPrints", "--- PASS: TestPrints (0.00s)\n") + ev("pass", b, "TestPrints", "") +
				ev("run", b, "TestSub", "") + ev("output", b, "TestSub", "=== RUN   TestSub\n") +
				ev("output", b, "TestSub", "    b_test.go:5: parent before\n") +
				ev("run", b, "TestSub/ok", "") + ev("output", b, "TestSub/ok", "=== RUN   TestSub/ok\n") +
				ev("output", b, "TestSub/ok", "--- PASS: TestSub/ok (0.00s)\n") + ev("pass", b, "TestSub/ok", "") +
				ev("run", b, "TestSub/bad", "") + ev("output", b, "TestSub/bad", "=== RUN   TestSub/bad\n") +
				ev("output", b, "TestSub/bad", "    b_test.go:8: got 1, want 2\n") +
				ev("output", b, "TestSub/bad", "        second line\n") +
				ev("output", b, "TestSub/bad", "--- FAIL: TestSub/bad (0.00s)\n") + ev("fail", b, "TestSub/bad", "") +
				ev("output", b, "TestSub", "    b_test.go:10: parent after\n") +
				ev("output", b, "TestSub", "--- FAIL: TestSub (0.00s)\n") + ev("fail", b, "TestSub", "") +
				ev("output", b, "", "FAIL\n") + ev("output", b, "", "FAIL\t"+b+"\t0.040s\n") + ev("fail", b, "", ""),
			want: []string{
				"ok  \t" + a + "\t0.010s\n" +
					"straight to stdout\n" +
					"--- FAIL: TestSub (0.00s)\n" +
					"    b_test.go:5: parent before\n" +
					"    --- FAIL: TestSub/bad (0.00s)\n" +
					"        b_test.go:8: got 1, want 2\n" +
					"            second line\n" +
					"    b_test.go:10: parent after\n" +
					"FAIL\n" +
					"FAIL\t" + b + "\t0.040s\n",
				"FAILED (1):\n  b: TestSub/bad\n",
			},
			unwant: []string{"TestSub/ok", "=== RUN"},
			failed: true,
		},
		{
			name: "a panic prints after the header, as go test prints it",
			in: ev("start", a, "", "") +
				ev("run", a, "TestPanic", "") + ev("output", a, "TestPanic", "=== RUN   TestPanic\n") +
				ev("output", a, "TestPanic", "--- FAIL: TestPanic (0.00s)\n") +
				ev("output", a, "TestPanic", "panic: boom [recovered]\n") +
				ev("output", a, "TestPanic", "\tpanic: boom\n") + ev("fail", a, "TestPanic", "") +
				ev("output", a, "", "FAIL\t"+a+"\t0.010s\n") + ev("fail", a, "", ""),
			want:   []string{"--- FAIL: TestPanic (0.00s)\npanic: boom [recovered]\n\tpanic: boom\nFAIL\t" + a + "\t0.010s\n", "  a: TestPanic\n"},
			failed: true,
		},
		{
			name: "a build failure prints its errors and fails",
			in: `{"ImportPath":"example.com/m/b [example.com/m/b.test]","Action":"build-output","Output":"# example.com/m/b\n"}` + "\n" +
				`{"ImportPath":"example.com/m/b [example.com/m/b.test]","Action":"build-output","Output":"b/b.go:3:1: syntax error\n"}` + "\n" +
				`{"ImportPath":"example.com/m/b [example.com/m/b.test]","Action":"build-fail"}` + "\n" +
				ev("start", b, "", "") + ev("output", b, "", "FAIL\t"+b+" [build failed]\n") +
				`{"Action":"fail","Package":"example.com/m/b","FailedBuild":"example.com/m/b [example.com/m/b.test]"}` + "\n" +
				passing(a),
			want:   []string{"# example.com/m/b\nb/b.go:3:1: syntax error\n", "FAIL\t" + b + " [build failed]\n", "FAILED (1):\n  b [build failed]\n"},
			failed: true,
		},
		{
			name: "a test that never ended (timeout) prints all it wrote before the package's FAIL",
			in: ev("start", a, "", "") + ev("output", a, "", "from TestMain\n") +
				ev("run", a, "TestSlow", "") + ev("output", a, "TestSlow", "=== RUN   TestSlow\n") +
				ev("output", a, "TestSlow", "    a_test.go:3: waiting\n") +
				ev("output", a, "TestSlow", "panic: test timed out after 1s\n") +
				ev("output", a, "", "FAIL\t"+a+"\t1.010s\n") + ev("fail", a, "", ""),
			want:   []string{"from TestMain\n    a_test.go:3: waiting\npanic: test timed out after 1s\nFAIL\t" + a + "\t1.010s\n", "  a: TestSlow (did not finish)\n"},
			failed: true,
		},
		{
			name: "a package that fails outside any test (TestMain) is a failure",
			in: ev("start", a, "", "") + ev("output", a, "", "setup: no such file\n") +
				ev("output", a, "", "FAIL\t"+a+"\t0.010s\n") + ev("fail", a, "", ""),
			want:   []string{"setup: no such file\nFAIL\t", "  a (the package failed: see its output above)\n"},
			failed: true,
		},
		{
			name: "output cut short fails the packages still running",
			in: ev("start", a, "", "") + ev("run", a, "TestX", "") +
				ev("output", a, "TestX", "    a_test.go:3: half a li") + ev("output", a, "TestX", "ne\n"),
			want:   []string{"    a_test.go:3: half a line\n", "FAIL\t" + a + " [output ended before the package did]\n", "a: TestX (did not finish)"},
			failed: true,
		},
		{
			name:   "lines that are not JSON pass through",
			in:     "go: downloading example.com/x v1.0.0\n" + passing(a),
			want:   []string{"go: downloading example.com/x v1.0.0\nok  \t" + a},
			failed: false,
		},
		{
			name:   "no results at all is an error, not a pass",
			in:     "",
			failed: true,
			err:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			failed, err := run(strings.NewReader(tt.in), &out, mod)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if failed != tt.failed {
				t.Errorf("failed = %v, want %v", failed, tt.failed)
			}
			got := out.String()
			rest := got
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks (or has out of order) %q:\n%s", w, got)
				}
				rest = rest[i+len(w):]
			}
			for _, u := range tt.unwant {
				if strings.Contains(got, u) {
					t.Errorf("output has %q:\n%s", u, got)
				}
			}
		})
	}
}

func TestModulePrefix(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/go.mod"
	if got := modulePrefix(path); got != "" {
		t.Errorf("no go.mod: %q, want empty", got)
	}
	if err := os.WriteFile(path, []byte("// comment\nmodule github.com/droverhq/drover\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := modulePrefix(path); got != "github.com/droverhq/drover/" {
		t.Errorf("modulePrefix = %q", got)
	}
}
