package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/httpguard"
)

const allocLogsHelp = `
Usage: drover alloc logs [options] ALLOC [TASK]

Print a task's stdout (or, with -stderr, its stderr). ALLOC is an
allocation ID or a unique prefix of one; TASK may be left out when the
allocation's group has a single task.

Logs stay on the node that ran the task: the CLI asks the server which
node that is and reads them from that node's agent (its address is part
of the node's registration), with the same token.

Without -tail or -n the whole log is printed; -tail prints the last 10
lines, -n N the last N (-n implies -tail). With -f, -n 0 prints only
what the task writes from now on.

Examples:
  drover alloc logs 8f1c
  drover alloc logs -f 8f1c server
  drover alloc logs -tail 8f1c
  drover alloc logs -stderr -n 50 8f1c server
  drover alloc logs -f -n 0 8f1c

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

// defaultTailLines is how many lines -tail prints without -n.
const defaultTailLines = 10

func runAllocLogs(ctx context.Context, args []string, io stdio) int {
	opts, code, done := parseAllocLogs(args, io)
	if done {
		return code
	}
	return allocLogs(ctx, opts, io)
}

func parseAllocLogs(args []string, io stdio) (allocLogsOptions, int, bool) {
	var opts allocLogsOptions
	fs := newFlagSet("alloc logs", allocLogsHelp, io)
	opts.client.register(fs)
	fs.BoolVar(&opts.follow, "f", false, "follow: keep printing new output until the task is dead for good")
	fs.BoolVar(&opts.stderr, "stderr", false, "print stderr instead of stdout")
	fs.BoolVar(&opts.tail, "tail", false, "print only the last lines (-n of them)")
	fs.IntVar(&opts.lines, "n", defaultTailLines, "print the last `N` lines; implies -tail")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return opts, code, true
	}
	if len(pos) < 1 || len(pos) > 2 {
		fmt.Fprintln(io.err, "Usage: drover alloc logs [options] ALLOC [TASK] (see --help)")
		return opts, exitError, true
	}
	opts.alloc = pos[0]
	if len(pos) == 2 {
		opts.task = pos[1]
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "n" {
			opts.tail = true
		}
	})
	if opts.lines < 0 {
		fmt.Fprintf(io.err, "Error: -n %d: give a number of lines, 0 or more\n", opts.lines)
		return opts, exitError, true
	}
	return opts, exitOK, false
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
	// An agent with a certificate registers an https:// address; the
	// CLI then checks that the peer is a Drover agent of its CA.
	base := node.HTTPAddr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	if rest, ok := strings.CutPrefix(base, "https://"); ok && cfg.TLS.CACert == "" && httpguard.IsLoopback(rest) {
		// A local CLI without the CA reads a local agent's logs over
		// plain HTTP, which the agent answers on loopback.
		base = "http://" + rest
	}
	target := base + "/v1/client/fs/logs/" + url.PathEscape(alloc.ID) + "/" + url.PathEscape(task) + "?" + q.Encode()
	tlsCfg := cfg.TLS
	tlsCfg.PeerRole = "client"
	tr, err := tlsCfg.Transport()
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	if err := streamLogs(ctx, &http.Client{Transport: tr}, target, cfg.Token, io.out); err != nil {
		if errors.Is(err, context.Canceled) {
			return exitOK // Ctrl-C ends -f
		}
		fmt.Fprintf(io.err, "Error: read logs from node %s at %s: %v\n", node.Name, node.HTTPAddr, err)
		return exitError
	}
	return exitOK
}

func streamLogs(ctx context.Context, hc *http.Client, target, token string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
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
