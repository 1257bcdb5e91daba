package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/forge/github"
	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/render"
	"github.com/droverhq/drover/repo"
)

// prEvent is the part of a GitHub Actions pull_request event we read.
type prEvent struct {
	Action      string `json:"action"`
	Number      int    `json:"number"`
	PullRequest *struct {
		Number int `json:"number"`
		Base   struct {
			Ref  string `json:"ref"`
			SHA  string `json:"sha"`
			Repo struct {
				FullName string `json:"full_name"`
			} `json:"repo"`
		} `json:"base"`
		Head struct {
			Ref  string `json:"ref"`
			SHA  string `json:"sha"`
			Repo *struct {
				FullName string `json:"full_name"`
			} `json:"repo"`
		} `json:"head"`
	} `json:"pull_request"`
}

// githubCI is what a GitHub Actions job tells drover plan --github-comment.
type githubCI struct {
	owner, repo string
	token       string
	apiURL      string
	event       prEvent
	fork        bool
}

func readGitHubCI(io stdio) (githubCI, error) {
	var ci githubCI
	path := io.getenv("GITHUB_EVENT_PATH")
	if path == "" {
		return ci, errors.New("GITHUB_EVENT_PATH is not set: --github-comment runs inside a GitHub Actions job triggered by pull_request")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ci, fmt.Errorf("read the event: %w", err)
	}
	if err := json.Unmarshal(b, &ci.event); err != nil {
		return ci, fmt.Errorf("parse the event %s: %w", path, err)
	}
	pr := ci.event.PullRequest
	if pr == nil {
		return ci, fmt.Errorf("%s is not a pull_request event (no pull_request field)", path)
	}
	if pr.Number == 0 {
		pr.Number = ci.event.Number
	}
	if pr.Number <= 0 || pr.Base.SHA == "" || pr.Head.SHA == "" {
		return ci, fmt.Errorf("%s: the pull_request lacks a number, base.sha or head.sha", path)
	}
	full := io.getenv("GITHUB_REPOSITORY")
	if full == "" {
		full = pr.Base.Repo.FullName
	}
	owner, name, ok := strings.Cut(full, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return ci, fmt.Errorf("GITHUB_REPOSITORY %q is not owner/name", full)
	}
	ci.owner, ci.repo = owner, name
	ci.fork = pr.Head.Repo == nil || !strings.EqualFold(pr.Head.Repo.FullName, pr.Base.Repo.FullName)
	ci.token, err = github.TokenFrom(io.getenv("DROVER_GITHUB_TOKEN_FILE"), "GITHUB_TOKEN", io.getenv)
	if err != nil {
		return ci, fmt.Errorf("%w (pass secrets.GITHUB_TOKEN to the step's env)", err)
	}
	ci.apiURL = io.getenv("GITHUB_API_URL")
	return ci, nil
}

// planGitHub is drover plan --github-comment: plan the pull request of
// the Actions event offline (base SHA vs head SHA, read from the local
// clone), upsert the plan comment and set the drover/plan status on the
// head commit.
func planGitHub(ctx context.Context, opts planOptions, io stdio) int {
	ci, err := readGitHubCI(io)
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	pr := ci.event.PullRequest
	if ci.event.Action == "closed" {
		fmt.Fprintf(io.out, "Pull request #%d is closed: its plan comment is left as it is.\n", pr.Number)
		return exitOK
	}
	cfg := github.DefaultConfig()
	if ci.apiURL != "" {
		cfg.APIURL = ci.apiURL
	}
	cfg.Token = ci.token
	cfg.Timeout = opts.githubTimeout
	gh, err := github.New(cfg)
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}

	var pc github.PlanComment
	if opts.live(io) {
		pc, err = planPullRequestLive(ctx, opts, pr.Number, pr.Head.SHA, io)
	} else {
		pc, err = planPullRequest(ctx, opts, pr.Base.SHA, pr.Head.SHA, io)
	}
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		if ci.fork {
			fmt.Fprintln(io.err, "Hint: the head of this pull request is in a fork; check out with fetch-depth: 0 so its commit is in the clone.")
		}
		return exitError
	}
	body, err := pc.Body()
	if err != nil {
		fmt.Fprintf(io.err, "Error: render the plan: %v\n", err)
		return exitError
	}
	// The plan goes to the job log and the step summary too, so it can be
	// read even when the token may not comment (a fork's read-only token).
	fmt.Fprint(io.out, body)
	if p := io.getenv("GITHUB_STEP_SUMMARY"); p != "" {
		if f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			_, _ = f.WriteString(body + "\n")
			_ = f.Close()
		}
	}

	res, err := gh.UpsertComment(ctx, ci.owner, ci.repo, pr.Number, pc.Marker(), body)
	if err != nil {
		fmt.Fprintf(io.err, "Error: post the plan comment on %s/%s#%d: %v\n", ci.owner, ci.repo, pr.Number, err)
		if errors.Is(err, github.ErrPermission) {
			fmt.Fprintln(io.err, "Hint: the job needs 'permissions: pull-requests: write, statuses: write'; pull requests from forks get a read-only GITHUB_TOKEN (the plan is in the step summary).")
		}
		return exitError
	}
	verb := "unchanged"
	switch {
	case res.Created:
		verb = "posted"
	case res.Updated:
		verb = "updated"
	}
	fmt.Fprintf(io.err, "Plan comment %s: %s\n", verb, res.URL)
	if err := gh.SetStatus(ctx, ci.owner, ci.repo, pr.Head.SHA, pc.Status(res.URL)); err != nil {
		fmt.Fprintf(io.err, "Error: set the %s status on %s: %v\n", github.ContextPlan, shortSHA(pr.Head.SHA), err)
		return exitError
	}
	if pc.Invalid() {
		return exitError
	}
	return exitOK
}

// planPullRequest plans head against base, both read from the local
// clone, into a comment. Invalid job files on the head side are a comment
// with their diagnostics, not an error.
func planPullRequest(ctx context.Context, opts planOptions, baseSHA, headSHA string, io stdio) (github.PlanComment, error) {
	pc := github.PlanComment{Source: opts.source}
	g, err := gitsource.Open(opts.repoDir)
	if err != nil {
		return pc, err
	}
	loader := repo.NewLoader(repo.LoadOptions{Vars: opts.vars, VarFiles: opts.varFiles, Environ: io.env})
	if opts.base != "" {
		baseSHA = opts.base
	}
	if opts.head != "" {
		headSHA = opts.head
	}
	head, err := loadCommit(ctx, g, loader, headSHA)
	if err != nil {
		return pc, fmt.Errorf("the pull request's head: %w", err)
	}
	base, err := loadCommit(ctx, g, loader, baseSHA)
	if err != nil {
		return pc, fmt.Errorf("the pull request's base: %w", err)
	}
	pc.Meta = render.Meta{Base: base.label, Head: head.label}
	pc.Diagnostics = render.DiagnosticsJSON(head.repo.Diagnostics)
	writeDiagnostics(head.repo, io)
	if head.repo.HasErrors() {
		return pc, nil
	}
	// Jobs that do not load on the base side are planned as new, as in
	// drover plan.
	pc.Plan = diff.Compute(base.repo.JobMap(), head.repo.JobMap(), diff.Options{Sensitive: head.repo.Config.Sensitive})
	head.repo.Config.OrderPlan(pc.Plan)
	pc.Meta.NotLaunched = render.NotLaunchedNotes(head.repo.JobMap())
	return pc, nil
}

// live reports whether --github-comment plans against a server: with
// -address or DROVER_ADDR; offline (base vs head) otherwise.
func (o planOptions) live(io stdio) bool {
	return o.client.address != "" || io.getenv("DROVER_ADDR") != ""
}

// planPullRequestLive plans the PR's head, read from the local clone,
// against the jobs a live server runs: the managed jobs of --source when
// the cluster has any, every managed (Git-sourced) job otherwise. Every
// created or updated job gets a scheduler dry run on the server
// (Jobs().Plan); placements that would fail are listed in the comment.
func planPullRequestLive(ctx context.Context, opts planOptions, number int, headSHA string, io stdio) (github.PlanComment, error) {
	pc := github.PlanComment{Source: opts.source, DryRun: true}
	client, ok := opts.client.newClient(io)
	if !ok {
		return pc, errors.New("no API client")
	}
	addr := client.Address()
	apiErr := func(what string, err error) error {
		return fmt.Errorf("%s: %s", what, apiErrorText(err, addr))
	}
	g, err := gitsource.Open(opts.repoDir)
	if err != nil {
		return pc, err
	}
	if opts.head != "" {
		headSHA = opts.head
	}
	loader := repo.NewLoader(repo.LoadOptions{Vars: opts.vars, VarFiles: opts.varFiles, Environ: io.env})
	head, err := loadCommit(ctx, g, loader, headSHA)
	if err != nil {
		return pc, fmt.Errorf("the pull request's head: %w", err)
	}
	pc.Meta = render.Meta{Base: "live cluster (" + addr + ")", Head: fmt.Sprintf("#%d %s", number, head.label)}
	pc.Diagnostics = render.DiagnosticsJSON(head.repo.Diagnostics)
	writeDiagnostics(head.repo, io)
	if head.repo.HasErrors() {
		return pc, nil
	}

	stubs, _, err := client.Jobs().List(ctx, nil)
	if err != nil {
		return pc, apiErr("list the cluster's jobs", err)
	}
	var managed, ofSource []*api.JobListStub
	for _, st := range stubs {
		if st.Source == nil || st.Stop {
			continue
		}
		managed = append(managed, st)
		if st.Source.Name == opts.source {
			ofSource = append(ofSource, st)
		}
	}
	if len(ofSource) > 0 {
		managed = ofSource
	}
	live := map[string]*jobspec.Job{}
	for _, st := range managed {
		job, _, err := client.Jobs().Info(ctx, st.ID, nil)
		if api.IsNotFound(err) {
			continue // stopped or purged since the listing
		}
		if err != nil {
			return pc, apiErr("read job "+st.ID, err)
		}
		if job.Spec != nil && !job.Stop {
			live[job.ID] = job.Spec
		}
	}
	desired := head.repo.JobMap()
	pc.Plan = diff.Compute(live, desired, diff.Options{Sensitive: head.repo.Config.Sensitive})
	head.repo.Config.OrderPlan(pc.Plan)
	pc.Meta.NotLaunched = render.NotLaunchedNotes(desired)
	for _, jd := range pc.Plan.Jobs {
		spec := desired[jd.ID]
		if spec == nil {
			continue // stopped
		}
		resp, err := client.Jobs().Plan(ctx, spec)
		if err != nil {
			pc.Placements = append(pc.Placements, fmt.Sprintf("%s: dry run failed: %s", jd.ID, apiErrorText(err, addr)))
			continue
		}
		groups := make([]string, 0, len(resp.FailedTGAllocs))
		for tg := range resp.FailedTGAllocs {
			groups = append(groups, tg)
		}
		slices.Sort(groups)
		for _, tg := range groups {
			why := resp.Explanations[tg]
			if len(why) == 0 {
				why = []string{"cannot be placed"}
			}
			pc.Placements = append(pc.Placements, fmt.Sprintf("%s/%s: %s", jd.ID, tg, strings.Join(why, "; ")))
		}
	}
	return pc, nil
}

const defaultGitHubTimeout = 15 * time.Second
