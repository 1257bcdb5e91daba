package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/render"
	"github.com/droverhq/drover/scheduler"
)

const jobPlanHelp = `
Usage: drover job plan [options] FILE

Dry-run a job file against the cluster, changing nothing: the field-level
diff against the version the cluster runs (and whether each change can be
applied in place or forces allocations to be replaced), then what the
scheduler would do with it on the cluster as it is now, including why
placements would fail ("Constraint ... 3 nodes excluded by filter").

For each group with a rollout block it prints the order in which a
destructive update would replace the group's allocations, node by node,
and warns when rollout.order names a node the cluster does not have.

It ends with the job's modify index: 'drover job run -check-index N FILE'
then submits the job only if nobody changed it since this plan.

Examples:
  drover job plan examples/jobs/web.nomad.hcl
  drover job plan -var image=nginx:1.27 web.nomad.hcl
  drover job plan -json web.nomad.hcl | jq '.explanations'

Exit codes: 0 no changes, 2 changes present, 1 an error (an invalid
file, an unreachable server).
`

type jobPlanOptions struct {
	client clientOptions
	file   jobFileOptions
	json   bool
}

func runJobPlan(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("job plan", jobPlanHelp, io)
	opts := jobPlanOptions{file: jobFileOptions{vars: kvFlag{}}}
	opts.client.register(fs)
	fs.Var(kvFlag(opts.file.vars), "var", "set a variable: `name=value` (repeatable)")
	fs.Var((*listFlag)(&opts.file.varFiles), "var-file", "read variables from an HCL `file` (repeatable)")
	fs.BoolVar(&opts.json, "json", false, "print the server's plan response as JSON (the diff in the schema of render/SCHEMA.md)")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(io.err, "Error: give exactly one job file: drover job plan FILE (see --help)")
		return exitError
	}
	opts.file.path = pos[0]
	return jobPlan(ctx, opts, io)
}

func jobPlan(ctx context.Context, opts jobPlanOptions, io stdio) int {
	job, ok := loadJobFile(opts.file, io)
	if !ok {
		return exitError
	}
	client, ok := opts.client.newClient(io)
	if !ok {
		return exitError
	}
	// The version the diff is against, read before the dry run so that a
	// change in between shows up as a check-index conflict later rather
	// than as a diff that does not match the index.
	var cur *cluster.Job
	if !opts.json {
		var err error
		cur, _, err = client.Jobs().Info(ctx, job.ID, nil)
		if err != nil && !api.IsNotFound(err) {
			return printAPIError(io, err, client.Address())
		}
	}
	if code := warnRolloutNodes(ctx, client, job, io); code != exitOK {
		return code
	}
	resp, err := client.Jobs().Plan(ctx, job)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	for _, w := range resp.Warnings {
		fmt.Fprintf(io.err, "Warning: %s\n", w)
	}
	if opts.json {
		if err := writeJSON(io.out, resp); err != nil {
			return exitError
		}
		if resp.Diff.HasChanges {
			return exitChanges
		}
		return exitOK
	}

	p, meta := localDiff(cur, job, opts.file.path, resp.Sensitive)
	if err := render.Text(io.out, p, meta, isTerminal(io.out, io)); err != nil {
		fmt.Fprintf(io.err, "Error: write plan: %v\n", err)
		return exitError
	}
	fmt.Fprintln(io.out)
	renderRolloutOrder(io.out, job, resp.RolloutOrder)
	renderDryRun(io.out, resp, runHint(opts.file))
	if p.HasChanges() {
		return exitChanges
	}
	return exitOK
}

// localDiff diffs the parsed job against the cluster's version with the
// same rules the server and `drover plan` use, masking by the sensitive
// globs the server masked its plan by. It is computed here, not taken
// from the server's JSON, so that the text renderer gets the full
// diff.Plan it knows how to colour.
func localDiff(cur *cluster.Job, job *jobspec.Job, path string, sensitive []string) (*diff.Plan, render.Meta) {
	old := map[string]*jobspec.Job{}
	meta := render.Meta{Base: "not on the cluster", Head: path}
	if cur != nil {
		meta.Base = fmt.Sprintf("version %d on the cluster", cur.Version)
		if cur.Stop {
			// A stopped job is created again, as the server plans it.
			meta.Base += " (stopped)"
		} else {
			old[job.ID] = cur.Spec
		}
	}
	desired := map[string]*jobspec.Job{job.ID: job}
	meta.NotLaunched = render.NotLaunchedNotes(desired)
	return diff.Compute(old, desired, diff.Options{Sensitive: sensitive}), meta
}

// renderDryRun prints the scheduler's side of a plan and the submit
// command, in `nomad job plan`'s words.
func renderDryRun(w io.Writer, resp *api.JobPlanResponse, runCmd string) {
	fmt.Fprintln(w, "Scheduler dry-run:")
	switch {
	case len(resp.Explanations) > 0:
		fmt.Fprintln(w, "- WARNING: Failed to place all allocations.")
		for _, g := range slices.Sorted(maps.Keys(resp.Explanations)) {
			for i, l := range resp.Explanations[g] {
				if i == 0 {
					fmt.Fprintf(w, "  %s\n", l)
				} else {
					fmt.Fprintf(w, "    * %s\n", l)
				}
			}
		}
	case len(resp.FailedTGAllocs) > 0:
		fmt.Fprintln(w, "- WARNING: Failed to place all allocations.")
		for _, l := range explainLines(resp.FailedTGAllocs, "  ") {
			fmt.Fprintln(w, l.text)
		}
	default:
		fmt.Fprintln(w, "- All tasks successfully allocated.")
	}
	fmt.Fprintf(w, `
Job Modify Index: %d
To submit the job with version verification run:

drover job run -check-index %d %s

When running the job with the check-index flag, the job will only be run if the
job modify index given matches the server-side version. If the index has
changed, another user has modified the job and the plan's results are
potentially invalid.
`, resp.JobModifyIndex, resp.JobModifyIndex, runCmd)
}

// warnRolloutNodes prints a warning, at its file:line:col, for every
// node name in a rollout.order (without order_by) that the cluster does
// not have. Nodes are listed only when some group orders by node name.
func warnRolloutNodes(ctx context.Context, client *api.Client, job *jobspec.Job, io stdio) int {
	if !ordersByNodeName(job) {
		return exitOK
	}
	nodes, _, err := client.Nodes().List(ctx, nil)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	diags := jobspec.CheckRolloutNodes(job, nodeNameSet(nodes))
	if len(diags) > 0 {
		_ = render.DiagnosticsText(io.err, diags, nil, isTerminal(io.err, io))
	}
	return exitOK
}

func ordersByNodeName(j *jobspec.Job) bool {
	for _, g := range j.Groups {
		if g.Rollout != nil && g.Rollout.OrderBy == "" {
			return true
		}
	}
	return false
}

func nodeNameSet(nodes []*api.NodeListStub) func(string) bool {
	names := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		names[n.Name] = true
	}
	return func(name string) bool { return names[name] }
}

// renderRolloutOrder prints, for each group of job with a rollout block,
// the nodes in the order a destructive update goes through them, as the
// server computed it. A server that does not compute it sent nil: then
// nothing is printed.
//
//	Rollout order for group "db" (order_by ${meta.role}):
//	  1. node-b  follower
//	  2. node-c  follower
//	  3. node-a  leader
func renderRolloutOrder(w io.Writer, job *jobspec.Job, orders map[string][]scheduler.OrderedNode) {
	if orders == nil {
		return
	}
	for _, g := range job.Groups {
		order, ok := orders[g.Name]
		if g.Rollout == nil || !ok {
			continue
		}
		by := "by node name"
		if g.Rollout.OrderBy != "" {
			by = "order_by " + g.Rollout.OrderBy
		}
		if len(order) == 0 {
			fmt.Fprintf(w, "Rollout order for group %q (%s): no allocations to replace yet.\n\n", g.Name, by)
			continue
		}
		fmt.Fprintf(w, "Rollout order for group %q (%s):\n", g.Name, by)
		if g.Update != nil && g.Update.Canary > 0 {
			fmt.Fprintln(w, "  (not used while the group deploys canaries: they replace allocations by index)")
		}
		width := 0
		for _, o := range order {
			width = max(width, len(o.Node))
		}
		for i, o := range order {
			var note string
			switch {
			case g.Rollout.OrderBy == "" && o.Listed:
			case g.Rollout.OrderBy == "":
				note = "(not in order: last)"
			case o.Value == "":
				note = "(unset: last)"
			case o.Listed:
				note = o.Value
			default:
				note = o.Value + " (not in order: last)"
			}
			fmt.Fprintf(w, "  %d. %s\n", i+1, strings.TrimRight(fmt.Sprintf("%-*s  %s", width, o.Node, note), " "))
		}
		fmt.Fprintln(w)
	}
}

// runHint repeats the plan's inputs for the suggested `job run`, so that
// the job submitted is the job planned.
func runHint(f jobFileOptions) string {
	var parts []string
	for _, vf := range f.varFiles {
		parts = append(parts, "-var-file "+shellQuote(vf))
	}
	for _, k := range slices.Sorted(maps.Keys(f.vars)) {
		parts = append(parts, "-var "+shellQuote(k+"="+f.vars[k]))
	}
	return strings.Join(append(parts, shellQuote(f.path)), " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
