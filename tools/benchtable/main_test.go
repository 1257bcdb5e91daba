package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	in := `goos: linux
pkg: github.com/droverhq/drover/diff
cpu: Test CPU @ 3.0GHz
BenchmarkPlan-2   	      12	  85000000 ns/op	 1000 B/op	 10 allocs/op
BenchmarkPlan/sub-2   	      3	  2500 ns/op	 7 reparsed/op
PASS
`
	var out bytes.Buffer
	if err := run(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"Test CPU @ 3.0GHz",
		"| diff | BenchmarkPlan | 85.00 ms | 1000 | 10 |  | ≤ 100 ms (10,000 jobs, 100 changed) |",
		"| diff | BenchmarkPlan/sub | 2.50 µs |  |  | 7 reparsed/op | ≤ 100 ms",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
