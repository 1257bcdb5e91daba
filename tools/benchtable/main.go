// Command benchtable turns `go test -bench` output (on stdin) into the
// Markdown table that BENCHMARKS.md records, with each benchmark's target
// from the issue that asked for it, so `make bench` prints one table.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// targets are the figures issues set, by benchmark name (without the -N
// GOMAXPROCS suffix). A sub-benchmark matches its parent's entry.
func targets() map[string]string {
	return map[string]string{
		"BenchmarkLoadRepo":              "≤ 2 s (10,000 jobs, cold)",
		"BenchmarkReloadOneChanged":      "≤ 20 ms (1 of 10,000 changed)",
		"BenchmarkPlan":                  "≤ 100 ms (10,000 jobs, 100 changed)",
		"BenchmarkRollingUpdate100":      "≤ 100 ms per batch beyond health (100 allocs, max_parallel 10)",
		"BenchmarkPlaceBigJob":           "report (count = 10,000 on one node, one server)",
		"BenchmarkServiceScheduler":      "≤ 60 ms at 5,000 nodes / 25 racks / 1,200 allocs; spread ≤ 2× no-spread",
		"BenchmarkStateApply":            "≥ 5,000 allocs/s; servers=3: TLS ≥ 0.9× plaintext (x-plaintext); envelope: ≥ 0.95× legacy (x-legacy)",
		"BenchmarkStoreMemory":           "≤ 500 MB (10,000 jobs, 50,000 allocs)",
		"BenchmarkServerRestart":         "record before and after GC (10,000 jobs, 50,000 allocations)",
		"BenchmarkPlacementToRunning":    "p50 ≤ 50 ms, p99 ≤ 200 ms (200 allocs); isolation=chroot p50 ≤ 80 ms",
		"BenchmarkAgentRSS100":           "≤ 60 MB agent RSS (100 allocs)",
		"BenchmarkAgent1000Allocs":       "report (1,000 allocs on one agent)",
		"BenchmarkCommitToPlan10k":       "≤ 100 ms (commit seen → plan, 10,000 jobs)",
		"BenchmarkCommitToRunning":       "p50 ≤ 500 ms, p99 ≤ 2 s (commit → allocations running); fsnotify/tls p50 within 10 ms of fsnotify/plaintext",
		"BenchmarkDockerStart":           "report p50; ≤ 1.2× docker run",
		"BenchmarkDispatch":              "record p50/p99 dispatch → running and throughput (1,000 dispatches)",
		"BenchmarkVariableRead":          "record p50 (GET /v1/var)",
		"BenchmarkTemplateRerender":      "p50 ≤ 500 ms (catalog change → re-rendered file)",
		"BenchmarkServiceBlockingFanout": "report (1,000 blocking watchers on GET /v1/service/NAME)",
		"BenchmarkUIPages":               "< 200 ms server time per page (1,000 jobs, 10,000 allocations)",
	}
}

type row struct {
	pkg, name, iters, nsop string
	extra                  []string
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	var rows []row
	var pkg, cpu string
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimPrefix(strings.TrimPrefix(line, "pkg: "), "github.com/droverhq/drover/")
		case strings.HasPrefix(line, "cpu: "):
			cpu = strings.TrimPrefix(line, "cpu: ")
		case strings.HasPrefix(line, "Benchmark"):
			if r, ok := parseLine(pkg, line); ok {
				rows = append(rows, r)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintf(out, "Machine: %s, %d cores (GOMAXPROCS %d), %s/%s, %s\n\n", orUnknown(cpu), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintln(out, "| package | benchmark | time/op | B/op | allocs/op | other | target |")
	fmt.Fprintln(out, "|---|---|---:|---:|---:|---|---|")
	t := targets()
	for _, r := range rows {
		var bop, allocs string
		var other []string
		for i := 0; i+1 < len(r.extra); i += 2 {
			v, unit := r.extra[i], r.extra[i+1]
			switch unit {
			case "B/op":
				bop = v
			case "allocs/op":
				allocs = v
			default:
				other = append(other, v+" "+unit)
			}
		}
		base, _, _ := strings.Cut(r.name, "/")
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %s | %s |\n", r.pkg, r.name, humanNs(r.nsop), bop, allocs, strings.Join(other, ", "), t[base])
	}
	return nil
}

// parseLine reads "BenchmarkX-2  10  123 ns/op  45 B/op  6 allocs/op".
func parseLine(pkg, line string) (row, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || f[3] != "ns/op" {
		return row{}, false
	}
	name := f[0]
	if i := strings.LastIndex(name, "-"); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	return row{pkg: pkg, name: name, iters: f[1], nsop: f[2], extra: f[4:]}, true
}

func humanNs(s string) string {
	ns, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown CPU"
	}
	return s
}
