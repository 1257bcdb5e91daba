package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/droverhq/drover/cluster"
)

const operatorAuditHelp = `
Usage: drover operator audit [options]

List the API writes the servers recorded, oldest first: who sent each
(an ACL token's accessor ID, "management token (token_file)", a node ID,
a server, a webhook, or "anonymous (loopback, no ACL)"), the method and
route, the job, node, deployment or source it named, the status it got
("refused" for 401 and 403) and when. Reads are not recorded, and no
secret ever is. The servers keep the newest 10,000 writes.

Needs a token with the operator:read capability (-token or DROVER_TOKEN).

Examples:
  drover operator audit
  drover operator audit -since 1h
  drover operator audit -since 2026-01-02T15:04:05Z -json

Exit codes: 0 listed, 1 error.
`

type auditOptions struct {
	client clientOptions
	since  string
	json   bool
}

func runOperatorAudit(ctx context.Context, args []string, io stdio) int {
	var opts auditOptions
	fs := newFlagSet("operator audit", operatorAuditHelp, io)
	opts.client.register(fs)
	fs.StringVar(&opts.since, "since", "", "list writes at or after this RFC 3339 `time`, or this long ago (1h)")
	fs.BoolVar(&opts.json, "json", false, "print the entries as JSON")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) != 0 {
		fmt.Fprintln(io.err, "drover operator audit: takes no arguments (see --help)")
		return exitError
	}
	return operatorAudit(ctx, opts, io)
}

func operatorAudit(ctx context.Context, opts auditOptions, io stdio) int {
	c, ok := opts.client.newClient(io)
	if !ok {
		return exitError
	}
	entries, _, err := c.Operator().Audit(ctx, opts.since, nil)
	if err != nil {
		return printAPIError(io, err, c.Address())
	}
	if opts.json {
		if entries == nil {
			entries = []*cluster.AuditEntry{}
		}
		if err := writeJSON(io.out, entries); err != nil {
			return exitError
		}
		return exitOK
	}
	renderAudit(io.out, entries, time.Now())
	return exitOK
}

// renderAudit prints audit entries as a table.
func renderAudit(w io.Writer, entries []*cluster.AuditEntry, now time.Time) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "No recorded writes.")
		return
	}
	rows := make([][]string, 0, len(entries))
	for _, e := range entries {
		status := strconv.Itoa(e.Status)
		if e.Refused() {
			status += " refused"
		}
		rows = append(rows, []string{formatTime(e.Time, now), e.Who, e.Method + " " + e.Route, orNone(e.Object), status})
	}
	writeTable(w, []string{"Time", "Who", "Route", "Object", "Status"}, rows)
}
