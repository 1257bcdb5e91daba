package repo

import (
	"bytes"
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// sortDiagnostics orders diagnostics by file, then position, so output is
// stable however the parallel parse finished. Diagnostics without a
// subject come first.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		case a.Start.Byte != b.Start.Byte:
			return a.Start.Byte < b.Start.Byte
		}
		return diags[i].Summary < diags[j].Summary
	})
}

// dedupDiagnostics drops repeats. A mistake in a shared variables file is
// reported by the parse of every job that uses it; once is enough.
func dedupDiagnostics(diags hcl.Diagnostics) hcl.Diagnostics {
	type key struct {
		sev             hcl.DiagnosticSeverity
		summary, detail string
		subject         hcl.Range
	}
	seen := make(map[key]bool, len(diags))
	out := diags[:0]
	for _, d := range diags {
		k := key{sev: d.Severity, summary: d.Summary, detail: d.Detail}
		if d.Subject != nil {
			k.subject = *d.Subject
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	return out
}

// checkText reports content that is not text: HCL is UTF-8, and handing
// binary data to the parser only yields a screen of nonsense errors.
func checkText(filename string, src []byte) *hcl.Diagnostic {
	// Git's heuristic: a NUL byte in the first 8000 bytes means binary.
	head := src[:min(len(src), 8000)]
	if i := bytes.IndexByte(head, 0); i >= 0 {
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Binary file",
			Detail:   fmt.Sprintf("%s holds binary data (a NUL byte), not HCL text. Remove it or exclude it in drover.hcl.", filename),
			Subject:  posRange(filename, src, i).Ptr(),
		}
	}
	if utf8.Valid(src) {
		return nil
	}
	i := 0
	for i < len(src) {
		r, n := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		i += n
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid UTF-8",
		Detail:   fmt.Sprintf("%s is not UTF-8 text: byte 0x%02x at offset %d is not valid. Re-save the file as UTF-8.", filename, src[i], i),
		Subject:  posRange(filename, src, i).Ptr(),
	}
}

// posRange returns the one-byte range at offset off, with its line and
// column counted the way HCL counts them (columns in characters).
func posRange(filename string, src []byte, off int) hcl.Range {
	line, col := 1, 1
	for i := 0; i < off; {
		if src[i] == '\n' {
			line, col = line+1, 1
			i++
			continue
		}
		_, n := utf8.DecodeRune(src[i:])
		i += n
		col++
	}
	start := hcl.Pos{Line: line, Column: col, Byte: off}
	end := hcl.Pos{Line: line, Column: col + 1, Byte: off + 1}
	return hcl.Range{Filename: filename, Start: start, End: end}
}

func fileDiagnostic(filename, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos},
	}
}
