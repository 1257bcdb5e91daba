// Command drover is the Drover GitOps orchestrator: one binary that
// validates and plans job repositories today, and runs the cluster as later
// commands land.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/droverhq/drover/drivers/exec"
)

func main() {
	// The exec driver runs each task under this binary as its
	// supervisor; that must happen before anything else (no CLI, no
	// signal handling of ours).
	if len(os.Args) > 1 && os.Args[1] == exec.ShimArg {
		os.Exit(exec.ShimMain(os.Args[2:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr, env: os.Environ()})
	stop()
	os.Exit(code)
}
