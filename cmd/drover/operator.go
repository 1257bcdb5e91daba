package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/server"
)

func operatorCommands() []command {
	return []command{
		{"join-token", "Print or rotate the token a new server or agent joins the cluster with", runOperatorJoinToken},
		{"audit", "List who wrote what through the API", runOperatorAudit},
		{"snapshot", "Save, restore and inspect snapshots of the cluster state", runOperatorSnapshot},
		{"raft", "List the Raft peers with the quorum math; remove a dead one", runOperatorRaft},
		{"root", "List or rotate the root keyring that encrypts variables", runOperatorRoot}, // operator_keyring.go
		{"seal", "Print, rotate or remove the age keys of sealed variable files", runOperatorSeal},
	}
}

func runOperator(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "operator", "Operate the cluster's servers.", operatorCommands(), args, io)
}

const operatorJoinTokenHelp = `
Usage: drover operator join-token [options] server|client

Print a join token: the server join token, which a new server presents
once (drover server -join-token or -join-token-file) to obtain its
certificate from the cluster CA, or the client join token, which a new
agent presents once (drover agent -join-token or -join-token-file) to
obtain its client certificate, naming its node ID. With -rotate, replace
it with a new one first: the old token is refused from then on (servers
and agents that already joined keep their certificates).

Through the API (-address or DROVER_ADDR, with a management token in
-token or DROVER_TOKEN), any server answers: the tokens are replicated,
sealed, with the cluster CA. Offline, -data-dir reads the file the server
that created the cluster keeps (<data-dir>/server.join-token,
<data-dir>/client.join-token): run it on that machine, as the user that
runs the server.

Anyone with the server token can add a Raft voter, and anyone with the
client token can add a node that runs jobs: keep both secret.

Examples:
  drover operator join-token server
  drover operator join-token -rotate client
  drover server -data-dir /data/s4 -join 10.0.0.1:4747 \
    -join-token "$(drover operator join-token server -data-dir /data/s1)"
  drover agent -servers 10.0.0.1:4747 -data-dir /data/agent \
    -join-token "$(drover operator join-token client)"

Exit codes: 0 printed, 1 error.
`

type joinTokenOptions struct {
	client  clientOptions
	role    string
	dataDir string
	rotate  bool
}

func runOperatorJoinToken(ctx context.Context, args []string, io stdio) int {
	var opts joinTokenOptions
	fs := newFlagSet("operator join-token", operatorJoinTokenHelp, io)
	opts.client.register(fs)
	fs.StringVar(&opts.dataDir, "data-dir", "", "read the token offline from the data `dir` of the server that created the cluster CA")
	fs.BoolVar(&opts.rotate, "rotate", false, "replace the token with a new one (through the API)")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(io.err, "drover operator join-token: want one role: server or client")
		return exitError
	}
	opts.role = pos[0]
	return joinToken(ctx, opts, io)
}

func joinToken(ctx context.Context, opts joinTokenOptions, io stdio) int {
	fail := func(err error) int {
		fmt.Fprintf(io.err, "drover operator join-token: %v\n", err)
		return exitError
	}
	if opts.role != "server" && opts.role != "client" {
		return fail(fmt.Errorf("role %q: there are server and client join tokens", opts.role))
	}
	if opts.dataDir != "" {
		if opts.rotate {
			return fail(errors.New("-rotate goes through a running server: give -address (or DROVER_ADDR) instead of -data-dir"))
		}
		tok, err := server.ReadJoinToken(opts.dataDir, pki.Role(opts.role))
		if err != nil {
			return fail(err)
		}
		fmt.Fprintln(io.out, tok)
		return exitOK
	}
	if opts.client.address == "" && io.getenv("DROVER_ADDR") == "" {
		return fail(errors.New("give -address (or DROVER_ADDR) of a server, or -data-dir DIR of the server that created the cluster CA"))
	}
	c, ok := opts.client.newClient(io)
	if !ok {
		return exitError
	}
	op := c.Operator().JoinToken
	if opts.rotate {
		op = c.Operator().RotateJoinToken
	}
	resp, err := op(ctx, opts.role)
	if err != nil {
		return printAPIError(io, err, c.Address())
	}
	fmt.Fprintln(io.out, resp.Token)
	if opts.rotate {
		fmt.Fprintf(io.err, "Rotated: the previous %s join token is refused from now on.\n", opts.role)
	}
	return exitOK
}
