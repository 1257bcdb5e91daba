package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/droverhq/drover/cluster"
)

const syncStatusHelp = `
Usage: drover sync status [options] [SOURCE]

Show where the servers stand with each Git source: the tracked branch, the
last commit seen on it, the last commit applied to the cluster, recent
commits that were rejected (with the file:line:col of every error) or
whose rollout failed, jobs found changed outside Git (drift), and jobs
submitted by hand that no source manages (never touched).

Examples:
  drover sync status
  drover sync status apps -json | jq '.[0].commits'

Exit codes: 0 success, 1 an error (an unreachable server, an unknown source).
`

type syncStatusOptions struct {
	client clientOptions
	source string
	json   bool
	clock  func() time.Time
}

func syncCommands() []command {
	return []command{
		{"status", "Show each Git source's last seen, applied and rejected commits", runSyncStatus},
	}
}

func runSync(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "sync", "Inspect the servers' Git sources.", syncCommands(), args, io)
}

func runSyncStatus(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("sync status", syncStatusHelp, io)
	opts := syncStatusOptions{clock: time.Now}
	opts.client.register(fs)
	fs.BoolVar(&opts.json, "json", false, "print the statuses as JSON")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) > 1 {
		fmt.Fprintln(io.err, "Error: give at most one source (see --help)")
		return exitError
	}
	if len(pos) == 1 {
		opts.source = pos[0]
	}
	return syncStatus(ctx, opts, io)
}

func syncStatus(ctx context.Context, opts syncStatusOptions, io stdio) int {
	client, ok := opts.client.newClient(io)
	if !ok {
		return exitError
	}
	var list []*cluster.SyncStatus
	if opts.source != "" {
		st, _, err := client.Sync().Info(ctx, opts.source, nil)
		if err != nil {
			return printAPIError(io, err, client.Address())
		}
		list = []*cluster.SyncStatus{st}
	} else {
		var err error
		if list, _, err = client.Sync().List(ctx, nil); err != nil {
			return printAPIError(io, err, client.Address())
		}
	}
	if opts.json {
		if err := writeJSON(io.out, list); err != nil {
			return exitError
		}
		return exitOK
	}
	if len(list) == 0 {
		fmt.Fprintln(io.out, "No Git sources are configured (add a source block to the server config, or run 'drover dev --repo PATH').")
		return exitOK
	}
	for i, st := range list {
		if i > 0 {
			fmt.Fprintln(io.out)
		}
		writeSyncStatus(io.out, st, opts.clock())
	}
	return exitOK
}

// writeSyncStatus prints one source, Nomad-style: key = value, then
// sections.
func writeSyncStatus(w io.Writer, st *cluster.SyncStatus, now time.Time) {
	applied := orNone(shortSHA(st.LastApplied))
	if !st.LastAppliedAt.IsZero() {
		applied += " (" + relTime(st.LastAppliedAt, now) + ")"
	}
	kv := [][2]string{
		{"Source", st.Source},
		{"Repository", st.Repo},
		{"Ref", st.Ref},
		{"Last Seen", orNone(shortSHA(st.LastSeen))},
		{"Last Applied", applied},
	}
	state := "in sync"
	switch {
	case st.Error != "":
		state = "error: " + st.Error
	case st.LastSeen == "":
		state = "not synced yet"
	case failedCommit(st, st.LastSeen) != nil:
		o := failedCommit(st, st.LastSeen)
		state = "failed: the rollout of " + shortSHA(o.Commit) + " failed and is not retried; push a fix or a revert"
		if len(o.Errors) > 0 {
			state += " (" + o.Errors[0] + ")"
		}
	case rollingOut(st, st.LastSeen) != nil:
		o := rollingOut(st, st.LastSeen)
		state = fmt.Sprintf("rolling out %s in waves (depends_on): %d job(s) waiting, see below", shortSHA(o.Commit), len(o.Waiting))
	case st.LastSeen != st.LastApplied:
		state = "behind: the newest commit was not applied (see Commits)"
	}
	kv = append(kv, [2]string{"Status", state})
	writeKV(w, kv)
	if len(st.Commits) > 0 {
		fmt.Fprintln(w, "\nCommits")
		var rows [][]string
		for _, c := range st.Commits {
			rows = append(rows, []string{shortSHA(c.Commit), c.Outcome, relTime(c.Time, now), c.Subject})
		}
		writeTable(w, []string{"Commit", "Outcome", "When", "Subject"}, rows)
		for _, c := range st.Commits {
			if len(c.Waiting) > 0 {
				fmt.Fprintf(w, "\n%s rolling out, waiting:\n", shortSHA(c.Commit))
				for _, x := range c.Waiting {
					fmt.Fprintf(w, "  %s\n", x)
				}
			}
			if len(c.Errors) == 0 || c.Outcome == cluster.CommitApplied {
				continue
			}
			fmt.Fprintf(w, "\n%s %s:\n", shortSHA(c.Commit), c.Outcome)
			for _, e := range c.Errors {
				fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(e, "\n", "\n    "))
			}
		}
	}
	if len(st.Drift) > 0 {
		fmt.Fprintln(w, "\nDrift (changed outside Git)")
		var rows [][]string
		for _, d := range st.Drift {
			action := "reported (self_heal = false)"
			if d.Healed {
				action = "put back to " + shortSHA(d.Commit)
			}
			rows = append(rows, []string{d.JobID, relTime(d.Time, now), action, d.Detail})
		}
		writeTable(w, []string{"Job", "When", "Action", "Detail"}, rows)
	}
	if len(st.Unmanaged) > 0 {
		fmt.Fprintf(w, "\nUnmanaged jobs (submitted by hand, never touched): %s\n", strings.Join(st.Unmanaged, ", "))
	}
}

// rollingOut returns the commit's newest outcome when it is rolling out
// in waves.
func rollingOut(st *cluster.SyncStatus, sha string) *cluster.CommitOutcome {
	if len(st.Commits) > 0 && st.Commits[0].Commit == sha && st.Commits[0].Outcome == cluster.CommitRollingOut {
		return &st.Commits[0]
	}
	return nil
}

// failedCommit returns the commit's newest outcome when it is failed.
func failedCommit(st *cluster.SyncStatus, sha string) *cluster.CommitOutcome {
	for i := range st.Commits {
		if st.Commits[i].Commit == sha {
			if st.Commits[i].Outcome == cluster.CommitFailed {
				return &st.Commits[i]
			}
			return nil
		}
	}
	return nil
}
