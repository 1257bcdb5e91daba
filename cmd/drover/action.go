package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/httpguard"
	"github.com/droverhq/drover/jobspec"
)

const actionHelp = `
Usage: drover action [options] -job JOB ACTION

Run one of a task's actions (its 'action "NAME" { command args }' blocks,
as in Nomad 1.7's 'nomad action') inside a running allocation of the job,
and print what it wrote. Only actions the job declares can run; the
command runs in the task's isolation with the task's environment, never
on the host. The command's exit code becomes this command's.

The allocation is the one -alloc names, else the newest running
allocation of the job (of -group, when given). The task is -task, or the
one task of the group that declares ACTION.

The output is bounded: the first 64 KiB of each of stdout and stderr.
The action runs for at most 5 minutes.

Examples:
  drover action -job web flush-cache
  drover action -job web -group frontend -task server -alloc 8f1c report
  drover action -json -job web status | jq -r .stdout | base64 -d

Exit codes: the action's exit code; 1 also for an error (an unknown job,
task or action, no running allocation, a token without alloc-exec).
`

type actionOptions struct {
	client clientOptions
	job    string
	group  string
	task   string
	alloc  string
	action string
	json   bool
}

// maxActionResponse bounds what the CLI reads of an agent's answer: two
// bounded outputs, base64 in JSON.
const maxActionResponse = 1 << 20

func runAction(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("action", actionHelp, io)
	var opts actionOptions
	opts.client.register(fs)
	fs.StringVar(&opts.job, "job", "", "the `JOB` (an ID or a unique prefix) whose task declares the action (required)")
	fs.StringVar(&opts.group, "group", "", "only allocations of this task `GROUP`")
	fs.StringVar(&opts.task, "task", "", "the `TASK` to run the action in (default: the group's task that declares it)")
	fs.StringVar(&opts.alloc, "alloc", "", "the allocation `ID` (or prefix) to run it in (default: the newest running one)")
	fs.BoolVar(&opts.json, "json", false, "print the result as JSON (exit code, stdout, stderr)")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) != 1 || opts.job == "" {
		fmt.Fprintln(io.err, "Error: want -job JOB and one ACTION, e.g. drover action -job web flush-cache (see --help)")
		return exitError
	}
	opts.action = pos[0]
	return runActionOpts(ctx, opts, io)
}

func runActionOpts(ctx context.Context, opts actionOptions, io stdio) int {
	cfg := opts.client.config(io)
	client, ok := opts.client.newClient(io)
	if !ok {
		return exitError
	}
	stub, code := findJob(ctx, client, opts.job, time.Now(), io)
	if stub == nil {
		return code
	}
	allocs, _, err := client.Jobs().Allocations(ctx, stub.ID, nil)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	alloc, msg := pickActionAlloc(allocs, opts.group, opts.alloc)
	if alloc == nil {
		fmt.Fprintf(io.err, "Error: job %q: %s\n", stub.ID, msg)
		return exitError
	}
	versions, _, err := client.Jobs().Versions(ctx, stub.ID, nil)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	var spec *jobspec.Job
	for _, v := range versions {
		if v.Version == alloc.JobVersion {
			spec = v.Spec
		}
	}
	task, msg := pickActionTask(spec, alloc.TaskGroup, opts.task, opts.action)
	if task == "" {
		fmt.Fprintf(io.err, "Error: %s\n", msg)
		return exitError
	}
	node, _, err := client.Nodes().Info(ctx, alloc.NodeID, nil)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	if node.HTTPAddr == "" {
		fmt.Fprintf(io.err, "Error: node %s (%s) cannot run actions: its agent registered no HTTP address.\n", node.Name, shortID(node.ID))
		return exitError
	}
	if !opts.json {
		fmt.Fprintf(io.err, "==> Running action %q in task %q of allocation %s on node %s\n", opts.action, task, shortID(alloc.ID), node.Name)
	}
	base := node.HTTPAddr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	if rest, ok := strings.CutPrefix(base, "https://"); ok && cfg.TLS.CACert == "" && httpguard.IsLoopback(rest) {
		base = "http://" + rest // as alloc logs: a local agent answers plain HTTP on loopback
	}
	tlsCfg := cfg.TLS
	tlsCfg.PeerRole = "client"
	tr, err := tlsCfg.Transport()
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	target := base + "/v1/client/allocation/" + url.PathEscape(alloc.ID) + "/action"
	res, err := postAction(ctx, &http.Client{Transport: tr}, target, cfg.Token, api.ActionRequest{Task: task, Action: opts.action})
	if err != nil {
		fmt.Fprintf(io.err, "Error: run action %q on node %s at %s: %v\n", opts.action, node.Name, node.HTTPAddr, err)
		return exitError
	}
	if opts.json {
		if err := writeJSON(io.out, res); err != nil {
			return exitError
		}
	} else {
		_, _ = io.out.Write(res.Stdout)
		_, _ = io.err.Write(res.Stderr)
	}
	if res.ExitCode < 0 || res.ExitCode > 255 {
		return exitError
	}
	return res.ExitCode
}

// pickActionAlloc chooses the allocation to run an action in: the one
// allocID names (an ID prefix), else the newest running one of group (any
// group when empty). Pure.
func pickActionAlloc(allocs []*cluster.Allocation, group, allocID string) (*cluster.Allocation, string) {
	var best *cluster.Allocation
	for _, a := range allocs {
		if allocID != "" && !strings.HasPrefix(a.ID, allocID) || group != "" && a.TaskGroup != group {
			continue
		}
		if a.ClientStatus != cluster.AllocClientRunning || a.Terminal() {
			continue
		}
		if allocID != "" && best != nil {
			return nil, fmt.Sprintf("allocation prefix %q is ambiguous; give more of the ID", allocID)
		}
		if best == nil || a.CreateIndex > best.CreateIndex {
			best = a
		}
	}
	switch {
	case best != nil:
		return best, ""
	case allocID != "":
		return nil, fmt.Sprintf("no running allocation %q (see 'drover job status')", allocID)
	case group != "":
		return nil, fmt.Sprintf("no running allocation of group %q (see 'drover job status')", group)
	}
	return nil, "no running allocation: actions run inside a running task (see 'drover job status')"
}

// pickActionTask chooses the task of group that runs action: task when
// given (it must declare the action), else the one task that declares
// it. Pure.
func pickActionTask(spec *jobspec.Job, group, task, action string) (string, string) {
	var g *jobspec.Group
	if spec != nil {
		g = spec.Group(group)
	}
	if g == nil {
		return "", fmt.Sprintf("the allocation's job version has no group %q", group)
	}
	var with, all []string
	for _, t := range g.Tasks {
		for _, a := range t.Actions {
			all = append(all, t.Name+": "+a.Name)
			if a.Name == action {
				with = append(with, t.Name)
			}
		}
	}
	available := "the group declares no actions"
	if len(all) > 0 {
		available = "declared: " + strings.Join(all, ", ")
	}
	switch {
	case task != "" && slices.Contains(with, task):
		return task, ""
	case task != "":
		return "", fmt.Sprintf("task %q of group %q has no action %q (%s)", task, group, action, available)
	case len(with) == 1:
		return with[0], ""
	case len(with) > 1:
		return "", fmt.Sprintf("tasks %s of group %q all declare action %q; choose one with -task", strings.Join(with, ", "), group, action)
	}
	return "", fmt.Sprintf("group %q has no action %q (%s)", group, action, available)
}

func postAction(ctx context.Context, hc *http.Client, target, token string, req api.ActionRequest) (*api.ActionResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxActionResponse+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxActionResponse {
		return nil, fmt.Errorf("the agent's answer is larger than %d bytes", maxActionResponse)
	}
	if resp.StatusCode != http.StatusOK {
		var e api.Error
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return nil, errors.New(e.Error)
		}
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var out api.ActionResponse
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("the agent's answer does not decode: %w", err)
	}
	return &out, nil
}
