package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/droverhq/drover/agent"
	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server"
)

const devHelp = `
Usage: drover dev [options]

Run a whole cluster in one process, for development and demos: a server
that bootstraps alone (Raft, scheduler, HTTP API on 127.0.0.1:4747) and a
client agent that runs the allocations on this machine.

State is kept in -data-dir (server/ and agent/ below it), so stopping and
starting drover dev resumes the same cluster. Stopping it (Ctrl-C,
SIGTERM) stops its tasks too, unlike drover agent. As nomad agent -dev
does, it enables the raw_exec driver (tasks as plain host processes, off
on a drover agent unless its configuration turns it on); exec tasks are
isolated as on any node.

Examples:
  # Start it, then use the CLI from another terminal:
  drover dev
  drover job run examples/jobs/web.nomad.hcl
  drover job status web
  drover alloc logs <alloc-id>

  # Deploy every commit of a local repository (edit, git commit -am, done):
  drover dev --repo ./deploy
  drover sync status; drover history web

  # Offer a host directory to jobs' volume "x" { type = "host" source = "data" }:
  drover dev -host-volume data=$HOME/drover-data

  # Somewhere else, on another port:
  drover dev -data-dir /tmp/drover-dev -http-addr 127.0.0.1:5757 -raft-addr 127.0.0.1:5657
  DROVER_ADDR=http://127.0.0.1:5757 drover job status

Exit codes: 0 stopped cleanly, 1 error.
`

type devOptions struct {
	dataDir  string
	httpAddr string
	raftAddr string
	nodeName string
	logLevel string
	logJSON  bool
	repo     string
	branch   string
	hostVols hostVolumeFlag
}

func runDev(ctx context.Context, args []string, io stdio) int {
	opts := devOptions{hostVols: hostVolumeFlag{}}
	fs := newFlagSet("dev", devHelp, io)
	fs.StringVar(&opts.dataDir, "data-dir", ".drover", "keep the server's and the agent's state in `dir`")
	fs.StringVar(&opts.httpAddr, "http-addr", api.DefaultAddr, "serve the API on `host:port`")
	fs.StringVar(&opts.raftAddr, "raft-addr", "127.0.0.1:4647", "bind Raft to `host:port` (nothing connects to it in dev)")
	fs.StringVar(&opts.nodeName, "node-name", "", "the node's `name` (default: the hostname)")
	fs.StringVar(&opts.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.BoolVar(&opts.logJSON, "log-json", false, "log JSON lines instead of text")
	fs.StringVar(&opts.repo, "repo", "", "keep the cluster in sync with the Git repository at `path`: every commit deploys (source \"dev\")")
	fs.StringVar(&opts.branch, "branch", "", "the `branch` of -repo to follow (default: its current branch)")
	fs.Var(opts.hostVols, "host-volume", "offer host directory `name=path[:ro]` to jobs' volume { type = \"host\" source = name } (repeatable)")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(io.err, "drover dev: unexpected argument %q\n", pos[0])
		return exitError
	}
	return dev(ctx, opts, io)
}

func dev(ctx context.Context, opts devOptions, io stdio) int {
	logger, err := serverLogger(serverOptions{logLevel: opts.logLevel, logJSON: opts.logJSON}, io)
	if err != nil {
		fmt.Fprintf(io.err, "drover dev: %v\n", err)
		return exitError
	}
	dataDir, err := filepath.Abs(opts.dataDir)
	if err != nil {
		fmt.Fprintf(io.err, "drover dev: %v\n", err)
		return exitError
	}
	scfg := server.DefaultConfig()
	scfg.Version = version
	scfg.Name = "dev"
	scfg.DataDir = filepath.Join(dataDir, "server")
	scfg.HTTPAddr = opts.httpAddr
	scfg.RaftAddr = opts.raftAddr
	scfg.BootstrapExpect = 1
	if opts.repo != "" {
		src, err := devSource(opts.repo, opts.branch)
		if err != nil {
			fmt.Fprintf(io.err, "drover dev: %v\n", err)
			return exitError
		}
		scfg.Sources = append(scfg.Sources, src)
	}
	s, err := server.New(scfg, logger.With("component", "server"))
	if err != nil {
		fmt.Fprintf(io.err, "drover dev: %v\n", err)
		return exitError
	}

	acfg := agent.DefaultConfig()
	acfg.DataDir = filepath.Join(dataDir, "agent")
	acfg.Servers = []string{s.HTTPAddr()}
	acfg.NodeName = opts.nodeName
	acfg.StopTasksOnShutdown = true
	// As nomad agent -dev does: a development machine runs its own jobs.
	acfg.RawExecEnabled = true
	opts.hostVols.mergeInto(&acfg.HostVolumes)
	acfg.Logger = logger.With("component", "agent")
	a, err := agent.New(acfg)
	if err != nil {
		fmt.Fprintf(io.err, "drover dev: %v\n", err)
		// The server was never run; running it on a cancelled context
		// closes what New opened.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_ = s.Run(cctx)
		return exitError
	}

	// The agent stops first, so that it can still tell the server its
	// tasks stopped; the server stops after it.
	serverCtx, stopServer := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServer()
	var wg sync.WaitGroup
	var serverErr, agentErr error
	wg.Go(func() { serverErr = s.Run(serverCtx) })

	fmt.Fprintf(io.out, "==> Drover dev cluster started: API on http://%s, data in %s\n", s.HTTPAddr(), dataDir)
	fmt.Fprintf(io.out, "    web UI on http://%s/ui/ (sign in with the token field empty)\n", s.HTTPAddr())
	fmt.Fprintf(io.out, "    node %s (ID %s), task logs served on http://%s\n", orHostname(opts.nodeName), a.NodeID(), a.HTTPAddr())
	fmt.Fprintf(io.out, "    raw_exec driver enabled (development only: its tasks run as host processes, unisolated); exec tasks run isolated\n")
	if opts.repo != "" {
		fmt.Fprintf(io.out, "    following %s (branch %s): commit there and the cluster follows; see drover sync status\n", scfg.Sources[0].URL, scfg.Sources[0].Branch)
	}
	fmt.Fprintf(io.out, "    try: drover job run examples/jobs/web.nomad.hcl; drover job status; drover alloc logs <alloc>\n")
	agentErr = a.Run(ctx)
	stopServer()
	wg.Wait()
	if agentErr != nil || serverErr != nil {
		fmt.Fprintf(io.err, "drover dev: %v\n", firstErr(agentErr, serverErr))
		return exitError
	}
	fmt.Fprintln(io.out, "==> Drover dev cluster stopped")
	return exitOK
}

func orHostname(name string) string {
	if name == "" {
		return "(hostname)"
	}
	return name
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
