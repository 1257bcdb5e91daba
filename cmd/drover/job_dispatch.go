package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
)

const jobDispatchHelp = `
Usage: drover job dispatch [options] JOB [INPUT]

Dispatch a parameterized job (one with a parameterized block; JOB is an ID
or a unique prefix of one), as Nomad's 'job dispatch' does: the server
registers a child job JOB/dispatch-<unix seconds>-<8 hex> (with
-id-prefix-template T, JOB/dispatch-T-<unix seconds>-<8 hex>), a copy of
the job with the dispatch's meta merged into its own and INPUT as its
payload, and schedules it like any batch job. Each task with a
dispatch_payload block finds the payload in local/<file>; every task sees
the meta as NOMAD_META_<KEY> and the parent as NOMAD_JOB_PARENT_ID.

INPUT is a file, or - for standard input; at most 16384 bytes (16 KiB).
The job's parameterized block says whether a payload is required,
optional or forbidden, and which meta keys must (meta_required) or may
(meta_optional) be given.

With -idempotency-token TOKEN, a retry is safe: while a job dispatched
with the same token has not finished, the command prints that job and
dispatches nothing.

Unless -detach is given, the command follows the child's evaluation
until the scheduler is done with it. 'drover job status JOB' lists the
dispatched jobs, newest first; 'drover alloc logs' shows their output.

Examples:
  drover job dispatch video-encode video.json
  echo '{"url": "s3://in/1.mp4"}' | drover job dispatch -meta lang=fr video-encode -
  drover job dispatch -id-prefix-template nightly -detach -json video-encode in.json | jq -r .dispatch.DispatchedJobID
  drover job dispatch -idempotency-token order-1234 -detach video-encode in.json

Exit codes: 0 dispatched (and placed, unless -detach), 2 the scheduler
could not place every allocation of the child (as 'nomad job dispatch'),
1 an error: an unknown job, a job that is not parameterized or is
stopped, a payload or meta the job does not accept, too many of its
dispatched jobs still running, an unreachable server.
`

type jobDispatchOptions struct {
	client   clientOptions
	jobID    string
	input    string // "" (none), "-" (stdin) or a file
	meta     kvFlag
	prefix   string
	priority int
	token    string
	detach   bool
	json     bool
	clock    func() time.Time
}

func runJobDispatch(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("job dispatch", jobDispatchHelp, io)
	opts := jobDispatchOptions{meta: kvFlag{}, clock: time.Now}
	opts.client.register(fs)
	fs.Var(opts.meta, "meta", "meta for the dispatched job: `key=value` (repeatable)")
	fs.StringVar(&opts.prefix, "id-prefix-template", "", "put `T` into the dispatched job's ID: JOB/dispatch-T-<unix>-<hex>")
	fs.IntVar(&opts.priority, "priority", 0, "the dispatched job's priority, 1 to 100 (default: the job's)")
	fs.StringVar(&opts.token, "idempotency-token", "", "dispatch only if no unfinished job was dispatched with `token`; else print that job")
	fs.BoolVar(&opts.detach, "detach", false, "return once the job is dispatched, without following its evaluation")
	fs.BoolVar(&opts.json, "json", false, "print the API's answers as JSON")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) < 1 || len(pos) > 2 {
		fmt.Fprintln(io.err, "Error: give the job and at most one input: drover job dispatch [options] JOB [INPUT|-] (see --help)")
		return exitError
	}
	opts.jobID = pos[0]
	if len(pos) == 2 {
		opts.input = pos[1]
	}
	return jobDispatch(ctx, opts, io)
}

// jobDispatchJSON is what -json prints: the dispatch's answer and,
// unless -detach, where its evaluation ended.
type jobDispatchJSON struct {
	Dispatch *api.JobDispatchResponse `json:"dispatch"`
	*monitorResult
}

// readPayload reads a dispatch's input, refusing more than the servers
// accept before reading it all.
func readPayload(name string, stdin io.Reader) ([]byte, error) {
	if name == "" {
		return nil, nil
	}
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("read the payload: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, api.DispatchPayloadMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read the payload from %s: %w", name, err)
	}
	if len(data) > api.DispatchPayloadMaxBytes {
		return nil, fmt.Errorf("the payload in %s is larger than %d bytes (16 KiB), the most a dispatch carries: "+
			"put the data where the task can fetch it and pass its location with -meta", name, api.DispatchPayloadMaxBytes)
	}
	return data, nil
}

func jobDispatch(ctx context.Context, opts jobDispatchOptions, io stdio) int {
	payload, err := readPayload(opts.input, io.in)
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	client, ok := opts.client.newClient(io)
	if !ok {
		return exitError
	}
	stub, code := findJob(ctx, client, opts.jobID, opts.clock(), io)
	if stub == nil {
		return code
	}
	req := &api.JobDispatchRequest{Payload: payload, IdPrefixTemplate: opts.prefix, Priority: opts.priority, IdempotencyToken: opts.token}
	if len(opts.meta) > 0 {
		req.Meta = opts.meta
	}
	resp, err := client.Jobs().Dispatch(ctx, stub.ID, stub.Namespace, req)
	if err != nil {
		code := printAPIError(io, err, client.Address())
		if msg := err.Error(); strings.Contains(msg, "meta keys") || strings.Contains(msg, "Payload") {
			fmt.Fprintf(io.err, "Run 'drover job status %s' to see the job's parameterized block.\n", stub.ID)
		}
		return code
	}
	out := jobDispatchJSON{Dispatch: resp}
	if !opts.json {
		kv := [][2]string{{"Dispatched Job ID", resp.DispatchedJobID}}
		if resp.EvalID != "" {
			kv = append(kv, [2]string{"Evaluation ID", shortID(resp.EvalID)})
		}
		writeKV(io.out, kv)
	}
	code = exitOK
	switch {
	case resp.EvalID == "" && opts.token != "":
		if !opts.json {
			fmt.Fprintf(io.out, "\nA job dispatched with this idempotency token has not finished: nothing new was dispatched ('drover job status %s').\n", resp.DispatchedJobID)
		}
	case resp.EvalID == "":
		if !opts.json {
			fmt.Fprintf(io.out, "\nThe dispatched job is periodic: the leader launches its children on schedule ('drover job status %s').\n", resp.DispatchedJobID)
		}
	case !opts.detach:
		if !opts.json {
			fmt.Fprintln(io.out)
		}
		code = followInto(ctx, client, resp.EvalID, resp.DispatchedJobID, opts.json, opts.clock, io, &out.monitorResult)
	}
	return jsonTail(io, opts.json, out, code)
}
