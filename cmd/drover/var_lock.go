package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/droverhq/drover/api"
)

const varLockHelp = `
Usage: drover var lock [options] PATH -- COMMAND [ARGS ...]

Hold a lock on a variable while a command runs: a simple distributed
lock. The lock is acquired (the variable is created if needed; a held
lock is waited for), renewed every half TTL while the command runs, and
released when it exits. If the lock is lost (a renewal fails), the
command gets SIGTERM and drover exits 1.

The command runs in $SHELL -c (or /bin/sh) unless -shell=false.

Examples:
  drover var lock locks/backup -- ./backup.sh
  drover var lock -ttl 30s -shell=false locks/migrate -- ./migrate up

Exit codes: the command's exit code; 1 when the lock could not be
acquired or was lost.
`

func runVarLock(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("var lock", varLockHelp, io)
	var opts queryOptions
	opts.client.register(fs)
	ns := fs.String("namespace", "", "namespace (default DROVER_NAMESPACE or \"default\")")
	ttl := fs.Duration("ttl", 15*time.Second, "lock TTL: it lapses unless renewed within it (10s to 24h)")
	delay := fs.Duration("delay", 15*time.Second, "after a lapse, how long before another may acquire")
	shell := fs.Bool("shell", true, "run the command in $SHELL -c")
	// The command is everything after "--", taken aside so that its own
	// flags are not parsed as ours.
	var child []string
	for i, a := range args {
		if a == "--" {
			args, child = args[:i], args[i+1:]
			break
		}
	}
	pos, code, done := parseArgs(fs, args, io, 1, 1<<16, "Error: give a variable path and a command: drover var lock PATH -- COMMAND")
	if done {
		return code
	}
	pos = append(pos, child...)
	if len(pos) < 2 {
		fmt.Fprintln(io.err, "Error: give a command to run under the lock: drover var lock PATH -- COMMAND")
		return exitError
	}
	if *ttl < 10*time.Second || *ttl > 24*time.Hour {
		fmt.Fprintf(io.err, "Error: -ttl %s: want between 10s and 24h\n", *ttl)
		return exitError
	}
	client, _, ok := opts.connect(io)
	if !ok {
		return exitError
	}
	vars := client.Variables()
	v := &api.Variable{Namespace: varNamespace(*ns, io), Path: pos[0],
		Lock: &api.VariableLock{TTL: ttl.String(), LockDelay: delay.String()}}
	var held *api.Variable
	for {
		var err error
		held, err = vars.AcquireLock(ctx, v)
		if err == nil {
			break
		}
		if !errors.Is(err, api.ErrVariableConflict) {
			return printAPIError(io, err, client.Address())
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(io.err, "Error: gave up waiting for the lock on %q\n", pos[0])
			return exitError
		case <-time.After(time.Second):
		}
	}
	lock := &api.Variable{Namespace: v.Namespace, Path: v.Path, Lock: &api.VariableLock{ID: held.Lock.ID}}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := vars.ReleaseLock(rctx, lock); err != nil {
			fmt.Fprintf(io.err, "Warning: could not release the lock on %q: %v (it lapses after its TTL)\n", v.Path, err)
		}
	}()

	argv := pos[1:]
	if *shell {
		sh := io.getenv("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		argv = []string{sh, "-c", joinArgs(argv)}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr, cmd.Env = io.in, io.out, io.err, io.env
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(io.err, "Error: start %s: %v\n", argv[0], err)
		return exitError
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tick := time.NewTicker(*ttl / 2)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return ee.ExitCode()
			}
			if err != nil {
				fmt.Fprintf(io.err, "Error: %v\n", err)
				return exitError
			}
			return exitOK
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			<-exited
			return exitError
		case <-tick.C:
			if _, err := vars.RenewLock(ctx, lock); err != nil {
				fmt.Fprintf(io.err, "Error: lost the lock on %q (%v): stopping the command\n", v.Path, err)
				_ = cmd.Process.Signal(syscall.SIGTERM)
				<-exited
				return exitError
			}
		}
	}
}

// joinArgs quotes args for sh -c; a single argument is a script.
func joinArgs(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
