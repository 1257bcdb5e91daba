package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/reconciler"
	"github.com/droverhq/drover/render"
	"github.com/droverhq/drover/repo"
)

const reconcileHelp = `
Usage: drover reconcile --once [options]

Make a cluster match a job repository at one ref, once, as a CI pipeline
step: load the repository at --ref, compute the plan against the cluster
(the jobs this --source manages versus the repository's), print it, and
unless --dry-run, apply it and wait until every rollout is healthy, with
progress per wave, job and task group (allocations desired, placed,
running and healthy; canaries): a block redrawn in place on a terminal
(TERM=dumb turns that off, NO_COLOR the colours), one timestamped line
per change otherwise, so CI logs stay readable.

The rules are the servers' reconciler's: an invalid job file rejects the
whole ref (nothing is applied); jobs whose spec equals the running
version are not resubmitted; jobs of this source whose file is gone are
stopped (prune = false in drover.hcl turns that off), but never more than
half of them without allow_mass_prune = true; jobs submitted by hand are
never touched. Every submitted version records the commit.

A rollout is healthy when its deployment succeeds, or, for a version
without a deployment, when every allocation of it runs (service, system)
or completed (batch), and it stays so for --min-healthy. It fails only
when the cluster gives up: its deployment failed (after its reschedules
and progress_deadline), or an allocation failed with no reschedule left
under its group's reschedule policy. The servers judge a commit in
'drover sync status' by the same rule.

Examples:
  drover reconcile --once --repo . --ref HEAD --dry-run
  drover reconcile --once --repo https://github.com/acme/deploy.git --ref main -address http://drover:4747
  drover reconcile --once --repo . --ref "$CI_COMMIT_SHA" -markdown --dry-run > plan.md

Exit codes: 0 applied and healthy, or nothing to do; 2 --dry-run and the
plan has changes; 3 a rollout failed (or was not healthy within
--timeout); 1 an error (an invalid job file, an unreachable server).
`

// exitRolloutFailed is reconcile's exit code for a failed rollout.
const exitRolloutFailed = 3

type reconcileOptions struct {
	client     clientOptions
	once       bool
	repoArg    string
	ref        string
	path       string
	source     string
	dryRun     bool
	json       bool
	markdown   bool
	timeout    time.Duration
	minHealthy time.Duration
	clock      func() time.Time
}

func runReconcile(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("reconcile", reconcileHelp, io)
	opts := reconcileOptions{clock: time.Now}
	opts.client.register(fs)
	fs.BoolVar(&opts.once, "once", false, "reconcile once and exit (required: the continuous loop runs in the servers)")
	fs.StringVar(&opts.repoArg, "repo", ".", "the repository: a `PATH` inside a checkout, or a URL (https://, ssh://, file://)")
	fs.StringVar(&opts.ref, "ref", "HEAD", "the `REF` to apply: a branch, tag or SHA (a branch for a URL)")
	fs.StringVar(&opts.path, "path", "", "the `folder` of the repository that holds the jobs (default: the root)")
	fs.StringVar(&opts.source, "source", "ci", "the source `name` the jobs are managed under: only jobs of this source are pruned")
	fs.BoolVar(&opts.dryRun, "dry-run", false, "print the plan and exit: 2 when it has changes, 0 when not")
	fs.BoolVar(&opts.json, "json", false, "print the plan as JSON (schema: render/SCHEMA.md); progress goes to stderr")
	fs.BoolVar(&opts.markdown, "markdown", false, "print the plan as Markdown")
	fs.DurationVar(&opts.timeout, "timeout", 10*time.Minute, "how long to wait for the rollouts to be healthy")
	fs.DurationVar(&opts.minHealthy, "min-healthy", 5*time.Second, "how long a rollout must stay healthy")
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	switch {
	case len(pos) > 0:
		fmt.Fprintf(io.err, "Error: unexpected argument %q (see --help)\n", pos[0])
		return exitError
	case !opts.once:
		fmt.Fprintln(io.err, "Error: --once is required: the continuous reconciler runs in the servers (source blocks); this command reconciles once")
		return exitError
	case opts.json && opts.markdown:
		fmt.Fprintln(io.err, "Error: choose one of -json and -markdown")
		return exitError
	}
	return reconcileOnce(ctx, opts, io)
}

func reconcileOnce(ctx context.Context, opts reconcileOptions, io stdio) int {
	client, ok := opts.client.newClient(io)
	if !ok {
		return exitError
	}
	g, commit, repoURL, cleanup, err := openRef(ctx, opts, io)
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", gitsource.ScrubString(err.Error()))
		return exitError
	}
	defer cleanup()
	src := g.Snapshot(commit)
	if opts.path != "" {
		src = g.SnapshotDir(commit, opts.path)
	}
	desired, err := reconciler.Load(ctx, repo.NewLoader(repo.LoadOptions{Environ: io.env, CheckConfig: configChecker()}), nil, src, opts.path)
	if err != nil {
		var se *reconciler.StepError
		if errors.As(err, &se) && se.Kind == reconciler.Rejected {
			fmt.Fprintf(io.err, "Error: %s (%s) has invalid files; nothing was applied:\n", opts.ref, shortSHA(commit.SHA))
			for _, e := range se.Errors {
				fmt.Fprintf(io.err, "  %s\n", e)
			}
			return exitError
		}
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	cl := reconciler.APICluster{Client: client}
	jobs, err := reconciler.Observe(ctx, cl)
	if err != nil {
		return printAPIError(io, errors.Unwrap(err), client.Address())
	}
	d := reconciler.Decide(reconciler.Input{Source: opts.source, Desired: desired, Cluster: jobs})
	if code := printReconcilePlan(opts, desired, d, jobs, commit, io); code != exitOK {
		return code
	}
	if d.Reject != "" {
		fmt.Fprintf(io.err, "Error: %s\n", d.Reject)
		return exitError
	}
	for _, u := range d.Unmanaged {
		fmt.Fprintf(io.err, "Note: job %q was submitted by hand and is not in the repository: left alone.\n", u)
	}
	if opts.dryRun {
		if d.Empty() {
			return exitOK
		}
		return exitChanges
	}
	if d.Empty() {
		fmt.Fprintln(io.err, "Nothing to do: the cluster matches the repository.")
		return exitOK
	}
	prov := cluster.Source{Name: opts.source, Repo: repoURL, Ref: opts.ref, Commit: commit.SHA, Author: commit.Author,
		AuthorEmail: commit.AuthorEmail, CommitTime: commit.Time, Subject: commit.Subject}
	progress := io.err
	if !opts.json && !opts.markdown {
		progress = io.out
	}
	wctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	// depends_on in drover.hcl: each wave is submitted once the previous
	// one's rollouts are healthy; a failure stops the waves after it.
	waves := reconciler.Waves(desired.Deps, d)
	shown := make([]progressWave, len(waves))
	for i, w := range waves {
		if len(waves) > 1 {
			shown[i].Title = fmt.Sprintf("Wave %d/%d: %s", i+1, len(waves), waveText(w, desired.Deps, waveIDs(waves[:i])))
		}
		for _, a := range w.Register {
			shown[i].Jobs = append(shown[i].Jobs, progressJob{ID: a.ID})
		}
		for _, a := range w.Stop {
			shown[i].Jobs = append(shown[i].Jobs, progressJob{ID: a.ID, Stop: true})
		}
	}
	r := newProgressRenderer(progress, io, opts.clock)
	for i, w := range waves {
		submitted, err := reconciler.Submit(ctx, cl, w, prov)
		if err != nil {
			fmt.Fprintf(io.err, "Error: %v (%d of %d submitted)\n", errors.Unwrap(err), len(submitted), len(w.Register)+len(w.Stop))
			return exitError
		}
		if code := waitRollouts(wctx, client, cl, submitted, opts, r, shown, i); code != exitOK {
			if rest := waveIDs(waves[i+1:]); len(rest) > 0 {
				fmt.Fprintf(progress, "Not started: %s (they depend on the rollout that failed).\n", strings.Join(rest, ", "))
			}
			return code
		}
	}
	return exitOK
}

// waveText names a wave's jobs and the jobs of earlier waves each waited
// for.
func waveText(w reconciler.Decision, deps *repo.Config, earlier []string) string {
	var parts []string
	for _, a := range w.Register {
		p := a.ID
		if after := deps.After(a.ID, earlier); len(after) > 0 {
			p += " (after " + strings.Join(after, ", ") + ")"
		}
		parts = append(parts, p)
	}
	for _, a := range w.Stop {
		parts = append(parts, "stop "+a.ID)
	}
	return strings.Join(parts, ", ")
}

func waveIDs(waves []reconciler.Decision) []string {
	var ids []string
	for _, w := range waves {
		for _, a := range w.Register {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// printReconcilePlan prints the plan: the cluster's specs of the
// source's jobs against the repository's.
func printReconcilePlan(opts reconcileOptions, desired *reconciler.Desired, d reconciler.Decision, jobs []*cluster.Job, c *gitsource.Commit, io stdio) int {
	old, next := map[string]*jobspec.Job{}, map[string]*jobspec.Job{}
	live := map[string]*cluster.Job{}
	for _, j := range jobs {
		if !j.Stop {
			live[j.ID] = j
		}
	}
	for _, dj := range desired.Jobs {
		next[dj.Spec.ID] = dj.Spec
		if j := live[dj.Spec.ID]; j != nil {
			old[dj.Spec.ID] = j.Spec
		}
	}
	for _, a := range d.Stop {
		old[a.ID] = live[a.ID].Spec
	}
	p := diff.Compute(old, next, diff.Options{Sensitive: desired.Sensitive})
	desired.Deps.OrderPlan(p)
	meta := render.Meta{Base: "cluster", Head: fmt.Sprintf("%s (%s)", opts.ref, shortSHA(c.SHA))}
	var err error
	switch {
	case opts.json:
		err = render.JSON(io.out, p, meta)
	case opts.markdown:
		err = render.Markdown(io.out, p, meta)
	default:
		err = render.Text(io.out, p, meta, isTerminal(io.out, io))
	}
	if err != nil {
		fmt.Fprintf(io.err, "Error: write plan: %v\n", err)
		return exitError
	}
	return exitOK
}

// openRef opens the repository and resolves the ref: a local checkout in
// place, a URL through a temporary single-branch mirror.
func openRef(ctx context.Context, opts reconcileOptions, io stdio) (*gitsource.Repository, *gitsource.Commit, string, func(), error) {
	nop := func() {}
	if gitsource.IsLocalPath(opts.repoArg) {
		g, err := gitsource.Open(opts.repoArg)
		if err != nil {
			return nil, nil, "", nop, err
		}
		c, err := g.Resolve(opts.ref)
		if err != nil {
			return nil, nil, "", nop, err
		}
		abs, _ := filepath.Abs(opts.repoArg)
		return g, c, abs, nop, nil
	}
	ref := opts.ref
	if ref == "HEAD" {
		ref = "main"
	}
	dir, err := os.MkdirTemp("", "drover-reconcile-")
	if err != nil {
		return nil, nil, "", nop, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	auth := gitsource.Auth{Token: io.getenv("DROVER_GIT_TOKEN")}
	m := gitsource.NewMirror(opts.repoArg, ref, filepath.Join(dir, "mirror"), auth)
	res, err := m.Sync(ctx)
	if err != nil {
		cleanup()
		return nil, nil, "", nop, err
	}
	g, err := m.Open()
	if err == nil {
		var c *gitsource.Commit
		if c, err = g.Resolve(res.Head); err == nil {
			return g, c, gitsource.RedactURL(opts.repoArg), cleanup, nil
		}
	}
	cleanup()
	return nil, nil, "", nop, err
}

// waitRollouts follows every submitted job of wave wi until all are
// healthy for minHealthy, one fails, or ctx ends, drawing the progress
// of every wave. Each round waits on a blocking query of the
// allocations, so it wakes when an agent reports.
func waitRollouts(ctx context.Context, client *api.Client, cl reconciler.APICluster, subs []reconciler.Submitted, opts reconcileOptions, r *progressRenderer, waves []progressWave, wi int) int {
	var jobs []reconciler.Submitted
	waves[wi].Jobs = waves[wi].Jobs[:0]
	for _, s := range subs {
		if !s.Unchanged {
			jobs = append(jobs, s)
			waves[wi].Jobs = append(waves[wi].Jobs, progressJob{ID: s.ID, Version: s.Version, Stop: s.Stop})
		}
	}
	var healthySince time.Time
	var index uint64
	for {
		all := true
		for i, s := range jobs {
			ro, err := cl.Rollout(ctx, s.Namespace, s.ID, s.Version)
			if err != nil {
				if ctx.Err() != nil {
					return rolloutTimeout(r, opts)
				}
				r.println("Error: " + apiErrorText(err, client.Address()))
				return exitError
			}
			h := reconciler.Assess(ro)
			waves[wi].Jobs[i].Rollout, waves[wi].Jobs[i].Health = &ro, h
			if h.State == reconciler.RolloutFailed {
				r.draw(progressLines(waves))
				r.println(fmt.Sprintf("Rollout failed: job %s: %s", s.ID, h.Reason))
				return exitRolloutFailed
			}
			all = all && h.State == reconciler.RolloutHealthy
		}
		r.draw(progressLines(waves))
		now := opts.clock()
		switch {
		case !all:
			healthySince = time.Time{}
		case healthySince.IsZero():
			healthySince = now
		case now.Sub(healthySince) >= opts.minHealthy:
			if wi < len(waves)-1 {
				return exitOK // the block shows it; the next wave starts
			}
			n := 0
			for _, w := range waves {
				n += len(w.Jobs)
			}
			if n == 1 {
				r.println("The rollout is healthy.")
			} else {
				r.println(fmt.Sprintf("All %d rollouts healthy.", n))
			}
			return exitOK
		}
		wait := 2 * time.Second
		if all {
			wait = max(opts.minHealthy-now.Sub(healthySince), 50*time.Millisecond)
		}
		_, meta, err := client.Allocations().List(ctx, &api.QueryOptions{WaitIndex: index, WaitTime: wait})
		if ctx.Err() != nil {
			return rolloutTimeout(r, opts)
		}
		if err == nil {
			index = meta.LastIndex
		}
	}
}

func rolloutTimeout(r *progressRenderer, opts reconcileOptions) int {
	r.println(fmt.Sprintf("Rollout failed: not healthy within --timeout %v", opts.timeout))
	return exitRolloutFailed
}
