package main

import (
	"context"
	"fmt"

	"github.com/droverhq/drover/api"
)

func jobPeriodicCommands() []command {
	return []command{
		{"force", "Launch a periodic job's child now, outside its schedule", runJobPeriodicForce},
	}
}

func runJobPeriodic(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "job periodic", "Act on periodic jobs (jobs with a periodic block).", jobPeriodicCommands(), args, io)
}

const jobPeriodicForceHelp = `
Usage: drover job periodic force [options] JOB

Launch a child of a periodic job now (JOB is an ID or a unique prefix of
one), as Nomad's 'job periodic force' does: the child is a copy of the job
named JOB/periodic-<unix seconds>, registered and scheduled like any batch
job. The schedule is not changed: the next launch comes when it would
have. prohibit_overlap does not apply to a forced launch.

Unless -detach is given, the command follows the child's evaluation until
the scheduler is done with it.

Examples:
  drover job periodic force nightly-report
  drover job periodic force -detach -json nightly-report | jq -r .force.child_id

Exit codes: 0 launched (and placed, unless -detach), 2 the scheduler could
not place every allocation of the child (as 'drover job run'), 1 an error:
an unknown job, a job that is not periodic or is stopped, a second force
of the same job in the same second, an unreachable server.
`

type jobPeriodicForceOptions struct{ jobCommand }

func runJobPeriodicForce(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("job periodic force", jobPeriodicForceHelp, io)
	var opts jobPeriodicForceOptions
	opts.register(fs, "return once the child is launched, without following its evaluation")
	pos, code, done := parseArgs(fs, args, io, 1, 1, "Error: give exactly one job: drover job periodic force JOB (see --help)")
	if done {
		return code
	}
	opts.jobID = pos[0]
	return jobPeriodicForce(ctx, opts, io)
}

// jobPeriodicForceJSON is what -json prints.
type jobPeriodicForceJSON struct {
	Force *api.PeriodicForceResponse `json:"force"`
	*monitorResult
}

func jobPeriodicForce(ctx context.Context, opts jobPeriodicForceOptions, io stdio) int {
	client, stub, code := opts.findJob(ctx, io)
	if stub == nil {
		return code
	}
	resp, err := client.Jobs().PeriodicForce(ctx, stub.ID)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	out := jobPeriodicForceJSON{Force: resp}
	code = exitOK
	if !opts.json {
		fmt.Fprintf(io.out, "Job %q launched child %q\nEvaluation ID: %s\n", stub.ID, resp.ChildID, resp.EvalID)
	}
	if !opts.detach {
		code = followInto(ctx, client, resp.EvalID, resp.ChildID, opts.json, opts.clock, io, &out.monitorResult)
	}
	return jsonTail(io, opts.json, out, code)
}
