package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/droverhq/drover/api"
)

func operatorRaftCommands() []command {
	return []command{
		{"list-peers", "List the servers of the Raft configuration, their health and the quorum", runRaftListPeers},
		{"remove-peer", "Remove a server that is gone for good from the Raft configuration", runRaftRemovePeer},
	}
}

func runOperatorRaft(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "operator raft", "Inspect and change the Raft configuration of the servers (Nomad's operator raft).",
		operatorRaftCommands(), args, io)
}

const raftListPeersHelp = `
Usage: drover operator raft list-peers [options]

List the servers of the Raft configuration as the leader sees them: name,
ID, Raft and HTTP address, leader, voter, and whether the leader's
heartbeats reach it (with how long ago it last answered when not). Then
the quorum math: how many voters there are, how many must agree on every
write (the quorum: a majority), and how many more may fail before the
cluster stops writing (the failure tolerance), and the leader's autopilot
settings: with cleanup_dead_servers, a server that has not answered for
dead_server_grace is removed when the math allows it.

Needs a token with the operator:read capability.

Examples:
  drover operator raft list-peers
  drover operator raft list-peers -json | jq .quorum

Exit codes: 0 listed, 1 error.
`

func runRaftListPeers(ctx context.Context, args []string, io stdio) int {
	var opts queryOptions
	fs := newFlagSet("operator raft list-peers", raftListPeersHelp, io)
	opts.register(fs, "print the configuration and the quorum math as JSON")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) != 0 {
		fmt.Fprintln(io.err, "drover operator raft list-peers: takes no arguments (see --help)")
		return exitError
	}
	c, _, ok := opts.connect(io)
	if !ok {
		return exitError
	}
	conf, err := c.Operator().RaftConfiguration(ctx, nil)
	if err != nil {
		return printAPIError(io, err, c.Address())
	}
	return opts.output(io, conf, func() { renderRaftPeers(io.out, conf) })
}

func renderRaftPeers(w io.Writer, conf *api.RaftConfiguration) {
	rows := make([][]string, 0, len(conf.Servers))
	for _, s := range conf.Servers {
		state := "follower"
		if s.Leader {
			state = "leader"
		}
		health := "healthy"
		if !s.Healthy {
			health = fmt.Sprintf("no contact for %s", (time.Duration(s.LastContactMS) * time.Millisecond).Round(time.Second))
		}
		rows = append(rows, []string{orNone(s.Name), s.ID, s.Address, orNone(s.HTTPAddr), state, fmt.Sprint(s.Voter), health})
	}
	writeTable(w, []string{"Name", "ID", "Address", "HTTP Address", "State", "Voter", "Health"}, rows)
	fmt.Fprintf(w, "\n%s\n", quorumLine(conf.Quorum))
	ap := conf.Autopilot
	if ap.CleanupDeadServers {
		fmt.Fprintf(w, "Autopilot: a voter without contact for %s is removed while the rest still make a quorum", ap.DeadServerGrace)
		if ap.MinQuorum > 0 {
			fmt.Fprintf(w, " and at least %d voters remain", ap.MinQuorum)
		}
		fmt.Fprintln(w, ".")
	} else {
		fmt.Fprintln(w, "Autopilot: cleanup_dead_servers is off; remove a dead server with 'drover operator raft remove-peer'.")
	}
}

// quorumLine states the quorum math in one sentence.
func quorumLine(q api.QuorumMath) string {
	return fmt.Sprintf("Quorum: %d of %d voters healthy; every write needs %d (a majority); %d more can fail before the cluster stops writing.",
		q.Healthy, q.Voters, q.Quorum, q.FailureTolerance)
}

const raftRemovePeerHelp = `
Usage: drover operator raft remove-peer [options] ID | -peer-address RAFT-ADDR

Remove a server from the Raft configuration, and its member record: for a
server that is gone for good (its machine died, its data dir was lost)
and still counts as a voter, so that the quorum no longer waits for it.
A removed server that is in fact still running asks to be added back
once it notices it has no leader, as in Consul; stop it first.

The leader refuses to remove itself (stop it, then remove it through the
next leader) and refuses a removal after which the servers that answer
would not make a quorum. The quorum math before and after is printed.
With autopilot's cleanup_dead_servers (on by default) the leader does
this by itself after dead_server_grace.

Needs a token with the operator:write capability.

Examples:
  drover operator raft list-peers
  drover operator raft remove-peer 5d1f9a6e-0c1b-4b7e-9c35-3f1a2b6c7d8e
  drover operator raft remove-peer -peer-address 10.0.0.3:4647

Exit codes: 0 removed, 1 error or refused.
`

type raftRemovePeerOptions struct {
	client  clientOptions
	id      string
	address string
}

func runRaftRemovePeer(ctx context.Context, args []string, io stdio) int {
	var opts raftRemovePeerOptions
	fs := newFlagSet("operator raft remove-peer", raftRemovePeerHelp, io)
	opts.client.register(fs)
	fs.StringVar(&opts.id, "peer-id", "", "the server `ID` to remove (or give it as the argument)")
	fs.StringVar(&opts.address, "peer-address", "", "remove the server at this Raft `host:port` instead")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) == 1 && opts.id == "" {
		opts.id = pos[0]
	} else if len(pos) > 0 {
		fmt.Fprintln(io.err, "drover operator raft remove-peer: want one server ID (see --help)")
		return exitError
	}
	if (opts.id == "") == (opts.address == "") {
		fmt.Fprintln(io.err, "drover operator raft remove-peer: give a server ID or -peer-address RAFT-ADDR, one of them ('drover operator raft list-peers' shows both)")
		return exitError
	}
	c, ok := opts.client.newClient(io)
	if !ok {
		return exitError
	}
	resp, err := c.Operator().RaftRemovePeer(ctx, opts.id, opts.address)
	if err != nil {
		return printAPIError(io, err, c.Address())
	}
	name := resp.ID
	if resp.Name != "" {
		name = fmt.Sprintf("%s (%s)", resp.Name, resp.ID)
	}
	fmt.Fprintf(io.out, "Removed server %s from the Raft configuration.\n", name)
	fmt.Fprintf(io.out, "Before: %s\nAfter:  %s\n", quorumLine(resp.Before), quorumLine(resp.After))
	if resp.WasHealthy {
		fmt.Fprintln(io.err, "Warning: the leader still reached this server: if it keeps running it asks to be added back. Stop it.")
	}
	return exitOK
}
