package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

const syncStatusHelp = `
Usage: drover sync status [options] [SOURCE]

Show where the servers stand with each Git source: the tracked branch, the
last commit seen on it, the last commit applied to the cluster and
whether its rollout is healthy, recent commits that were rejected (with
the file:line:col of every error) or whose rollout failed, retries and
corrected records, jobs found changed outside Git (drift), periodic and
parameterized jobs (templates whose children run), and jobs submitted by
hand that no source manages (never touched).

A commit's rollout fails only when the cluster gives up on it: a
deployment it started failed (after its reschedules and
progress_deadline), or, for jobs without deployments, an allocation
failed with no reschedule left. A failed commit is not applied again
until a new commit arrives or 'drover sync retry SOURCE' asks for it.

Examples:
  drover sync status
  drover sync status apps -json | jq '.[0].commits'
  drover sync status apps || echo "not in sync (exit $?)"

Exit codes: 0 every source is in sync (its newest commit applied and
healthy); 2 a source is behind, rolling out, or cannot fetch; 3 a
source's newest commit was rejected or its rollout failed; 1 an error (an
unreachable server, an unknown source). With several sources the highest
of 3, 2 and 0 wins.
`

const syncRetryHelp = `
Usage: drover sync retry [options] SOURCE

Apply the source's newest commit again after its rollout failed (Argo
CD's sync retry): fix what made it fail by hand (a missing host file, a
full disk, a dependency that was down), then retry instead of pushing an
empty commit. Every job of the commit whose rollout failed is registered
again as a new version (recorded as "retry N" of the commit in
'drover sync status' and 'drover history'), and its rollout is followed
like any other. Rejected commits (invalid files) are not retried: push a
fix.

Examples:
  drover sync retry apps
  drover sync retry apps && drover sync wait apps

Exit codes: 0 the retry was asked for; 1 an error (no such source, or its
newest commit did not fail: the message says what it is).
`

const syncWaitHelp = `
Usage: drover sync wait [options] [SOURCE]

Block until the source's newest commit (or the one given by -commit) is
applied and its rollout healthy, like Argo CD's 'app wait --health'. With
no SOURCE, every source. A progress line is printed (to stderr) whenever
the status changes.

Examples:
  drover sync wait apps
  drover sync wait apps -commit "$GITHUB_SHA" -timeout 15m

Exit codes: 0 applied and healthy; 3 rejected, or its rollout failed;
2 -timeout passed while it was still behind or rolling out; 1 an error.
`

type syncStatusOptions struct {
	client clientOptions
	source string
	json   bool
	format outputFormat // -o json|yaml
	clock  func() time.Time
}

func syncCommands() []command {
	return []command{
		{"status", "Show each Git source's last seen, applied and rejected commits", runSyncStatus},
		{"retry", "Apply a source's newest commit again after its rollout failed", runSyncRetry},
		{"wait", "Wait until a source's newest commit is applied and healthy", runSyncWait},
	}
}

func runSync(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "sync", "Inspect the servers' Git sources.", syncCommands(), args, io)
}

// Exit codes of sync status and sync wait, by the sources' state.
const (
	exitSyncBehind = 2 // behind, rolling out, or cannot fetch
	exitSyncFailed = 3 // the newest commit was rejected or failed
)

func runSyncStatus(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("sync status", syncStatusHelp, io)
	opts := syncStatusOptions{clock: time.Now}
	opts.client.register(fs)
	fs.BoolVar(&opts.json, "json", false, "print the statuses as JSON")
	fs.Var(&opts.format, "o", "output format: `json` (as -json) or yaml")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	var ok bool
	if opts.source, ok = optionalSource(pos, io); !ok {
		return exitError
	}
	return syncStatus(ctx, opts, io)
}

// optionalSource returns the one optional SOURCE argument of the sync
// commands ("" for every source).
func optionalSource(pos []string, io stdio) (string, bool) {
	switch len(pos) {
	case 0:
		return "", true
	case 1:
		return pos[0], true
	}
	fmt.Fprintln(io.err, "Error: give at most one source (see --help)")
	return "", false
}

// fetchSyncStatuses reads one source's status, or every source's.
func fetchSyncStatuses(ctx context.Context, client *api.Client, source string, q *api.QueryOptions) ([]*cluster.SyncStatus, *api.QueryMeta, error) {
	if source != "" {
		st, meta, err := client.Sync().Info(ctx, source, q)
		if err != nil {
			return nil, meta, err
		}
		return []*cluster.SyncStatus{st}, meta, nil
	}
	return client.Sync().List(ctx, q)
}

func syncStatus(ctx context.Context, opts syncStatusOptions, io stdio) int {
	client, ok := opts.client.newClient(io)
	if !ok {
		return exitError
	}
	list, _, err := fetchSyncStatuses(ctx, client, opts.source, nil)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	code := exitOK
	for _, st := range list {
		code = worseSync(code, judgeSync(st, "").code)
	}
	if opts.json || opts.format.value != "" {
		if err := writeAs(io.out, opts.format.value, list); err != nil {
			return exitError
		}
		return code
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
	return code
}

// worseSync returns the exit code that says more is wrong.
func worseSync(a, b int) int {
	rank := func(c int) int {
		switch c {
		case exitSyncFailed:
			return 2
		case exitSyncBehind:
			return 1
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// syncVerdict is where a source stands with one commit: the Status line
// and the exit code.
type syncVerdict struct {
	text string
	code int
	// final: the commit will not change state by itself (in sync,
	// rejected, failed), for sync wait.
	final bool
}

// judgeSync says where a source stands with a commit (its newest seen
// when commit is ""). Pure: sync status and sync wait share it.
func judgeSync(st *cluster.SyncStatus, commit string) syncVerdict {
	if commit == "" || st.LastSeen != "" && strings.HasPrefix(st.LastSeen, commit) {
		commit = st.LastSeen
	}
	v := judgeCommit(st, commit)
	if st.Error != "" && !v.final {
		v = syncVerdict{text: "error: " + st.Error, code: exitSyncBehind}
	}
	return v
}

func judgeCommit(st *cluster.SyncStatus, commit string) syncVerdict {
	if commit == "" {
		return syncVerdict{text: "not synced yet", code: exitSyncBehind}
	}
	short := shortSHA(commit)
	o := newestOutcome(st, commit)
	if o == nil {
		if st.LastApplied != "" && st.LastApplied == commit {
			return syncVerdict{text: "in sync", code: exitOK, final: true}
		}
		if commit != st.LastSeen {
			return syncVerdict{text: "waiting for the servers to see " + short + " (last seen: " + orNone(shortSHA(st.LastSeen)) + ")", code: exitSyncBehind}
		}
		return syncVerdict{text: "behind: the newest commit was not applied (see Commits)", code: exitSyncBehind}
	}
	switch {
	case o.Outcome == cluster.CommitFailed && st.Retry != nil && st.Retry.Commit == commit:
		return syncVerdict{text: "retrying " + short + " (asked " + st.Retry.RequestedAt.UTC().Format(time.RFC3339) + ")", code: exitSyncBehind}
	case o.Outcome == cluster.CommitFailed:
		text := "failed: the rollout of " + short + " failed and is not retried; fix the cause and run 'drover sync retry " + st.Source + "', or push a fix or a revert"
		if len(o.Errors) > 0 {
			text += " (" + o.Errors[0] + ")"
		}
		return syncVerdict{text: text, code: exitSyncFailed, final: true}
	case o.Outcome == cluster.CommitRejected:
		return syncVerdict{text: "rejected: " + short + " was not applied (see below); the cluster stays at " + orNone(shortSHA(st.LastApplied)) + "; push a fix",
			code: exitSyncFailed, final: true}
	case o.Outcome == cluster.CommitRollingOut:
		return syncVerdict{text: fmt.Sprintf("rolling out %s in waves (depends_on): %s waiting, see below", short, plural(len(o.Waiting), "job", "jobs")), code: exitSyncBehind}
	case o.Health == cluster.HealthProgressing:
		return syncVerdict{text: fmt.Sprintf("rolling out %s: waiting for %s to be healthy (drover deployment list)", short, rolloutNames(o.Rollouts)), code: exitSyncBehind}
	case o.Health == cluster.HealthSuperseded && commit != st.LastSeen:
		return judgeCommit(st, st.LastSeen)
	}
	text := "in sync"
	if o.Corrected != "" {
		text += " (" + short + " was recorded failed, then proved healthy: the record was corrected)"
	}
	return syncVerdict{text: text, code: exitOK, final: true}
}

// newestOutcome returns the commit's newest outcome, or nil. A commit
// may be given by a prefix of its SHA.
func newestOutcome(st *cluster.SyncStatus, commit string) *cluster.CommitOutcome {
	for i := range st.Commits {
		if strings.HasPrefix(st.Commits[i].Commit, commit) {
			return &st.Commits[i]
		}
	}
	return nil
}

func rolloutNames(refs []cluster.JobVersionRef) string {
	names := make([]string, 0, len(refs))
	for _, r := range refs {
		names = append(names, fmt.Sprintf("%s v%d", r.ID, r.Version))
	}
	if len(names) == 0 {
		return "its jobs"
	}
	return strings.Join(names, ", ")
}

// outcomeText words a commit outcome for the Commits table.
func outcomeText(o cluster.CommitOutcome) string {
	out := o.Outcome
	switch {
	case o.Outcome == cluster.CommitRollingOut:
		out = "rolling out (waves)"
	case o.Health == cluster.HealthProgressing:
		out += ", rolling out"
	case o.Health != "":
		out += ", " + o.Health
	}
	if o.Retry > 0 {
		out += fmt.Sprintf(" (retry %d)", o.Retry)
	}
	if o.Corrected != "" {
		out += " (corrected)"
	}
	return out
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
	state := judgeSync(st, "").text
	kv = append(kv, [2]string{"Status", state})
	writeKV(w, kv)
	if len(st.Commits) > 0 {
		fmt.Fprintln(w, "\nCommits")
		var rows [][]string
		for _, c := range st.Commits {
			rows = append(rows, []string{shortSHA(c.Commit), outcomeText(c), relTime(c.Time, now), c.Subject})
		}
		writeTable(w, []string{"Commit", "Outcome", "When", "Subject"}, rows)
		for _, c := range st.Commits {
			if len(c.Waiting) > 0 {
				fmt.Fprintf(w, "\n%s rolling out, waiting:\n", shortSHA(c.Commit))
				for _, x := range c.Waiting {
					fmt.Fprintf(w, "  %s\n", x)
				}
			}
			if c.Corrected != "" {
				fmt.Fprintf(w, "\n%s corrected:\n  %s\n", shortSHA(c.Commit), c.Corrected)
			}
			if len(c.Sealed) > 0 { // sealed variables (issue 16): paths and counts, never a value
				fmt.Fprintf(w, "\n%s sealed variables:\n  %s\n", shortSHA(c.Commit), strings.Join(c.Sealed, "\n  "))
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
	if len(st.NotLaunched) > 0 {
		fmt.Fprintf(w, "\nNot launched (stored; Drover does not dispatch parameterized jobs yet): %s\n", strings.Join(st.NotLaunched, ", "))
	}
	if len(st.Unmanaged) > 0 {
		fmt.Fprintf(w, "\nUnmanaged jobs (submitted by hand, never touched): %s\n", strings.Join(st.Unmanaged, ", "))
	}
}
