package main

import (
	"fmt"
	"io"
	"os"

	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/render"
)

// jobFileOptions are the inputs of a local parse, shared by `job run` and
// `job plan` so that both see the same job.
type jobFileOptions struct {
	path     string
	vars     map[string]string
	varFiles []string
}

// loadJobFile parses one job file on this machine, before anything is
// sent: a typo is reported with its file:line:col, as `drover validate`
// does, instead of as a field path from the server. "-" reads stdin. It
// prints diagnostics (warnings too) to stderr and reports whether a job
// came out.
func loadJobFile(opts jobFileOptions, io stdio) (*jobspec.Job, bool) {
	name, src, err := readJobSource(opts.path, io)
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return nil, false
	}
	files := map[string][]byte{name: src}
	var varFiles []jobspec.VarFile
	for _, p := range opts.varFiles {
		b, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintf(io.err, "Error: read -var-file: %v\n", err)
			return nil, false
		}
		varFiles = append(varFiles, jobspec.VarFile{Name: p, Src: b})
		files[p] = b
	}
	f, diags := jobspec.Parse(name, src, &jobspec.ParseOptions{Vars: opts.vars, VarFiles: varFiles, Environ: io.env, CheckConfig: configChecker()})
	if len(diags) > 0 {
		_ = render.DiagnosticsText(io.err, diags, files, isTerminal(io.err, io))
	}
	if diags.HasErrors() || f == nil {
		fmt.Fprintf(io.err, "Error: %s is not a valid job file (above); nothing was sent to the server.\n", name)
		return nil, false
	}
	return f.Job, true
}

func readJobSource(path string, io stdio) (name string, src []byte, err error) {
	if path == "-" {
		if io.in == nil {
			return "", nil, fmt.Errorf("no standard input to read the job from")
		}
		src, err = readAll(io.in)
		return "<stdin>", src, err
	}
	src, err = os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("%v: give the path of a job file (or - for stdin)", err)
	}
	return path, src, nil
}

func readAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, jobspec.MaxFileSize+1)) // Parse refuses more, and says so
	if err != nil {
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	return b, nil
}
