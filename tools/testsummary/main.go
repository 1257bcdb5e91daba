// Command testsummary reads `go test -json` on stdin and prints what plain
// `go test` prints (each package's ok or FAIL line, build errors, the
// whole output of failing tests and packages), then a one-screen summary:
// the skipped tests grouped by the reason they gave, and the failures.
// It exits 1 when a test, a package or a build failed, so that
//
//	set -o pipefail; go test -json ./... | go run ./tools/testsummary
//
// fails exactly when `go test` does.
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
)

func main() {
	failed, err := run(os.Stdin, os.Stdout, modulePrefix("go.mod"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
	if failed {
		os.Exit(1)
	}
}

// modulePrefix is "module/path/" from a go.mod, trimmed from package
// names in the summary; "" when there is none.
func modulePrefix(gomod string) string {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if mod, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(mod), `"`) + "/"
		}
	}
	return ""
}

// event is one line of `go test -json` (cmd/test2json), with the build
// events `go test -json` adds.
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	ImportPath  string // build-output, build-fail
	FailedBuild string // on a package's fail: the build that failed
}

// lineKind says where a line of a test's output goes when the test is
// printed the way plain `go test` prints a failure.
type lineKind int

const (
	rawLine    lineKind = iota // written straight to stdout (fmt.Print, a panic): printed as it came
	logLine                    // t.Log and friends: indented under the test's header
	headerLine                 // "--- FAIL: TestX (0.01s)"
)

type line struct {
	seq  int // order within the package
	kind lineKind
	text string
}

type test struct {
	name     string
	depth    int
	lines    []*line // its own output, -json's framing dropped
	report   []entry // its log lines and its subtests as they ended: its report in plain go test
	children []*test // its subtests as they started
	status   string  // "" while running, then pass, fail or skip
}

type entry struct {
	log   *line
	child *test
}

// pkg collects one package's events until it ends: go test -json
// interleaves packages that run in parallel.
type pkg struct {
	seq   int
	tests map[string]*test
	items []item // the package's own lines and its top-level tests, in order
}

type item struct {
	text string // a line of the package's own output, or
	test *test  // a top-level test, placed where it ended
}

type skip struct {
	pkg, test, reason string
}

type summary struct {
	trim     string
	packages int
	skipped  []skip
	failed   []string // "pkg: TestX" or "pkg [build failed]"
}

func run(in io.Reader, out io.Writer, trim string) (failed bool, err error) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	s := &summary{trim: trim}
	pkgs := map[string]*pkg{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		raw := sc.Bytes()
		var ev event
		if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &ev) != nil || ev.Action == "" {
			// Not ours to parse (a go command message): pass it on.
			fmt.Fprintf(w, "%s\n", raw)
			continue
		}
		switch ev.Action {
		case "build-output":
			fmt.Fprint(w, ev.Output)
			continue
		case "build-fail":
			s.failed = append(s.failed, s.short(buildPkg(ev.ImportPath))+" [build failed]")
			continue
		}
		if ev.Package == "" {
			fmt.Fprint(w, ev.Output)
			continue
		}
		p := pkgs[ev.Package]
		if p == nil {
			p = &pkg{tests: map[string]*test{}}
			pkgs[ev.Package] = p
		}
		if ev.Test == "" {
			switch ev.Action {
			case "output":
				p.items = append(p.items, item{text: ev.Output})
			case "pass", "skip", "fail":
				s.packages++
				p.finish(w, s, ev.Package, ev.Action, ev.FailedBuild != "")
				delete(pkgs, ev.Package)
				w.Flush()
			}
			continue
		}
		t := p.test(ev.Test)
		switch ev.Action {
		case "output":
			p.seq++
			t.add(ev.Output, p.seq)
		case "pass", "fail", "skip":
			t.status = ev.Action
			if parent := p.parent(t.name); parent != nil {
				parent.report = append(parent.report, entry{child: t})
			} else {
				p.items = append(p.items, item{test: t})
			}
			if ev.Action == "skip" {
				s.skipped = append(s.skipped, skip{s.short(ev.Package), ev.Test, t.reason()})
			}
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	// Packages that never ended: go test was interrupted or killed.
	for _, name := range slices.Sorted(maps.Keys(pkgs)) {
		pkgs[name].finish(w, s, name, "fail", false)
		fmt.Fprintf(w, "FAIL\t%s [output ended before the package did]\n", name)
	}
	s.print(w)
	if s.packages == 0 && len(s.failed) == 0 {
		return true, fmt.Errorf("no test results on stdin (is it `go test -json` output?)")
	}
	return len(s.failed) > 0, nil
}

// buildPkg is the package of a build event's ImportPath,
// "example.com/p [example.com/p.test]".
func buildPkg(importPath string) string {
	p, _, _ := strings.Cut(importPath, " ")
	return p
}

func (s *summary) short(pkg string) string {
	if p, ok := strings.CutPrefix(pkg, s.trim); ok && p != "" {
		return p
	}
	return pkg
}

// parent is the nearest test seen whose name is a prefix of name at a
// slash: a subtest's parent. Subtest names may hold slashes themselves.
func (p *pkg) parent(name string) *test {
	for {
		i := strings.LastIndex(name, "/")
		if i < 0 {
			return nil
		}
		name = name[:i]
		if t := p.tests[name]; t != nil {
			return t
		}
	}
}

// test finds or makes the test named name.
func (p *pkg) test(name string) *test {
	if t := p.tests[name]; t != nil {
		return t
	}
	t := &test{name: name}
	if parent := p.parent(name); parent != nil {
		t.depth = parent.depth + 1
		parent.children = append(parent.children, t)
	}
	p.tests[name] = t
	return t
}

// add files a chunk of the test's output. test2json splits very long
// lines: a chunk that does not start a line joins the previous one.
func (t *test) add(out string, seq int) {
	if n := len(t.lines); n > 0 && !strings.HasSuffix(t.lines[n-1].text, "\n") {
		t.lines[n-1].text += out
		return
	}
	trimmed := strings.TrimLeft(out, " ")
	l := &line{seq: seq, text: out}
	switch {
	case strings.HasPrefix(out, "=== "):
		return // RUN, PAUSE, CONT, NAME: -json's framing, not in plain output
	case strings.HasPrefix(trimmed, "--- ") && strings.Contains(trimmed, ": "+t.name+" "):
		l.kind, l.text = headerLine, trimmed
	case strings.HasPrefix(out, "    "):
		l.kind = logLine
		t.report = append(t.report, entry{log: l})
	default:
		l.kind = rawLine
	}
	t.lines = append(t.lines, l)
}

// logStart is the start of a t.Log message, "    file_test.go:12: ".
var logStart = regexp.MustCompile(`^    \S+\.go:\d+: `)

// reason is the last message the test logged before it skipped: the
// text of t.Skip, with its continuation lines.
func (t *test) reason() string {
	var msg []string
	for _, e := range t.report {
		if e.log == nil {
			continue
		}
		if loc := logStart.FindStringIndex(e.log.text); loc != nil {
			msg = []string{strings.TrimSpace(e.log.text[loc[1]:])}
		} else if msg != nil {
			msg = append(msg, strings.TrimSpace(e.log.text))
		}
	}
	if r := strings.TrimSpace(strings.Join(msg, " ")); r != "" {
		return r
	}
	return "(no reason given)"
}

// finish prints a package that ended: its ok line when it passed, all
// plain `go test` shows of it when it failed.
func (p *pkg) finish(w io.Writer, s *summary, name, action string, buildFailed bool) {
	if action != "fail" {
		for _, it := range p.items {
			if it.test == nil && (strings.HasPrefix(it.text, "ok ") || strings.HasPrefix(it.text, "?  ")) {
				fmt.Fprint(w, it.text)
			}
		}
		return
	}
	// Tests still running when the package ended (a timeout's panic, a
	// crash) print before the package's closing FAIL line.
	var unfinished []item
	for _, t := range p.tests {
		if t.depth == 0 && t.status == "" {
			unfinished = append(unfinished, item{test: t})
		}
	}
	slices.SortFunc(unfinished, func(a, b item) int { return cmp.Compare(a.test.name, b.test.name) })
	items := p.items
	if n := len(items); n > 0 && items[n-1].test == nil && strings.HasPrefix(items[n-1].text, "FAIL\t") {
		items = slices.Concat(items[:n-1], unfinished, items[n-1:])
	} else {
		items = slices.Concat(items, unfinished)
	}
	failures := len(s.failed)
	for _, it := range items {
		if it.test == nil {
			fmt.Fprint(w, it.text)
			continue
		}
		it.test.print(w)
		s.failed = append(s.failed, it.test.failures(s.short(name))...)
	}
	if len(s.failed) == failures && !buildFailed {
		s.failed = append(s.failed, s.short(name)+" (the package failed: see its output above)")
	}
}

// tree is the test's lines and its subtests', in the order they came.
func (t *test) tree() []*line {
	all := slices.Clone(t.lines)
	for _, c := range t.children {
		all = append(all, c.tree()...)
	}
	slices.SortFunc(all, func(a, b *line) int { return cmp.Compare(a.seq, b.seq) })
	return all
}

// print writes a top-level test of a failed package as plain `go test`
// does: what it wrote to stdout as it came and, when it failed, its
// report (header, log, failed subtests' reports) when it ended. A test
// that never ended has no report: all it wrote, in order.
func (t *test) print(w io.Writer) {
	for _, l := range t.tree() {
		switch {
		case t.status == "":
			if l.kind != headerLine {
				fmt.Fprint(w, l.text)
			}
		case l.kind == rawLine:
			fmt.Fprint(w, l.text)
		case l.kind == headerLine && l == t.header() && t.status == "fail":
			t.printReport(w)
		}
	}
}

func (t *test) header() *line {
	for _, l := range t.lines {
		if l.kind == headerLine {
			return l
		}
	}
	return nil
}

func (t *test) printReport(w io.Writer) {
	indent := strings.Repeat("    ", t.depth)
	if h := t.header(); h != nil {
		fmt.Fprint(w, indent+h.text)
	}
	for _, e := range t.report {
		switch {
		case e.log != nil:
			fmt.Fprint(w, indent+e.log.text)
		case e.child.status == "fail":
			e.child.printReport(w)
		}
	}
}

// failures names the failed or unfinished tests under t that have no
// failed or unfinished subtest: where to look.
func (t *test) failures(pkg string) []string {
	if t.status != "fail" && t.status != "" {
		return nil
	}
	var out []string
	for _, c := range t.children {
		out = append(out, c.failures(pkg)...)
	}
	if len(out) > 0 {
		return out
	}
	if t.status == "" {
		return []string{pkg + ": " + t.name + " (did not finish)"}
	}
	return []string{pkg + ": " + t.name}
}

// width is where the summary wraps lists of test names.
const width = 100

// print ends the run with the skipped tests by reason, then the failures.
func (s *summary) print(w io.Writer) {
	fmt.Fprintln(w)
	if len(s.skipped) == 0 {
		fmt.Fprintln(w, "Skipped tests: none.")
	} else {
		fmt.Fprintf(w, "Skipped tests (%d):\n", len(s.skipped))
		byReason := map[string][]skip{}
		for _, sk := range s.skipped {
			byReason[sk.reason] = append(byReason[sk.reason], sk)
		}
		reasons := slices.Collect(maps.Keys(byReason))
		slices.SortFunc(reasons, func(a, b string) int {
			return cmp.Or(cmp.Compare(len(byReason[b]), len(byReason[a])), cmp.Compare(a, b))
		})
		for _, r := range reasons {
			fmt.Fprintf(w, "  %s\n", r)
			var order []string
			names := map[string][]string{}
			for _, sk := range byReason[r] {
				if names[sk.pkg] == nil {
					order = append(order, sk.pkg)
				}
				names[sk.pkg] = append(names[sk.pkg], sk.test)
			}
			for _, p := range order {
				wrap(w, "      "+p+": ", names[p])
			}
		}
	}
	if len(s.failed) > 0 {
		fmt.Fprintf(w, "\nFAILED (%d):\n", len(s.failed))
		for _, f := range s.failed {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
}

// wrap writes prefix and the names, comma-separated, wrapped at width
// with continuation lines indented under the first name.
func wrap(w io.Writer, prefix string, names []string) {
	cont := strings.Repeat(" ", len(prefix))
	var b strings.Builder
	b.WriteString(prefix)
	col := len(prefix)
	for i, n := range names {
		if i < len(names)-1 {
			n += ","
		}
		if col > len(prefix) && col+1+len(n) > width {
			b.WriteString("\n" + cont)
			col = len(cont)
		} else if col > len(prefix) {
			b.WriteString(" ")
			col++
		}
		b.WriteString(n)
		col += len(n)
	}
	fmt.Fprintln(w, b.String())
}
