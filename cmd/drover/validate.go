package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/hashicorp/hcl/v2"

	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/render"
	"github.com/droverhq/drover/repo"
)

const validateHelp = `
Usage: drover validate [options] [DIR | FILE...]

Check job files without touching a cluster: HCL syntax, unknown or
unsupported blocks and attributes, driver names, variables, and duplicate
job IDs across files. Every problem is reported at once with its
file:line:col.

With -address, it also asks that server for its nodes and warns about
node names in a rollout.order (without order_by) that the cluster does
not have. Without -address (the default; DROVER_ADDR is not used here)
nothing leaves this machine.

A DIR is a job repository: every *.hcl, *.nomad.hcl and *.nomad file below
it, with the settings of DIR/drover.hcl. Without arguments, the current
directory is validated. Job files may also be in HCL's JSON syntax
(*.nomad.json, *.hcl.json) or Nomad's API job format (*.job.json, and its
YAML *.job.yaml), and the settings in drover.yaml.

Examples:
  drover validate examples/jobs
  drover validate -var image=nginx:1.27 jobs/web.nomad.hcl
  drover validate -json . | jq '.diagnostics[]'
  drover validate -address http://127.0.0.1:4747 jobs/db.nomad.hcl

Exit codes: 0 valid, 1 invalid or an error.
`

type validateOptions struct {
	targets  []string
	vars     map[string]string
	varFiles []string
	json     bool
	// client.address empty: offline, no check against a cluster.
	client clientOptions
}

func runValidate(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("validate", validateHelp, io)
	opts := validateOptions{vars: kvFlag{}}
	fs.Var(kvFlag(opts.vars), "var", "set a variable: `name=value` (repeatable)")
	fs.Var((*listFlag)(&opts.varFiles), "var-file", "read variables from an HCL `file` (repeatable)")
	fs.BoolVar(&opts.json, "json", false, "print the result as JSON")
	fs.StringVar(&opts.client.address, "address", "", "check rollout.order node names against the nodes of the Drover server at `URL` (default: offline)")
	fs.StringVar(&opts.client.token, "token", "", "the API `token` for -address (default $DROVER_TOKEN)")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	opts.targets = pos
	return validate(ctx, opts, io)
}

type validateResult struct {
	Valid       bool                    `json:"valid"`
	Jobs        []string                `json:"jobs"`
	Diagnostics []render.DiagnosticJSON `json:"diagnostics"`
}

func validate(ctx context.Context, opts validateOptions, io stdio) int {
	src, label, err := validateSource(opts.targets)
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	loader := repo.NewLoader(repo.LoadOptions{Vars: opts.vars, VarFiles: opts.varFiles, Environ: io.env, CheckConfig: configChecker()})
	r, err := loader.Load(ctx, src)
	if err != nil {
		fmt.Fprintf(io.err, "Error: load %s: %v\n", label, err)
		return exitError
	}
	ids := make([]string, 0, len(r.Jobs))
	for id := range r.Jobs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if opts.client.address != "" {
		diags, code := clusterChecks(ctx, opts.client, r, ids, io)
		if code != exitOK {
			return code
		}
		r.Diagnostics = append(r.Diagnostics, diags...)
	}

	res := validateResult{Valid: !r.HasErrors(), Jobs: ids, Diagnostics: render.DiagnosticsJSON(r.Diagnostics)}
	if opts.json {
		enc := json.NewEncoder(io.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return exitError
		}
	} else {
		writeDiagnostics(r, io)
		if res.Valid {
			fmt.Fprintf(io.out, "%s: %s valid.\n", label, plural(len(ids), "job", "jobs"))
		} else {
			n := countErrors(res.Diagnostics)
			fmt.Fprintf(io.err, "%s: %s. Fix %s and run 'drover validate' again.\n", label, plural(n, "error", "errors"), pick(n, "it", "them"))
		}
	}
	if !res.Valid {
		return exitError
	}
	return exitOK
}

// clusterChecks are the checks that need the cluster: rollout.order node
// names against the server's nodes, asked for only when a job orders by
// node name.
func clusterChecks(ctx context.Context, c clientOptions, r *repo.Repo, ids []string, io stdio) (hcl.Diagnostics, int) {
	var jobs []*jobspec.Job
	for _, id := range ids {
		if j := r.Jobs[id].Job; ordersByNodeName(j) {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) == 0 {
		return nil, exitOK
	}
	client, ok := c.newClient(io)
	if !ok {
		return nil, exitError
	}
	nodes, _, err := client.Nodes().List(ctx, nil)
	if err != nil {
		return nil, printAPIError(io, err, client.Address())
	}
	known := nodeNameSet(nodes)
	var diags hcl.Diagnostics
	for _, j := range jobs {
		diags = append(diags, jobspec.CheckRolloutNodes(j, known)...)
	}
	return diags, exitOK
}

// validateSource turns the command line into what to load: one directory
// (a job repository), or a list of files.
func validateSource(targets []string) (repo.Source, string, error) {
	if len(targets) == 0 {
		targets = []string{"."}
	}
	var files []string
	for _, t := range targets {
		st, err := os.Stat(t)
		if err != nil {
			return nil, "", fmt.Errorf("%v: give a job repository directory or job files", err)
		}
		if st.IsDir() {
			if len(targets) > 1 {
				return nil, "", fmt.Errorf("%s is a directory: give either one directory or a list of files", t)
			}
			return repo.DirSource(t), t, nil
		}
		files = append(files, t)
	}
	label := files[0]
	if len(files) > 1 {
		label = fmt.Sprintf("%d files", len(files))
	}
	return repo.FileSource(files...), label, nil
}

func countErrors(diags []render.DiagnosticJSON) int {
	n := 0
	for _, d := range diags {
		if d.Severity == "error" {
			n++
		}
	}
	return n
}

// plural is "1 error", "2 errors".
func plural(n int, one, many string) string {
	return fmt.Sprintf("%d %s", n, pick(n, one, many))
}

// pick is one when n is 1, many otherwise: "Fix it", "Fix them".
func pick(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
