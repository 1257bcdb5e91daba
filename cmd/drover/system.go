package main

import (
	"context"
	"fmt"
	"io"

	"github.com/droverhq/drover/api"
)

func systemCommands() []command {
	return []command{
		{"gc", "Run a garbage collection on the servers now", runSystemGC},
	}
}

func runSystem(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "system", "Cluster-wide maintenance.", systemCommands(), args, io)
}

const systemGCHelp = `
Usage: drover system gc [options]

Run a garbage collection on the leader now, as 'nomad system gc' does,
and print what it removed. The leader also collects by itself every
gc_interval (5m); this one ignores the age thresholds (eval_gc_threshold,
deployment_gc_threshold, job_gc_threshold) and removes at once:

  - terminal evaluations, allocations and deployments,
  - stopped jobs with nothing left running (purged),
  - job versions beyond the newest job_tracked_versions (6).

Nothing that runs or is wanted is removed, nor what the scheduler still
needs: a failed allocation not yet rescheduled, a batch job's completed
ones, the version an allocation or a deployment runs, the newest stable
version (auto_revert's target), a job's newest deployment. 'drover
history' still lists every collected version with its commit.

Needs a token with the operator:write capability (-token or DROVER_TOKEN).

Examples:
  drover system gc
  drover system gc -json | jq .job_versions

Exit codes: 0 collected (or nothing to collect), 1 error.
`

type systemGCOptions struct {
	client clientOptions
	json   bool
}

func runSystemGC(ctx context.Context, args []string, io stdio) int {
	var opts systemGCOptions
	fs := newFlagSet("system gc", systemGCHelp, io)
	opts.client.register(fs)
	fs.BoolVar(&opts.json, "json", false, "print the counts as JSON")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) != 0 {
		fmt.Fprintln(io.err, "drover system gc: takes no arguments (see --help)")
		return exitError
	}
	return systemGC(ctx, opts, io)
}

func systemGC(ctx context.Context, opts systemGCOptions, io stdio) int {
	c, ok := opts.client.newClient(io)
	if !ok {
		return exitError
	}
	resp, err := c.System().GarbageCollect(ctx)
	if err != nil {
		return printAPIError(io, err, c.Address())
	}
	if opts.json {
		if err := writeJSON(io.out, resp); err != nil {
			return exitError
		}
		return exitOK
	}
	renderGC(io.out, resp)
	return exitOK
}

// renderGC prints what a collection removed.
func renderGC(w io.Writer, r *api.GCResponse) {
	if *r == (api.GCResponse{}) {
		fmt.Fprintln(w, "Garbage collection: nothing to collect.")
		return
	}
	fmt.Fprintln(w, "Garbage collection removed:")
	writeTable(w, []string{"Kind", "Count"}, [][]string{
		{"Evaluations", fmt.Sprint(r.Evals)},
		{"Allocations", fmt.Sprint(r.Allocs)},
		{"Deployments", fmt.Sprint(r.Deployments)},
		{"Job versions", fmt.Sprint(r.JobVersions)},
		{"Stopped jobs (purged)", fmt.Sprint(r.Jobs)},
	})
}
