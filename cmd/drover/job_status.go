package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

const jobStatusHelp = `
Usage: drover job status [options] [JOB]

Without JOB, list the cluster's jobs: type, priority, status, version, and
where each came from (the Git commit, or "unmanaged" for jobs submitted
with 'drover job run'). A Git-managed job stopped by hand shows
"stopped by hand (was SOURCE@COMMIT)", SOURCE being the name of the
server's source; a parameterized job is "running (parameterized)": it
runs only as the jobs 'drover job dispatch' makes of it.

With JOB (an ID or a unique prefix of one), show that job: its version and
source commit, a summary of its allocations per task group, its latest
deployment, and its allocations, newest first. A Git-managed job that was
stopped by hand shows the commit it came from. A batch job is dead once
every allocation is done, as in Nomad, with how it ended: "dead
(complete)" or "dead (failed)". A parameterized job lists its
dispatched jobs (JOB/dispatch-..., made by 'drover job dispatch') under
"Dispatched Jobs", newest first. A periodic job shows its next launch,
in its time_zone and in UTC (as the leader computes it, on the server's
clock), and lists the jobs the leader launched from it (JOB/periodic-<unix
seconds>) under "Previously Launched Jobs", newest first.

Examples:
  drover job status
  drover job status web
  drover job status nightly-report        # next launch and children
  drover job status video-encode          # its dispatched jobs
  drover job status -json web | jq '.allocations[] | {id, node_name, client_status}'
  drover job status -o yaml web

Exit codes: 0 success, 1 an error (an unknown job, an unreachable server).
`

type jobStatusOptions struct {
	queryOptions
	jobID string // empty: list
}

func runJobStatus(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("job status", jobStatusHelp, io)
	var opts jobStatusOptions
	opts.register(fs, "print the API objects as JSON")
	pos, code, done := parseArgs(fs, args, io, 0, 1, "Error: give at most one job: drover job status [JOB]")
	if done {
		return code
	}
	if len(pos) == 1 {
		opts.jobID = pos[0]
	}
	return jobStatus(ctx, opts, io)
}

// jobStatusView is what `job status JOB` shows, and prints with -json.
type jobStatusView struct {
	Job *cluster.Job `json:"job"`
	// Summary counts allocations per group and client status, as the
	// job list reports it.
	Summary          map[string]map[string]int `json:"summary"`
	Allocations      []*cluster.Allocation     `json:"allocations"`
	Evaluations      []*cluster.Evaluation     `json:"evaluations"`
	LatestDeployment *cluster.Deployment       `json:"latest_deployment,omitempty"`
	// BeforeStop is the version that a stop by hand replaced, when the
	// job's latest version is such a stop: where the job came from until
	// then (a commit, for a Git-managed job).
	BeforeStop *cluster.Job `json:"before_stop,omitempty"`
	// NextPeriodicLaunch is a periodic job's next launch, as the server
	// computes it (api.JobListStub.NextPeriodicLaunch); nil when it has
	// none (not periodic, disabled, stopped, parameterized). Children are
	// the jobs launched or dispatched from it, newest first.
	NextPeriodicLaunch *time.Time         `json:"next_periodic_launch,omitempty"`
	Children           []*api.JobListStub `json:"children,omitempty"`
}

func jobStatus(ctx context.Context, opts jobStatusOptions, io stdio) int {
	client, now, ok := opts.connect(io)
	if !ok {
		return exitError
	}
	if opts.jobID == "" {
		jobs, _, err := client.Jobs().List(ctx, nil)
		if err != nil {
			return printAPIError(io, err, client.Address())
		}
		return opts.output(io, jobs, func() { renderJobList(io.out, jobs, now) })
	}

	stub, code := findJob(ctx, client, opts.jobID, now, io)
	if stub == nil {
		return code
	}
	v, err := fetchJobStatus(ctx, client, stub)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	// The server computes the next launch as its leader does, on its
	// clock, from the last launch it recorded (periodic_status.go).
	v.NextPeriodicLaunch = stub.NextPeriodicLaunch
	return opts.output(io, v, func() { renderJobStatus(io.out, v, now) })
}

// findJob resolves an ID or a unique prefix of one to a job, as Nomad
// does; it prints why not and returns nil when it cannot.
func findJob(ctx context.Context, client *api.Client, key string, now time.Time, io stdio) (*api.JobListStub, int) {
	jobs, _, err := client.Jobs().List(ctx, &api.QueryOptions{Prefix: key})
	if err != nil {
		return nil, printAPIError(io, err, client.Address())
	}
	for _, j := range jobs {
		if j.ID == key {
			return j, exitOK
		}
	}
	switch len(jobs) {
	case 0:
		fmt.Fprintf(io.err, "No job with ID %q (run 'drover job status' to list jobs)\n", key)
		return nil, exitError
	case 1:
		return jobs[0], exitOK
	}
	fmt.Fprintf(io.err, "Prefix %q matches %d jobs; give more of the ID:\n\n", key, len(jobs))
	renderJobList(io.err, jobs, now)
	return nil, exitError
}

func fetchJobStatus(ctx context.Context, client *api.Client, stub *api.JobListStub) (*jobStatusView, error) {
	job, _, err := client.Jobs().Info(ctx, stub.ID, nil)
	if err != nil {
		return nil, err
	}
	// The list derives the status from the allocations; the stored
	// record's may be older.
	job.Status = stub.Status
	allocs, _, err := client.Jobs().Allocations(ctx, stub.ID, nil)
	if err != nil {
		return nil, err
	}
	evals, _, err := client.Jobs().Evaluations(ctx, stub.ID, nil)
	if err != nil {
		return nil, err
	}
	deps, _, err := client.Jobs().Deployments(ctx, stub.ID, nil)
	if err != nil {
		return nil, err
	}
	v := &jobStatusView{Job: job, Summary: stub.Summary, Allocations: allocs, Evaluations: evals}
	for _, d := range deps {
		if v.LatestDeployment == nil || d.CreateIndex > v.LatestDeployment.CreateIndex {
			v.LatestDeployment = d
		}
	}
	if kind := childKind(job); kind != "" {
		kids, _, err := client.Jobs().List(ctx, &api.QueryOptions{Prefix: stub.ID + "/" + kind + "-"})
		if err != nil {
			return nil, err
		}
		for _, k := range kids {
			if k.ParentID == stub.ID && k.Namespace == job.Namespace {
				v.Children = append(v.Children, k)
			}
		}
		sortChildren(v.Children) // job_status_children.go
	}
	if job.StoppedByHand() {
		// A stop through the API records a version of its own with no
		// source (it came from no commit: the reconciler reads it as a
		// stop outside Git); the version before it says where the job
		// came from.
		versions, _, err := client.Jobs().Versions(ctx, stub.ID, nil)
		if err != nil {
			return nil, err
		}
		for _, pv := range versions {
			if pv.Version+1 == job.Version {
				v.BeforeStop = pv
			}
		}
	}
	return v, nil
}

// renderJobList prints the job list table.
func renderJobList(w io.Writer, jobs []*api.JobListStub, now time.Time) {
	if len(jobs) == 0 {
		fmt.Fprintln(w, "No running jobs")
		return
	}
	jobs = slices.Clone(jobs)
	slices.SortFunc(jobs, func(a, b *api.JobListStub) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Namespace, b.Namespace))
	})
	rows := make([][]string, 0, len(jobs))
	for _, j := range jobs {
		rows = append(rows, []string{
			j.ID, string(j.Type), strconv.Itoa(j.Priority), listStatus(j),
			strconv.FormatUint(j.Version, 10), listSource(j), formatTime(j.SubmitTime, now),
		})
	}
	writeTable(w, []string{"ID", "Type", "Priority", "Status", "Version", "Source", "Submit Date"}, rows)
}

// listStatus is a job's status in the list, with a word for a job that
// runs only as its children: "running (parameterized)", as Nomad calls a
// parameterized job running until it is stopped.
func listStatus(j *api.JobListStub) string {
	if j.NotLaunched != "" && !j.Stop {
		return j.Status + " (" + j.NotLaunched + ")"
	}
	return j.Status
}

// listSource is where a job in the list came from: the commit, a stop by
// hand of a version that came from a commit, or "unmanaged".
func listSource(j *api.JobListStub) string {
	switch {
	case j.Source != nil:
		return shortSHA(j.Source.Commit)
	case j.BeforeStop != nil:
		// The source's name (as sync status names it): a repository
		// URL is too wide for a column.
		name := cmp.Or(j.BeforeStop.Name, j.BeforeStop.Repo)
		return "stopped by hand (was " + name + "@" + shortSHA(j.BeforeStop.Commit) + ")"
	}
	return "unmanaged"
}

// renderJobStatus prints one job as `nomad job status JOB` does, plus
// where its version came from.
func renderJobStatus(w io.Writer, v *jobStatusView, now time.Time) {
	j := v.Job
	kv := [][2]string{{"ID", j.ID}}
	if s := j.Spec; s != nil {
		kv = append(kv,
			[2]string{"Name", s.Name},
			[2]string{"Submit Date", formatTime(j.SubmitTime, now)},
			[2]string{"Type", string(s.Type)},
			[2]string{"Priority", strconv.Itoa(s.Priority)},
			[2]string{"Datacenters", orNone(strings.Join(s.Datacenters, ","))},
		)
	}
	status := j.Status
	if j.Stop {
		status += " (stopped)"
	} else if outcome := batchOutcome(j, v.Allocations); outcome != "" {
		status += " (" + outcome + ")" // job_status_children.go
	}
	kv = append(kv,
		[2]string{"Namespace", j.Namespace},
		[2]string{"Status", status},
	)
	if kind, reason := j.Spec.NotLaunched(); kind != "" {
		kv = append(kv, [2]string{strings.ToUpper(kind[:1]) + kind[1:], reason})
	}
	if j.ParentID != "" {
		kv = append(kv, [2]string{"Parent ID", j.ParentID}) // a periodic or dispatched child
	}
	if p := j.Spec.PeriodicBlock(); p != nil {
		kv = append(kv, [2]string{"Periodic", periodicKV(p.Crons, p.TimeZone, p.ProhibitOverlap)})
		next := "none"
		switch {
		case !p.Enabled:
			next = "none (periodic is disabled: enabled = false)"
		case j.Stop:
			next = "none (the job is stopped)"
		case j.Spec.Parameterized != nil:
			next = "none (parameterized: each dispatched child runs the schedule)"
		case v.NextPeriodicLaunch != nil:
			next = periodicLaunchText(*v.NextPeriodicLaunch, p.TimeZone)
		}
		kv = append(kv, [2]string{"Next Periodic Launch", next})
	}
	kv = append(kv, [2]string{"Version", strconv.FormatUint(j.Version, 10)})
	kv = append(kv, sourceKV(j, v.BeforeStop)...)
	if j.SubmittedBy != "" {
		kv = append(kv, [2]string{"Submitted By", j.SubmittedBy})
	}
	writeKV(w, kv)
	renderJobUI(w, j) // job_status_ui.go

	fmt.Fprintln(w, "\nSummary")
	writeTable(w, summaryHeader(v), summaryRows(v))
	renderScaling(w, j) // job_scale.go

	if d := v.LatestDeployment; d != nil {
		fmt.Fprintln(w, "\nLatest Deployment")
		writeKV(w, [][2]string{{"ID", shortID(d.ID)}, {"Version", strconv.FormatUint(d.JobVersion, 10)}, {"Status", d.Status}, {"Description", orNone(d.StatusDescription)}})
		fmt.Fprintln(w, "\nDeployed")
		var rows [][]string
		for _, g := range slices.Sorted(maps.Keys(d.TaskGroups)) {
			tg := d.TaskGroups[g]
			rows = append(rows, []string{g, strconv.Itoa(tg.DesiredTotal), strconv.Itoa(tg.PlacedAllocs), strconv.Itoa(tg.HealthyAllocs), strconv.Itoa(tg.UnhealthyAllocs)})
		}
		writeTable(w, []string{"Task Group", "Desired", "Placed", "Healthy", "Unhealthy"}, rows)
	}

	renderChildren(w, j, v.Children, now) // job_status_children.go

	fmt.Fprintln(w, "\nAllocations")
	if len(v.Allocations) == 0 {
		fmt.Fprintln(w, "No allocations placed")
		return
	}
	writeTable(w, []string{"ID", "Node", "Task Group", "Version", "Desired", "Status", "Created", "Modified"}, allocRows(v.Allocations, now, false))
}

// sourceKV says where a job's latest version came from: the commit that
// produced it, a stop by hand of a version that came from a commit
// (before), or that someone submitted it by hand.
func sourceKV(j *cluster.Job, before *cluster.Job) [][2]string {
	switch {
	case j.Source != nil:
		return commitKV(j.Source.Repo+"@"+shortSHA(j.Source.Commit), j.Source)
	case j.StoppedByHand() && before != nil && before.Source != nil:
		s := before.Source
		kv := commitKV(fmt.Sprintf("stopped by hand outside Git (version %d); version %d came from %s@%s",
			j.Version, before.Version, s.Repo, shortSHA(s.Commit)), s)
		return append(kv, [2]string{"Self Heal", fmt.Sprintf("with self_heal on (the default in drover.hcl), source %q starts it again "+
			"at its next pass (every poll_interval, 30s by default); delete its file in Git to stop it for good", s.Name)})
	}
	if src := childSource(j); src != "" { // job_status_children.go
		return [][2]string{{"Source", src}}
	}
	return [][2]string{{"Source", "unmanaged (submitted with 'drover job run', not from Git)"}}
}

// commitKV is the Source line and the commit's path, author and subject.
func commitKV(source string, s *cluster.Source) [][2]string {
	author := s.Author
	if s.AuthorEmail != "" {
		author += " <" + s.AuthorEmail + ">"
	}
	return [][2]string{
		{"Source", source},
		{"Path", orNone(s.Path)},
		{"Author", orNone(author)},
		{"Commit", strconv.Quote(s.Subject)},
	}
}

// summaryRows counts allocations per group: the spec's groups in their
// order, then any group only old allocations still belong to.
func summaryRows(v *jobStatusView) [][]string {
	var groups []string
	if v.Job.Spec != nil {
		for _, g := range v.Job.Spec.Groups {
			groups = append(groups, g.Name)
		}
	}
	for _, g := range slices.Sorted(maps.Keys(v.Summary)) {
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	queued := queuedAllocs(v)
	rows := make([][]string, 0, len(groups))
	for _, g := range groups {
		c := v.Summary[g]
		rows = append(rows, []string{g, strconv.Itoa(queued[g]),
			strconv.Itoa(c[cluster.AllocClientPending]), strconv.Itoa(c[cluster.AllocClientRunning]),
			strconv.Itoa(c[cluster.AllocClientFailed]), strconv.Itoa(c[cluster.AllocClientComplete]),
			strconv.Itoa(c[cluster.AllocClientLost])})
		if hasUnknown(v) {
			rows[len(rows)-1] = append(rows[len(rows)-1], strconv.Itoa(c[cluster.AllocClientUnknown]))
		}
	}
	return rows
}

// queuedAllocs is what the scheduler last could not place, per group: the
// queued count of the newest evaluation it finished (a blocked
// evaluation keeps its count while it waits for capacity).
func queuedAllocs(v *jobStatusView) map[string]int {
	if v.Job.Stop {
		return nil
	}
	var latest *cluster.Evaluation
	for _, e := range v.Evaluations {
		if e.Status == cluster.EvalStatusPending || e.Status == cluster.EvalStatusCanceled {
			continue
		}
		if latest == nil || e.ModifyIndex > latest.ModifyIndex {
			latest = e
		}
	}
	if latest == nil {
		return nil
	}
	return latest.QueuedAllocations
}

// allocRows are the rows of an allocations table, newest first. Tables
// of one node's allocations name the job instead of the node.
func allocRows(allocs []*cluster.Allocation, now time.Time, byJob bool) [][]string {
	allocs = slices.Clone(allocs)
	slices.SortFunc(allocs, func(a, b *cluster.Allocation) int {
		return cmp.Or(cmp.Compare(b.CreateIndex, a.CreateIndex), strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	rows := make([][]string, 0, len(allocs))
	for _, a := range allocs {
		where := a.NodeName
		if where == "" {
			where = shortID(a.NodeID)
		}
		if byJob {
			where = a.JobID
		}
		rows = append(rows, []string{shortID(a.ID), where, a.TaskGroup, strconv.FormatUint(a.JobVersion, 10),
			a.DesiredStatus, a.ClientStatus, relTime(a.CreateTime, now), relTime(a.ModifyTime, now)})
	}
	return rows
}

// periodicKV is a periodic block in one line: its crons, zone and
// whether launches may overlap.
func periodicKV(crons []string, zone string, prohibitOverlap bool) string {
	out := strings.Join(crons, "; ") + " (" + cmp.Or(zone, "UTC") + ")"
	if prohibitOverlap {
		out += ", prohibit_overlap"
	}
	return out
}

// periodicLaunchText is a next launch in the job's time_zone and, for
// another zone, in UTC: the server sends it with the zone's offset but
// not its name, which the job's time_zone gives back.
func periodicLaunchText(t time.Time, zone string) string {
	const layout = "2006-01-02T15:04:05-07:00 MST"
	if loc, err := (&jobspec.Periodic{TimeZone: zone}).Location(); err == nil {
		t = t.In(loc)
	}
	if _, off := t.Zone(); off == 0 && (zone == "" || zone == "UTC") {
		return t.UTC().Format(layout)
	}
	return t.Format(layout) + " (" + t.UTC().Format(time.RFC3339) + ")"
}
