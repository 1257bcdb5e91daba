package main

import (
	"context"
	"fmt"

	"github.com/droverhq/drover/server"
)

func operatorCommands() []command {
	return []command{
		{"join-token", "Print the token a new server joins the cluster with", runOperatorJoinToken},
	}
}

func runOperator(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "operator", "Operate the cluster's servers.", operatorCommands(), args, io)
}

const operatorJoinTokenHelp = `
Usage: drover operator join-token server -data-dir DIR

Print the server join token, which a new server presents once (with
-join-token or -join-token-file) to obtain its certificate from the
cluster CA. The server that created the CA keeps it in
<data-dir>/server.join-token; run this command on that machine, as the
user that runs the server.

Anyone with the token can add a server to the cluster: keep it secret.
Rotation (-rotate) is not available yet.

Example:
  drover server -data-dir /data/s4 -join 10.0.0.1:4747 \
    -join-token "$(drover operator join-token server -data-dir /data/s1)"

Exit codes: 0 printed, 1 error.
`

type joinTokenOptions struct {
	role    string
	dataDir string
}

func runOperatorJoinToken(_ context.Context, args []string, io stdio) int {
	var opts joinTokenOptions
	fs := newFlagSet("operator join-token", operatorJoinTokenHelp, io)
	fs.StringVar(&opts.dataDir, "data-dir", "", "the data `dir` of the server that created the cluster CA")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(io.err, "drover operator join-token: want one role: server")
		return exitError
	}
	opts.role = pos[0]
	tok, err := joinToken(opts)
	if err != nil {
		fmt.Fprintf(io.err, "drover operator join-token: %v\n", err)
		return exitError
	}
	fmt.Fprintln(io.out, tok)
	return exitOK
}

func joinToken(opts joinTokenOptions) (string, error) {
	if opts.role != "server" {
		return "", fmt.Errorf("role %q: only server join tokens exist for now", opts.role)
	}
	if opts.dataDir == "" {
		return "", fmt.Errorf("-data-dir is required")
	}
	return server.ReadServerJoinToken(opts.dataDir)
}
