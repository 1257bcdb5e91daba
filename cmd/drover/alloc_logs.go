package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
)

const allocLogsHelp = `
Usage: drover alloc logs [options] ALLOC [TASK]

Print a task's stdout (or, with -stderr, its stderr). ALLOC is an
allocation ID or a unique prefix of one; TASK may be left out when the
allocation's group has a single task.

Logs stay on the node that ran the task: the CLI asks the server which
node that is and reads them from that node's agent (its address is part
of the node's registration), with the same token.

Examples:
  drover alloc logs 8f1c
  drover alloc logs -f 8f1c server
  drover alloc logs -stderr -tail -n 50 8f1c server

Exit codes: 0 success, 1 error.
`

type allocLogsOptions struct {
	client clientOptions
	follow bool
	stderr bool
	tail   bool
	lines  int
	alloc  string
	task   string
}

func runAllocLogs(ctx context.Context, args []string, io stdio) int {
	var opts allocLogsOptions
	fs := newFlagSet("alloc logs", allocLogsHelp, io)
	opts.client.register(fs)
	fs.BoolVar(&opts.follow, "f", false, "follow: keep printing new output until the task is dead for good")
	fs.BoolVar(&opts.stderr, "stderr", false, "print stderr instead of stdout")
	fs.BoolVar(&opts.tail, "tail", false, "print only the last lines (10, or -n)")
	fs.IntVar(&opts.lines, "n", -1, "with -tail (implied), print the last `N` lines")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) < 1 || len(pos) > 2 {
		fmt.Fprintln(io.err, "Usage: drover alloc logs [options] ALLOC [TASK] (see --help)")
		return exitError
	}
	opts.alloc = pos[0]
	if len(pos) == 2 {
		opts.task = pos[1]
	}
	if opts.lines >= 0 {
		opts.tail = true
	} else if opts.tail {
		opts.lines = 10
	}
	return allocLogs(ctx, opts, io)
}

func allocLogs(ctx context.Context, opts allocLogsOptions, io stdio) int {
	cfg := opts.client.config(io)
	client, ok := opts.client.newClient(io)
	if !ok {
		return exitError
	}
	alloc, _, err := client.Allocations().Info(ctx, opts.alloc, nil)
	if err != nil {
		return allocLookupError(ctx, client, opts.alloc, err, time.Now(), io)
	}
	tasks := make([]string, 0, len(alloc.Resources.Tasks))
	for name := range alloc.Resources.Tasks {
		tasks = append(tasks, name)
	}
	for name := range alloc.TaskStates {
		if !slices.Contains(tasks, name) {
			tasks = append(tasks, name)
		}
	}
	slices.Sort(tasks)
	task := opts.task
	switch {
	case task == "" && len(tasks) == 1:
		task = tasks[0]
	case task == "":
		fmt.Fprintf(io.err, "Error: allocation %s has several tasks; name one: %s\n", shortID(alloc.ID), strings.Join(tasks, ", "))
		return exitError
	case len(tasks) > 0 && !slices.Contains(tasks, task):
		fmt.Fprintf(io.err, "Error: allocation %s has no task %q; its tasks: %s\n", shortID(alloc.ID), task, strings.Join(tasks, ", "))
		return exitError
	}
	node, _, err := client.Nodes().Info(ctx, alloc.NodeID, nil)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	if node.HTTPAddr == "" {
		fmt.Fprintf(io.err, "Error: node %s (%s) does not serve logs: its agent registered no HTTP address.\n", node.Name, shortID(node.ID))
		return exitError
	}
	q := url.Values{}
	q.Set("type", "stdout")
	if opts.stderr {
		q.Set("type", "stderr")
	}
	if opts.follow {
		q.Set("follow", "true")
	}
	if opts.tail {
		q.Set("lines", strconv.Itoa(opts.lines))
	}
	target := "http://" + node.HTTPAddr + "/v1/client/fs/logs/" + url.PathEscape(alloc.ID) + "/" + url.PathEscape(task) + "?" + q.Encode()
	if err := streamLogs(ctx, target, cfg.Token, io.out); err != nil {
		if errors.Is(err, context.Canceled) {
			return exitOK // Ctrl-C ends -f
		}
		fmt.Fprintf(io.err, "Error: read logs from node %s at %s: %v\n", node.Name, node.HTTPAddr, err)
		return exitError
	}
	return exitOK
}

func streamLogs(ctx context.Context, target, token string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e api.Error
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	_, err = io.Copy(w, resp.Body)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
