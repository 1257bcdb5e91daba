package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

func runSyncRetry(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("sync retry", syncRetryHelp, io)
	var client clientOptions
	client.register(fs)
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(io.err, "Error: give the source to retry, e.g. 'drover sync retry apps' (see --help)")
		return exitError
	}
	c, ok := client.newClient(io)
	if !ok {
		return exitError
	}
	resp, err := c.Sync().Retry(ctx, pos[0])
	if err != nil {
		return printAPIError(io, err, c.Address())
	}
	if *asJSON {
		if err := writeJSON(io.out, resp); err != nil {
			return exitError
		}
		return exitOK
	}
	fmt.Fprintf(io.out, "Retry %d of %s asked for: the servers apply it again now.\nFollow it with: drover sync wait %s\n",
		resp.Attempt, shortSHA(resp.Commit), pos[0])
	return exitOK
}

type syncWaitOptions struct {
	client  clientOptions
	source  string
	commit  string
	timeout time.Duration
	json    bool
}

func runSyncWait(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("sync wait", syncWaitHelp, io)
	var opts syncWaitOptions
	opts.client.register(fs)
	fs.StringVar(&opts.commit, "commit", "", "wait for this `SHA` (or a prefix of it) rather than the newest commit seen")
	fs.DurationVar(&opts.timeout, "timeout", 10*time.Minute, "give up (exit 2) after this long")
	fs.BoolVar(&opts.json, "json", false, "print the final statuses as JSON")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	var ok bool
	if opts.source, ok = optionalSource(pos, io); !ok {
		return exitError
	}
	if opts.commit != "" && opts.source == "" {
		fmt.Fprintln(io.err, "Error: -commit needs a SOURCE: a commit belongs to one source's repository")
		return exitError
	}
	return syncWait(ctx, opts, io)
}

// syncWait follows the sources' statuses with blocking queries until
// every one is final for its commit, or the timeout.
func syncWait(ctx context.Context, opts syncWaitOptions, io stdio) int {
	client, ok := opts.client.newClient(io)
	if !ok {
		return exitError
	}
	deadline := time.Now().Add(opts.timeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var index uint64
	last := ""
	var list []*cluster.SyncStatus
	for {
		q := &api.QueryOptions{WaitIndex: index, WaitTime: min(time.Until(deadline), 5*time.Minute)}
		got, meta, err := fetchSyncStatuses(ctx, client, opts.source, q)
		switch {
		case err != nil && ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
			return syncWaitEnd(io, opts, list, exitSyncBehind, fmt.Sprintf("not in sync after -timeout %v: %s", opts.timeout, last))
		case err != nil:
			return printAPIError(io, err, client.Address())
		}
		list = got
		if meta != nil {
			index = meta.LastIndex
		}
		if len(list) == 0 {
			fmt.Fprintln(io.err, "Error: no Git sources are configured: nothing to wait for")
			return exitError
		}
		code, final := exitOK, true
		var lines []string
		for _, st := range list {
			v := judgeSync(st, opts.commit)
			code = worseSync(code, v.code)
			final = final && v.final
			lines = append(lines, st.Source+": "+v.text)
		}
		line := strings.Join(lines, "; ")
		if code == exitSyncFailed || final {
			return syncWaitEnd(io, opts, list, code, line)
		}
		if line != last {
			fmt.Fprintf(io.err, "%s  %s\n", time.Now().Format("15:04:05"), line)
			last = line
		}
		if time.Now().After(deadline) {
			return syncWaitEnd(io, opts, list, exitSyncBehind, fmt.Sprintf("not in sync after -timeout %v: %s", opts.timeout, line))
		}
	}
}

func syncWaitEnd(io stdio, opts syncWaitOptions, list []*cluster.SyncStatus, code int, line string) int {
	if opts.json {
		if err := writeJSON(io.out, list); err != nil {
			return exitError
		}
		return code
	}
	fmt.Fprintln(io.out, line)
	return code
}
