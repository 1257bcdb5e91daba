package main

import (
	"context"
	"fmt"
	"io"
)

// The cluster commands are grouped as Nomad groups them: `drover job
// run`, `drover node status`, `drover alloc status`. A group only
// dispatches; each subcommand has its own file, flags and help.

const clusterHelpFooter = `
Every subcommand talks to a Drover server: -address (or DROVER_ADDR,
default http://127.0.0.1:4747) and -token (or DROVER_TOKEN).
Run 'drover %s <subcommand> --help' for its options and examples.
`

func jobCommands() []command {
	return []command{
		{"run", "Submit a job file and watch it being scheduled", runJobRun},
		{"plan", "Dry-run a job file: the diff and what the scheduler would do", runJobPlan},
		{"status", "List jobs, or show one job's groups and allocations", runJobStatus},
		{"stop", "Stop a running job", runJobStop},
		{"periodic", "Act on periodic jobs: force a launch now", runJobPeriodic},
		{"dispatch", "Dispatch a parameterized job with a payload and meta", runJobDispatch},
		{"scale", "Set the count of a job's group", runJobScale},
		{"inspect", "Print a job as a file: Nomad's API JSON, YAML or HCL (-o)", runJobInspect}, // job_inspect.go
		{"init", "Write a commented example job file (HCL, JSON or YAML)", runJobInit},          // job_init.go
	}
}

func nodeCommands() []command {
	return []command{
		{"status", "List client nodes, or show one node's resources and allocations", runNodeStatus},
		{"pool", "Manage node pools: list, info, apply, delete, nodes, jobs", runNodePool}, // node_pool.go
	}
}

func serviceCommands() []command { // service.go
	return []command{
		{"list", "List the services in the native catalog", runServiceList},
		{"info", "Show the instances of a service", runServiceInfo},
		{"delete", "Remove one instance from the catalog", runServiceDelete},
	}
}

func allocCommands() []command {
	return []command{
		{"status", "Show an allocation's tasks, resources and recent events", runAllocStatus},
		{"logs", "Print or follow a task's stdout or stderr", runAllocLogs},
	}
}

func runJob(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "job", "Run, plan, inspect and stop jobs on a cluster.", jobCommands(), args, io)
}

func runNode(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "node", "Inspect the client nodes of a cluster and their node pools.", nodeCommands(), args, io)
}

func runAlloc(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "alloc", "Inspect allocations: the placed instances of task groups.", allocCommands(), args, io)
}

func dispatch(ctx context.Context, group, about string, subs []command, args []string, io stdio) int {
	if len(args) == 0 {
		groupUsage(io.err, group, about, subs)
		return exitError
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		groupUsage(io.out, group, about, subs)
		return exitOK
	}
	for _, c := range subs {
		if c.name == args[0] {
			return c.run(ctx, args[1:], io)
		}
	}
	hint := ""
	for _, c := range subs {
		if editDistance(args[0], c.name) <= 2 {
			hint = fmt.Sprintf(" (did you mean %q?)", c.name)
			break
		}
	}
	fmt.Fprintf(io.err, "drover %s: unknown subcommand %q%s\n\nRun 'drover %s --help' for the list.\n", group, args[0], hint, group)
	return exitError
}

func groupUsage(w io.Writer, group, about string, subs []command) {
	fmt.Fprintf(w, "Usage: drover %s <subcommand> [options] [args]\n\n%s\n\nSubcommands:\n", group, about)
	for _, c := range subs {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.synopsis)
	}
	fmt.Fprintf(w, clusterHelpFooter, group)
}
