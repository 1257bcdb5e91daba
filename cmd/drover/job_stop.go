package main

import (
	"context"
	"fmt"

	"github.com/droverhq/drover/api"
)

const jobStopHelp = `
Usage: drover job stop [options] JOB

Stop a job (an ID or a unique prefix of one): its allocations are told to
stop and it is not scheduled again until it is submitted again. The job's
versions are kept for 'drover job status' unless -purge is given.

A job that a Git source manages comes back while its file is still in the
repository: with self_heal on (the default in drover.hcl) the source puts
it back at its next pass (every poll_interval, 30s by default). Remove the
file there to stop it for good. Until then 'drover job status' shows it as
stopped by hand, with the commit it came from.

Unless -detach is given, the command follows the evaluation that stops
the allocations until the scheduler is done with it.

Examples:
  drover job stop web
  drover job stop -purge -detach web

Exit codes: 0 stopped, 1 an error (an unknown job, an unreachable server).
`

type jobStopOptions struct {
	jobCommand
	purge bool
}

func runJobStop(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("job stop", jobStopHelp, io)
	var opts jobStopOptions
	opts.register(fs, "return once the stop is accepted, without following its evaluation")
	fs.BoolVar(&opts.purge, "purge", false, "delete the job and its history instead of only stopping it")
	pos, code, done := parseArgs(fs, args, io, 1, 1, "Error: give exactly one job: drover job stop JOB (see --help)")
	if done {
		return code
	}
	opts.jobID = pos[0]
	return jobStop(ctx, opts, io)
}

// jobStopJSON is what -json prints.
type jobStopJSON struct {
	Deregister *api.JobDeregisterResponse `json:"deregister"`
	*monitorResult
}

func jobStop(ctx context.Context, opts jobStopOptions, io stdio) int {
	client, stub, code := opts.findJob(ctx, io)
	if stub == nil {
		return code
	}
	if stub.Source != nil && !stub.Stop && !opts.json {
		fmt.Fprintf(io.err, "Warning: job %q comes from %s (%s); with self_heal on (the default), source %q starts it again at its next pass unless its file is removed there.\n",
			stub.ID, stub.Source.Repo, stub.Source.Path, stub.Source.Name)
	}
	resp, err := client.Jobs().Deregister(ctx, stub.ID, opts.purge)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	out := jobStopJSON{Deregister: resp}
	code = exitOK
	switch {
	case resp.EvalID == "":
		if !opts.json {
			fmt.Fprintf(io.out, "Job %q stopped; it had nothing to evaluate.\n", stub.ID)
		}
	case opts.detach:
		if !opts.json {
			fmt.Fprintf(io.out, "Job %q stopping\nEvaluation ID: %s\n", stub.ID, resp.EvalID)
		}
	default:
		code = followInto(ctx, client, resp.EvalID, stub.ID, opts.json, opts.clock, io, &out.monitorResult)
	}
	return jsonTail(io, opts.json, out, code)
}
