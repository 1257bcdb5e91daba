package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/sergi/go-diff/diffmatchpatch"

	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/render"
)

const fmtHelp = `
Usage: drover fmt [options] [PATH...]

  Rewrite HCL job files, variables files and drover.hcl in the canonical
  layout (as 'nomad fmt' and 'terraform fmt' do: aligned "=", two-space
  indentation). A PATH is a file or a folder, searched recursively
  (hidden folders skipped); the default is the current folder. Files in
  JSON or YAML are left alone. A file with a syntax error is reported
  and not touched.

  Exit codes: 0 all formatted (or rewritten), 1 an error, 3 with -check
  when a file would change.

Examples:

  drover fmt
  drover fmt jobs/web.nomad.hcl
  drover fmt -check -diff .          # in CI: fail and show what is off
`

// exitFmtChanges is -check's "something would change", as terraform fmt.
const exitFmtChanges = 3

func runFmt(ctx context.Context, args []string, io stdio) int {
	flags := newFlagSet("fmt", fmtHelp, io)
	check := flags.Bool("check", false, "change no file; exit 3 when one is not formatted, and list it")
	showDiff := flags.Bool("diff", false, "print the changes as a diff")
	paths, code, done := parseFlags(flags, args, io)
	if done {
		return code
	}
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var files []string
	for _, p := range paths {
		found, err := fmtFiles(p)
		if err != nil {
			fmt.Fprintf(io.err, "Error: %v\n", err)
			return exitError
		}
		files = append(files, found...)
	}
	result := exitOK
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			fmt.Fprintf(io.err, "Error: %v\n", err)
			return exitError
		}
		src, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(io.err, "Error: %v\n", err)
			result = exitError
			continue
		}
		if len(src) > jobspec.MaxFileSize {
			fmt.Fprintf(io.err, "Error: %s is larger than %d bytes; not a job file.\n", name, jobspec.MaxFileSize)
			result = exitError
			continue
		}
		// hclwrite formats whatever it is given; parse first so that a
		// broken file is reported, not rearranged.
		if _, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos); diags.HasErrors() {
			_ = render.DiagnosticsText(io.err, diags, map[string][]byte{name: src}, isTerminal(io.err, io))
			result = exitError
			continue
		}
		out := hclwrite.Format(src)
		if bytes.Equal(out, src) {
			continue
		}
		fmt.Fprintln(io.out, name)
		if *showDiff {
			writeLineDiff(io.out, name, string(src), string(out))
		}
		if *check {
			if result == exitOK {
				result = exitFmtChanges
			}
			continue
		}
		info, err := os.Stat(name)
		if err == nil {
			err = os.WriteFile(name, out, info.Mode().Perm())
		}
		if err != nil {
			fmt.Fprintf(io.err, "Error: %v\n", err)
			result = exitError
		}
	}
	return result
}

// isFmtFile says whether fmt formats a file: HCL job files, variables
// files and drover.hcl.
func isFmtFile(name string) bool {
	return strings.HasSuffix(name, ".hcl") || strings.HasSuffix(name, ".nomad")
}

func fmtFiles(p string) ([]string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	var out []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() && isFmtFile(d.Name()) {
			out = append(out, path)
		}
		return nil
	})
	return out, err
}

// writeLineDiff prints a unified-style diff of a file's lines, with up to
// three lines of context around each change.
func writeLineDiff(w interface{ Write([]byte) (int, error) }, name, before, after string) {
	dmp := diffmatchpatch.New()
	a, b, lines := dmp.DiffLinesToChars(before, after)
	diffs := dmp.DiffCharsToLines(dmp.DiffMain(a, b, false), lines)
	fmt.Fprintf(w, "--- %s\n+++ %s (formatted)\n", name, name)
	for i, d := range diffs {
		ls := strings.SplitAfter(d.Text, "\n")
		if ls[len(ls)-1] == "" {
			ls = ls[:len(ls)-1]
		}
		switch d.Type {
		case diffmatchpatch.DiffDelete:
			for _, l := range ls {
				fmt.Fprint(w, "-"+withNewline(l))
			}
		case diffmatchpatch.DiffInsert:
			for _, l := range ls {
				fmt.Fprint(w, "+"+withNewline(l))
			}
		default:
			head, tail := ls, []string(nil)
			if i > 0 && len(head) > 3 {
				head = ls[:3]
			} else if i == 0 {
				head = nil
			}
			if i < len(diffs)-1 {
				tail = ls[max(len(head), len(ls)-3):]
			}
			for _, l := range head {
				fmt.Fprint(w, " "+withNewline(l))
			}
			if len(head)+len(tail) < len(ls) {
				fmt.Fprintln(w, "@@")
			}
			for _, l := range tail {
				fmt.Fprint(w, " "+withNewline(l))
			}
		}
	}
}

func withNewline(s string) string {
	if strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}
