package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/droverhq/drover/api"
)

const jobRunHelp = `
Usage: drover job run [options] FILE

Submit a job file to the cluster as an unmanaged job (one that no Git
source tracks) and watch the scheduler place it. The file is parsed here
first: a mistake is reported with its file:line:col and nothing is sent.

Unless -detach is given, the command follows the evaluation the submit
created until the scheduler is done with it, printing every allocation it
places and, when placements fail, why ("Constraint ... 3 nodes excluded
by filter"). When the version is rolled out by a deployment (a group
with an update block), it then follows the deployment to its end,
showing per task group the allocations desired, placed, running and
healthy and where canaries stand: a block redrawn in place on a
terminal, one timestamped line per change otherwise (CI logs). It stops
early when canaries wait for 'drover deployment promote'. -json prints
the evaluation's outcome and does not follow the deployment. Submitting
a job identical to the running version does nothing.

With -check-index N the submit only succeeds if the job's modify index is
still N (0: the job must not exist yet), the index 'drover job plan'
prints: what you reviewed is what gets run.

FILE may be - to read the job from stdin (HCL). Its name says its syntax:
HCL (*.hcl, *.nomad), HCL's JSON (*.nomad.json, *.hcl.json), or Nomad's
API job as 'nomad job inspect' prints it (*.job.json) and its YAML
(*.job.yaml, *.job.yml).

Examples:
  drover job run examples/jobs/web.nomad.hcl
  nomad job inspect web > web.job.json && drover job run web.job.json
  drover job run -var image=nginx:1.27 -check-index 42 web.nomad.hcl
  DROVER_ADDR=http://10.0.0.1:4747 drover job run -detach web.nomad.hcl

Exit codes: 0 the job was placed (or was unchanged) and its deployment,
if any, succeeded or waits for promotion, 2 the scheduler could not
place every allocation (as 'nomad job run'), 1 an error: an invalid
file, an unreachable server, a check-index conflict, a failed deployment.
`

type jobRunOptions struct {
	client     clientOptions
	file       jobFileOptions
	checkIndex *uint64 // nil: no compare-and-set
	detach     bool
	json       bool
	// clock stamps the monitor's lines; tests fix it.
	clock func() time.Time
	// evalOnly (-no-deployment) stops after the evaluation: for scripts
	// that check placement only, and for tests whose nodes have no
	// agent, where no allocation ever becomes healthy.
	evalOnly bool
}

func runJobRun(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("job run", jobRunHelp, io)
	opts := jobRunOptions{file: jobFileOptions{vars: kvFlag{}}, clock: time.Now}
	opts.client.register(fs)
	fs.Var(kvFlag(opts.file.vars), "var", "set a variable: `name=value` (repeatable)")
	fs.Var((*listFlag)(&opts.file.varFiles), "var-file", "read variables from an HCL `file` (repeatable)")
	fs.Var(optionalUint{&opts.checkIndex}, "check-index", "submit only if the job's modify index is `N` (0: the job must not exist)")
	fs.BoolVar(&opts.detach, "detach", false, "return once the job is submitted, without following its evaluation")
	fs.BoolVar(&opts.evalOnly, "no-deployment", false, "follow the evaluation, not the deployment that follows it")
	fs.BoolVar(&opts.json, "json", false, "print the API's answers as JSON")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(io.err, "Error: give exactly one job file: drover job run FILE (see --help)")
		return exitError
	}
	opts.file.path = pos[0]
	return jobRun(ctx, opts, io)
}

// jobRunJSON is what -json prints: the submit's answer and, unless
// -detach, where its evaluation ended.
type jobRunJSON struct {
	Register *api.JobRegisterResponse `json:"register"`
	*monitorResult
}

func jobRun(ctx context.Context, opts jobRunOptions, io stdio) int {
	job, ok := loadJobFile(opts.file, io)
	if !ok {
		return exitError
	}
	client, ok := opts.client.newClient(io)
	if !ok {
		return exitError
	}
	resp, err := client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: job, CheckIndex: opts.checkIndex})
	if err != nil {
		code := printAPIError(io, err, client.Address())
		if api.IsConflict(err) {
			fmt.Fprintf(io.err, "Run 'drover job plan %s' to review the current version and get its index.\n", opts.file.path)
		}
		return code
	}
	for _, w := range resp.Warnings {
		fmt.Fprintf(io.err, "Warning: %s\n", w)
	}
	out := jobRunJSON{Register: resp}
	code := exitOK
	switch {
	case resp.Unchanged:
		if !opts.json {
			fmt.Fprintf(io.out, "Job unchanged: nothing to do (job %q is at version %d, modify index %d).\n", job.ID, resp.Version, resp.JobModifyIndex)
		}
	case resp.EvalID == "" && job.Periodic != nil && len(resp.Warnings) == 0:
		if !opts.json {
			fmt.Fprintf(io.out, "Periodic job %q registered at version %d; the leader launches its children on schedule ('drover job status %s' shows the next launch).\n", job.ID, resp.Version, job.ID)
		}
	case resp.EvalID == "" && job.Parameterized != nil:
		if !opts.json {
			fmt.Fprintf(io.out, "Parameterized job %q registered at version %d; run it with 'drover job dispatch %s [INPUT]'.\n", job.ID, resp.Version, job.ID)
		}
	case resp.EvalID == "":
		if !opts.json {
			fmt.Fprintf(io.out, "Job %q registered at version %d; nothing was scheduled (see the warning above).\n", job.ID, resp.Version)
		}
	case opts.detach:
		if !opts.json {
			fmt.Fprintf(io.out, "Job registration successful: %q version %d\nEvaluation ID: %s\n", job.ID, resp.Version, resp.EvalID)
		}
	default:
		var res monitorResult
		res, code = followEval(ctx, client, resp.EvalID, job.ID, opts.json, opts.clock, io)
		if res.Evaluation != nil {
			out.monitorResult = &res
		}
		if code == exitOK && !opts.json && !opts.evalOnly {
			// Like Nomad, follow the version's deployment (a group with
			// an update block) to its end; -json keeps its one answer.
			code = followJobDeployment(ctx, client, res.Evaluation.Namespace, job.ID, resp.Version, opts.clock, io)
		}
	}
	return jsonTail(io, opts.json, out, code)
}

// followEval runs the monitor for job run and job stop and maps its
// outcome to an exit code. Being interrupted does not stop the
// evaluation, so the message says where to look instead.
func followEval(ctx context.Context, client *api.Client, evalID, jobID string, quiet bool, clock func() time.Time, io stdio) (monitorResult, int) {
	m := evalMonitor{client: client, out: progressWriter(io.out, quiet), clock: clock}
	res, err := m.run(ctx, evalID)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(io.err, "Stopped following evaluation %q; it goes on on the server. Run 'drover job status %s' to see the outcome.\n", shortID(evalID), jobID)
			return res, exitError
		}
		return res, printAPIError(io, err, client.Address())
	}
	return res, res.exitCode()
}

// optionalUint is a uint64 flag that records whether it was given at
// all, since -check-index 0 ("the job must not exist") differs from no
// -check-index.
type optionalUint struct{ p **uint64 }

func (o optionalUint) String() string {
	if o.p == nil || *o.p == nil {
		return ""
	}
	return strconv.FormatUint(**o.p, 10)
}

func (o optionalUint) Set(s string) error {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("want a non-negative integer, got %q", s)
	}
	*o.p = &v
	return nil
}

// followInto follows evalID as followEval does and keeps its result in
// *dst, the -json document's monitor part, when there is one: the tail
// that job dispatch, periodic force, scale and stop share.
func followInto(ctx context.Context, client *api.Client, evalID, jobID string, quiet bool, clock func() time.Time, io stdio, dst **monitorResult) int {
	res, code := followEval(ctx, client, evalID, jobID, quiet, clock, io)
	if res.Evaluation != nil {
		*dst = &res
	}
	return code
}

// jsonTail prints doc with -json and returns code, or exitError when the
// document cannot be written.
func jsonTail(io stdio, asJSON bool, doc any, code int) int {
	if asJSON {
		if err := writeJSON(io.out, doc); err != nil {
			return exitError
		}
	}
	return code
}
