package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes, the same for every command and documented in the README:
// scripts and CI pipelines branch on them.
const (
	exitOK      = 0 // success; for plan: no changes
	exitError   = 1 // invalid input or a failure
	exitChanges = 2 // plan: changes present
)

// stdio is what a command may touch of the process: tests pass buffers.
type stdio struct {
	in  io.Reader
	out io.Writer
	err io.Writer
	env []string
}

// getenv reads a variable from the command's environment, not the
// process's, so tests stay hermetic.
func (s stdio) getenv(key string) string {
	for i := len(s.env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(s.env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

type command struct {
	name     string
	synopsis string
	run      func(ctx context.Context, args []string, io stdio) int
}

func commands() []command {
	return []command{
		{"validate", "Check job files for errors without touching a cluster", runValidate},
		{"fmt", "Rewrite HCL job files and drover.hcl in the canonical layout", runFmt}, // fmt_cmd.go
		{"job", "Run, plan, inspect and stop jobs on a cluster", runJob},
		{"node", "Inspect the client nodes of a cluster", runNode},
		{"alloc", "Inspect allocations (placed task groups)", runAlloc},
		{"service", "Inspect the native service catalog: list, info, delete", runService}, // service.go
		{"var", "Read and write encrypted variables: list, get, put, purge, seal", runVar},
		{"action", "Run a task's declared action inside a running allocation", runAction},
		{"deployment", "List, inspect, promote, fail, pause and resume rollouts", runDeployment},
		{"event", "Follow the cluster's events as they happen: drover event stream", runEvent}, // event.go
		{"plan", "Show what a change to the job repository would do", runPlan},
		{"reconcile", "Make a cluster match a repository at a ref, once (for CI)", runReconcile},
		{"history", "List job versions with the Git commit that produced each", runHistory},
		{"sync", "Show the servers' Git sources: last seen, applied and rejected commits", runSync},
		{"server", "Run a Drover server (Raft state, HTTP API, scheduler)", runServer},
		{"operator", "Operate the servers: join tokens, audit, snapshots, Raft peers", runOperator},
		{"system", "Cluster-wide maintenance: garbage collection", runSystem},
		{"tls", "Create a CA and server, client or CLI certificates offline", runTLS},
		{"acl", "Manage ACL policies and tokens", runACL},
		{"agent", "Run a client agent that runs allocations on this node", runAgent},
		{"dev", "Run a server and an agent in one process, for development", runDev},
		{"version", "Print the Drover version", runVersion},
	}
}

func run(ctx context.Context, args []string, io stdio) int {
	if len(args) == 0 {
		usage(io.err)
		return exitError
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			return run(ctx, []string{args[1], "--help"}, io)
		}
		usage(io.out)
		return exitOK
	case "-v", "-version", "--version":
		name = "version"
	}
	for _, c := range commands() {
		if c.name == name {
			if wantsYAML(args[1:]) { // output_any.go
				y := &yamlOut{w: io.out}
				io.out = y
				code := c.run(ctx, args[1:], io)
				if err := y.Close(); err != nil {
					fmt.Fprintln(io.err, "drover:", err)
					return exitError
				}
				return code
			}
			return c.run(ctx, args[1:], io)
		}
	}
	fmt.Fprintf(io.err, "drover: unknown command %q%s\n\nRun 'drover --help' for the list of commands.\n", name, suggestCommand(name))
	return exitError
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: drover <command> [options]

Drover makes a cluster match a Git repository of Nomad-style HCL job files.

Commands:
`)
	cmds := commands()
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.synopsis)
	}
	fmt.Fprint(w, `
Examples:
  drover validate examples/jobs
  drover plan --repo . --base HEAD~1 --head HEAD

Run 'drover <command> --help' for a command's options and examples.

Exit codes: 0 success (plan: no changes), 1 error, 2 plan has changes.
`)
}

func suggestCommand(name string) string {
	best, bestDist := "", 3
	for _, c := range commands() {
		if d := editDistance(name, c.name); d < bestDist {
			best, bestDist = c.name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// newFlagSet builds a command's flag set whose --help prints the usage
// text (with its examples) to stdout and exits 0, as users expect.
func newFlagSet(name, help string, io stdio) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.err)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), strings.TrimLeft(help, "\n"))
		fmt.Fprintln(fs.Output(), "\nOptions:")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses flags and positional arguments in any order ("drover
// validate dir -json" works as well as "drover validate -json dir"), which
// the standard library does not do on its own.
func parseFlags(fs *flag.FlagSet, args []string, io stdio) (positional []string, code int, done bool) {
	// The flag package prints the usage itself on every error; silence it
	// so that --help goes to stdout once and a mistake gets a short hint
	// instead of the whole page.
	addOutputFlag(fs) // output_any.go: -o json|yaml wherever -json is
	usage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = usage }()
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(io.out)
				usage()
				return nil, exitOK, true
			}
			fmt.Fprintf(io.err, "Run 'drover %s --help' for usage and examples.\n", fs.Name())
			return nil, exitError, true
		}
		rest := fs.Args()
		if len(rest) == 0 {
			warnSecretFlags(fs, io)
			return positional, 0, false
		}
		if rest[0] == "--" {
			warnSecretFlags(fs, io)
			return append(positional, rest[1:]...), 0, false
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// parseArgs parses flags and positional arguments and checks that there
// are from minArgs to maxArgs of the latter; else it prints wrongCount,
// which names the command's usage.
func parseArgs(fs *flag.FlagSet, args []string, io stdio, minArgs, maxArgs int, wrongCount string) (positional []string, code int, done bool) {
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return nil, code, true
	}
	if len(pos) < minArgs || len(pos) > maxArgs {
		fmt.Fprintln(io.err, wrongCount)
		return nil, exitError, true
	}
	return pos, exitOK, false
}

// kvFlag collects repeated -var name=value flags.
type kvFlag map[string]string

func (k kvFlag) String() string { return "" }

func (k kvFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	k[name] = value
	return nil
}

// listFlag collects a repeated flag's values in order.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// isTerminal reports whether w is a terminal that should get colour.
// NO_COLOR (https://no-color.org) always wins.
func isTerminal(w io.Writer, io stdio) bool {
	if io.getenv("NO_COLOR") != "" || io.getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && termIsTerminal(int(f.Fd()))
}
