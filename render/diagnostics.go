package render

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// DiagnosticJSON is how -json output (and the HTTP API) reports a problem
// in a job file: scripts get the same file:line:col a person reads.
type DiagnosticJSON struct {
	Severity string     `json:"severity"` // error or warning
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Range    *RangeJSON `json:"range,omitempty"`
}

// RangeJSON is a span of a file; lines and columns count from 1.
type RangeJSON struct {
	Filename string  `json:"filename"`
	Start    PosJSON `json:"start"`
	End      PosJSON `json:"end"`
}

// PosJSON is one position in a file.
type PosJSON struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// DiagnosticsJSON converts diagnostics for JSON output.
func DiagnosticsJSON(diags hcl.Diagnostics) []DiagnosticJSON {
	out := make([]DiagnosticJSON, 0, len(diags))
	for _, d := range diags {
		j := DiagnosticJSON{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			j.Severity = "warning"
		}
		if d.Subject != nil {
			r := d.Subject
			j.Range = &RangeJSON{
				Filename: r.Filename,
				Start:    PosJSON{r.Start.Line, r.Start.Column, r.Start.Byte},
				End:      PosJSON{r.End.Line, r.End.Column, r.End.Byte},
			}
		}
		out = append(out, j)
	}
	return out
}

// DiagnosticsText prints diagnostics compiler-style, so editors and
// terminals can jump to them: "file:line:col: Error: summary", the source
// line with the range underlined, then the detail (which carries the "Did
// you mean" suggestions).
func DiagnosticsText(w io.Writer, diags hcl.Diagnostics, files map[string][]byte, color bool) error {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	var b strings.Builder
	for _, d := range diags {
		sev := paint("1;31", "Error")
		if d.Severity == hcl.DiagWarning {
			sev = paint("1;33", "Warning")
		}
		if d.Subject != nil {
			fmt.Fprintf(&b, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		fmt.Fprintf(&b, "%s: %s\n", sev, paint("1", d.Summary))
		if d.Subject != nil {
			if line, ok := sourceLine(files[d.Subject.Filename], d.Subject.Start.Line); ok {
				writeSnippet(&b, line, *d.Subject, paint)
			}
		}
		if d.Detail != "" {
			for _, l := range strings.Split(strings.TrimRight(d.Detail, "\n"), "\n") {
				fmt.Fprintf(&b, "  %s\n", l)
			}
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeSnippet(b *strings.Builder, line string, r hcl.Range, paint func(code, s string) string) {
	line = strings.ReplaceAll(line, "\t", " ")
	num := strconv.Itoa(r.Start.Line)
	fmt.Fprintf(b, "  %s | %s\n", num, line)
	start := max(r.Start.Column-1, 0)
	width := 1
	if r.End.Line == r.Start.Line && r.End.Column > r.Start.Column {
		width = r.End.Column - r.Start.Column
	}
	runes := utf8.RuneCountInString(line)
	if start > runes {
		return
	}
	width = max(min(width, runes-start), 1)
	fmt.Fprintf(b, "  %s | %s%s\n", strings.Repeat(" ", len(num)), strings.Repeat(" ", start), paint("1;31", strings.Repeat("^", width)))
}

// sourceLine returns line n (1-based) of src.
func sourceLine(src []byte, n int) (string, bool) {
	if src == nil || n < 1 {
		return "", false
	}
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(src, '\n')
		if j < 0 {
			return "", false
		}
		src = src[j+1:]
	}
	if j := bytes.IndexByte(src, '\n'); j >= 0 {
		src = src[:j]
	}
	s := strings.TrimRight(string(src), "\r")
	if len(s) > 240 || !utf8.ValidString(s) {
		// A minified or binary line helps nobody; the position does.
		return "", false
	}
	return s, true
}
