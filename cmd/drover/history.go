package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/reconciler"
)

const historyHelp = `
Usage: drover history [options] [JOB]

List job versions, newest first, with the Git commit that produced each
(short SHA, author, subject, commit time) and the outcome of its rollout
(the deployment's status, or what its allocations say). Without JOB,
every job's versions are listed. Versions submitted by hand show
"unmanaged"; a stop made by hand ('drover job stop'), "stopped by hand".

Versions that garbage collection removed (beyond job_tracked_versions, or
of a stopped job it purged) are still listed, from the summary the
servers keep of each: their commit, author and time, with the rollout
column saying "collected". A purged job's history is shown when JOB is
given.

Rolling back is a Git operation: 'git revert <commit>' and push; the
revert is a new commit, and history shows it like any other.

Examples:
  drover history web
  drover history -json | jq '.[] | select(.source.author == "Ada")'

Exit codes: 0 success, 1 an error (an unknown job, an unreachable server).
`

type historyOptions struct {
	client clientOptions
	jobID  string
	json   bool
	clock  func() time.Time
}

func runHistory(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("history", historyHelp, io)
	opts := historyOptions{clock: time.Now}
	opts.client.register(fs)
	fs.BoolVar(&opts.json, "json", false, "print the versions as JSON")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) > 1 {
		fmt.Fprintln(io.err, "Error: give at most one job (see --help)")
		return exitError
	}
	if len(pos) == 1 {
		opts.jobID = pos[0]
	}
	return history(ctx, opts, io)
}

// historyEntry is one row: a version and its rollout's outcome.
type historyEntry struct {
	JobID      string          `json:"job_id"`
	Version    uint64          `json:"version"`
	Stop       bool            `json:"stop,omitempty"`
	SubmitTime time.Time       `json:"submit_time"`
	Source     *cluster.Source `json:"source,omitempty"`
	Outcome    string          `json:"outcome"`
	// CommitOutcome is what the source's sync status records for the
	// version's commit and attempt ("applied, healthy", "failed"), and
	// Corrected why an earlier record of it was corrected.
	CommitOutcome string `json:"commit_outcome,omitempty"`
	Corrected     string `json:"corrected,omitempty"`
	// Collected is set for a version garbage collection removed: what is
	// shown is the summary the servers keep of it.
	Collected bool `json:"collected,omitempty"`
	// JobModifyIndex orders the rows: versions of a job purged and
	// registered again repeat their numbers.
	JobModifyIndex uint64 `json:"job_modify_index,omitempty"`
}

func history(ctx context.Context, opts historyOptions, io stdio) int {
	client, ok := opts.client.newClient(io)
	if !ok {
		return exitError
	}
	ids := []string{opts.jobID}
	if opts.jobID == "" {
		stubs, _, err := client.Jobs().List(ctx, nil)
		if err != nil {
			return printAPIError(io, err, client.Address())
		}
		ids = ids[:0]
		for _, s := range stubs {
			ids = append(ids, s.ID)
		}
	}
	var entries []historyEntry
	for _, id := range ids {
		es, err := jobHistory(ctx, client, id)
		if err != nil {
			return printAPIError(io, err, client.Address())
		}
		entries = append(entries, es...)
	}
	// The sources' records of each commit: a retry or a corrected record
	// shows beside the versions it concerns. A server without sources
	// (or an older one) has none; history stands without them.
	if statuses, _, err := client.Sync().List(ctx, nil); err == nil {
		annotateHistory(entries, statuses)
	}
	if opts.json {
		if entries == nil {
			entries = []historyEntry{}
		}
		if err := writeJSON(io.out, entries); err != nil {
			return exitError
		}
		return exitOK
	}
	renderHistory(io.out, entries, opts.clock())
	return exitOK
}

// renderHistory prints the versions as a table.
func renderHistory(w io.Writer, entries []historyEntry, now time.Time) {
	var rows [][]string
	for _, e := range entries {
		commit, author, subject, when := "unmanaged", "", "", formatTime(e.SubmitTime, now)
		if e.Stop && e.Source == nil {
			// A stop through the API comes from no commit, even for a
			// job that did (the version below it says which).
			commit = "stopped by hand"
		}
		if s := e.Source; s != nil {
			commit, author, subject, when = shortSHA(s.Commit), s.Author, s.Subject, formatTime(s.CommitTime, now)
			if s.Retry > 0 {
				commit += fmt.Sprintf(" (retry %d)", s.Retry)
			}
		}
		outcome := e.Outcome
		if e.Corrected != "" {
			outcome += " (commit record corrected: was failed)"
		}
		v := fmt.Sprint(e.Version)
		if e.Stop {
			v += " (stop)"
		}
		rows = append(rows, []string{e.JobID, v, commit, author, when, outcome, subject})
	}
	writeTable(w, []string{"Job", "Version", "Commit", "Author", "Time", "Rollout", "Subject"}, rows)
}

// jobHistory reads a job's versions and judges each one's rollout, and
// adds the summaries of its collected versions.
func jobHistory(ctx context.Context, c *api.Client, id string) ([]historyEntry, error) {
	versions, _, err := c.Jobs().Versions(ctx, id, nil)
	if err != nil && !api.IsNotFound(err) {
		return nil, err
	}
	// A server without the route (older) answers 404 too: no summaries.
	collected, _, herr := c.Jobs().History(ctx, id, nil)
	if herr != nil && !api.IsNotFound(herr) {
		return nil, herr
	}
	if len(versions) == 0 && len(collected) == 0 {
		return nil, err // the job's 404, when there is nothing at all
	}
	deps, _, err := c.Jobs().Deployments(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	allocs, _, err := c.Jobs().Allocations(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i].Version > versions[j].Version })
	var out []historyEntry
	for i, v := range versions {
		e := historyEntry{JobID: v.ID, Version: v.Version, Stop: v.Stop, SubmitTime: v.SubmitTime, Source: v.Source, JobModifyIndex: v.JobModifyIndex}
		e.Outcome = rolloutOutcome(v, i == 0, deps, allocs)
		out = append(out, e)
	}
	for _, h := range collected {
		out = append(out, historyEntry{JobID: h.ID, Version: h.Version, Stop: h.Stop, SubmitTime: h.SubmitTime,
			Source: h.Source, Outcome: "collected", Collected: true, JobModifyIndex: h.JobModifyIndex})
	}
	// Newest first by the index each version was registered at, which
	// interleaves kept and collected versions (GC keeps the stable one
	// and those that still run, whatever their age).
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].JobModifyIndex != out[j].JobModifyIndex {
			return out[i].JobModifyIndex > out[j].JobModifyIndex
		}
		return out[i].Version > out[j].Version
	})
	return out, nil
}

// annotateHistory adds to each Git-managed version what its source
// records of the commit's attempt that produced it.
func annotateHistory(entries []historyEntry, statuses []*cluster.SyncStatus) {
	bySource := make(map[string]*cluster.SyncStatus, len(statuses))
	for _, st := range statuses {
		bySource[st.Source] = st
	}
	for i := range entries {
		src := entries[i].Source
		if src == nil || bySource[src.Name] == nil {
			continue
		}
		for _, o := range bySource[src.Name].Commits {
			if o.Commit == src.Commit && o.Retry == src.Retry {
				entries[i].CommitOutcome, entries[i].Corrected = outcomeText(o), o.Corrected
				break
			}
		}
	}
}

// rolloutOutcome words how a version's rollout went: its deployment's
// status when it has one, else its allocations' client statuses.
func rolloutOutcome(v *cluster.Job, latest bool, deps []*cluster.Deployment, allocs []*cluster.Allocation) string {
	var dep *cluster.Deployment
	for _, d := range deps {
		if d.JobVersion == v.Version && (dep == nil || d.CreateIndex > dep.CreateIndex) {
			dep = d
		}
	}
	if dep != nil {
		return "deployment " + dep.Status
	}
	if v.Stop {
		return "stopped"
	}
	if latest {
		// The rule the reconciler judges commits by: a failure the
		// scheduler is still handling (a reschedule to come) is pending.
		switch h := reconciler.Assess(reconciler.Rollout{Version: v.Version, Latest: v, Allocs: allocs}); h.State {
		case reconciler.RolloutFailed:
			return "failed: " + h.Reason
		case reconciler.RolloutPending:
			if h.Reason != "" {
				return "pending: " + h.Reason
			}
		}
	}
	counts := map[string]int{}
	for _, a := range allocs {
		if a.JobVersion == v.Version && (a.ClientStatus != cluster.AllocClientFailed || a.NextAllocation == "") {
			counts[a.ClientStatus]++
		}
	}
	switch {
	case counts[cluster.AllocClientFailed] > 0:
		n := counts[cluster.AllocClientFailed]
		return fmt.Sprintf("failed (%s failed)", plural(n, "allocation", "allocations"))
	case counts[cluster.AllocClientRunning] > 0 && latest:
		return fmt.Sprintf("running (%d)", counts[cluster.AllocClientRunning])
	case counts[cluster.AllocClientComplete] > 0:
		return "complete"
	case !latest:
		return "superseded"
	}
	return "pending"
}
