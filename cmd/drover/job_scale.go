package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

const jobScaleHelp = `
Usage: drover job scale [options] JOB [GROUP] COUNT

Set the count of one of a job's groups, as Nomad's 'job scale' does. JOB
is a job ID or a unique prefix of one; GROUP may be left out when the job
has a single group. The servers register a new version of the job that
differs only in that count, and schedule it.

A group with a scaling block refuses a count outside its min and max.
A group without one can be scaled to any count (as in Nomad).

For a job that comes from Git, the group decides who owns the count:
with a scaling block the cluster does, and later syncs keep the count set
here (as Argo CD leaves an autoscaled Deployment's replicas alone);
without one the file does, so the next sync reports the count as drift
and, with self_heal (the default), puts the file's count back.

Unless -detach is given, the command follows the evaluation until the
scheduler is done with it.

Examples:
  drover job scale web 3
  drover job scale web frontend 5
  drover job scale -message "launch day" -detach web 8
  drover job scale -json web 2 | jq .scale.EvalID

Exit codes: 0 scaled (and placed, unless -detach), 2 the scheduler could
not place every allocation (as 'drover job run'), 1 an error: a count
outside the group's scaling min/max, an unknown job or group, a
deployment still in progress, an unreachable server.
`

type jobScaleOptions struct {
	jobCommand
	group   string
	count   int64
	message string
}

func runJobScale(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("job scale", jobScaleHelp, io)
	var opts jobScaleOptions
	opts.register(fs, "return once the scale is registered, without following its evaluation")
	fs.StringVar(&opts.message, "message", "", "a note kept with the scaling event")
	pos, code, done := parseArgs(fs, args, io, 2, 3, "Error: want JOB [GROUP] COUNT, e.g. drover job scale web 3 (see --help)")
	if done {
		return code
	}
	opts.jobID = pos[0]
	if len(pos) == 3 {
		opts.group = pos[1]
	}
	n, err := strconv.ParseInt(pos[len(pos)-1], 10, 32)
	if err != nil || n < 0 {
		fmt.Fprintf(io.err, "Error: COUNT %q is not a whole number ≥ 0\n", pos[len(pos)-1])
		return exitError
	}
	opts.count = n
	return jobScale(ctx, opts, io)
}

// jobScaleJSON is what -json prints.
type jobScaleJSON struct {
	Scale *api.JobScaleResponse `json:"scale"`
	*monitorResult
}

func jobScale(ctx context.Context, opts jobScaleOptions, io stdio) int {
	client, stub, code := opts.findJob(ctx, io)
	if stub == nil {
		return code
	}
	req := &api.ScalingRequest{Count: &opts.count, Message: opts.message, Target: map[string]string{api.ScalingTargetJob: stub.ID}}
	if opts.group != "" {
		req.Target[api.ScalingTargetGroup] = opts.group
	}
	resp, err := client.Jobs().Scale(ctx, stub.ID, req)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	out := jobScaleJSON{Scale: resp}
	code = exitOK
	if !opts.json {
		target := "the job's group"
		if opts.group != "" {
			target = fmt.Sprintf("group %q", opts.group)
		}
		fmt.Fprintf(io.out, "Job %q: %s scaled to %d (version %d)\n", stub.ID, target, opts.count, resp.Version)
		for _, n := range resp.Notes {
			fmt.Fprintf(io.out, "Note: %s\n", n)
		}
		if resp.EvalID != "" {
			fmt.Fprintf(io.out, "Evaluation ID: %s\n", resp.EvalID)
		}
	}
	if !opts.detach && resp.EvalID != "" {
		code = followInto(ctx, client, resp.EvalID, stub.ID, opts.json, opts.clock, io, &out.monitorResult)
	}
	return jsonTail(io, opts.json, out, code)
}

// renderScaling lists the groups' scaling blocks, when any has one, and
// the last scale of the job: what `drover job scale` may set and what
// an autoscaler's policy says.
func renderScaling(w io.Writer, j *cluster.Job) {
	if j.Spec == nil {
		return
	}
	var rows [][]string
	for _, g := range j.Spec.Groups {
		sc := g.Scaling
		if sc == nil {
			continue
		}
		policy := "none"
		if len(sc.Policy) > 0 {
			b, err := json.Marshal(sc.Policy)
			if err == nil {
				policy = string(b)
			}
			if len(policy) > 60 {
				policy = policy[:57] + "..."
			}
		}
		rows = append(rows, []string{g.Name, strconv.Itoa(g.Count), strconv.Itoa(sc.Min), strconv.Itoa(sc.Max), strconv.FormatBool(sc.Enabled), policy})
	}
	if len(rows) > 0 {
		fmt.Fprintln(w, "\nScaling")
		writeTable(w, []string{"Task Group", "Count", "Min", "Max", "Enabled", "Policy"}, rows)
	}
	if ev := j.Scale; ev != nil && ev.Count != nil {
		msg := ""
		if ev.Message != "" {
			msg = fmt.Sprintf(" (%q)", ev.Message)
		}
		fmt.Fprintf(w, "\nVersion %d scaled group %q from %d to %d%s\n", j.Version, ev.TaskGroup, ev.PreviousCount, *ev.Count, msg)
	}
}
