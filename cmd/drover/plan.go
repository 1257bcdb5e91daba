package main

import (
	"context"
	"fmt"
	"time"

	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/render"
	"github.com/droverhq/drover/repo"
)

const planHelp = `
Usage: drover plan [options]

Show what a change to the job repository would do: which jobs would be
created, updated or stopped, the field-level diff of every changed job,
and whether each change can be applied in place or forces allocations to
be replaced ("forces create/destroy update"). Both sides are read straight
from Git: no checkout and no cluster are needed.

  --base REF --head REF   compare two commits (branches, tags, SHAs, HEAD~1)
  --base REF              compare REF with the working tree
  (neither)               compare HEAD with the working tree
  --head REF              compare REF~1 with REF

Values of env keys and templates that look secret (TOKEN, SECRET,
PASSWORD, KEY, or listed under 'sensitive' in drover.hcl) are masked.

A created or updated periodic or parameterized job carries a note: Drover
stores such jobs but does not launch them yet ("not_launched" in -json).

Examples:
  drover plan --repo . --base HEAD~1 --head HEAD
  drover plan --base origin/main --head HEAD -markdown > plan.md
  drover plan -json | jq '.summary'

GitHub Actions (--github-comment): reads GITHUB_EVENT_PATH (a
pull_request event), GITHUB_REPOSITORY, GITHUB_TOKEN (or a file named by
DROVER_GITHUB_TOKEN_FILE) and GITHUB_API_URL (GitHub Enterprise), plans
the PR's base SHA against its head SHA from the local clone (check out
with fetch-depth: 0), upserts one comment per PR and --source (found by
a hidden marker) and sets the drover/plan status on the head commit.
See examples/github-actions/drover-plan.yml.

  drover plan --github-comment --source prod

With -address (or DROVER_ADDR), --github-comment plans the PR's head
against the live cluster instead: the managed jobs of --source (every
Git-managed job when the cluster has none of that source), with the
server's scheduler dry run of each created or updated job; placements
that would fail are called out in the comment. -token (or DROVER_TOKEN)
is the API token; nothing is submitted.

  drover plan --github-comment --source prod -address https://drover:4747

Exit codes: 0 no changes, 2 changes present, 1 error (for example an
invalid job file on the head side). With --github-comment: 0 when the
comment and status were posted, 1 when the head's job files are invalid
or GitHub refused or failed.
`

type planOptions struct {
	repoDir  string
	base     string
	head     string
	vars     map[string]string
	varFiles []string
	json     bool
	markdown bool

	// --github-comment (plan_github.go)
	githubComment bool
	source        string
	githubTimeout time.Duration
	// client: with -address (or DROVER_ADDR), --github-comment plans
	// against that server instead of offline.
	client clientOptions
}

func runPlan(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("plan", planHelp, io)
	opts := planOptions{vars: kvFlag{}}
	fs.StringVar(&opts.repoDir, "repo", ".", "the Git repository (any folder inside it)")
	fs.StringVar(&opts.base, "base", "", "the `REF` whose jobs are the current desired state (default HEAD, or HEAD's parent with --head)")
	fs.StringVar(&opts.head, "head", "", "the `REF` whose jobs are the proposed desired state (default: the working tree)")
	fs.Var(kvFlag(opts.vars), "var", "set a variable: `name=value` (repeatable)")
	fs.Var((*listFlag)(&opts.varFiles), "var-file", "read variables from an HCL `file` (repeatable)")
	fs.BoolVar(&opts.json, "json", false, "print the plan as JSON (schema: render/SCHEMA.md)")
	fs.BoolVar(&opts.markdown, "markdown", false, "print the plan as Markdown, as posted on pull requests")
	fs.BoolVar(&opts.githubComment, "github-comment", false, "in a GitHub Actions pull_request job: plan the PR's base against its head and upsert the plan comment and the drover/plan status")
	fs.StringVar(&opts.source, "source", "default", "with --github-comment: the source `NAME` in the comment's marker (one comment per PR and source)")
	fs.DurationVar(&opts.githubTimeout, "github-timeout", defaultGitHubTimeout, "with --github-comment: timeout of each GitHub API call")
	opts.client.register(fs)
	pos, code, done := parseFlags(fs, args, io)
	if done {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(io.err, "Error: unexpected argument %q: use --repo DIR, --base REF and --head REF\n", pos[0])
		return exitError
	}
	if opts.json && opts.markdown {
		fmt.Fprintln(io.err, "Error: choose one of -json and -markdown")
		return exitError
	}
	if opts.githubComment {
		if opts.json || opts.markdown {
			fmt.Fprintln(io.err, "Error: --github-comment prints Markdown already; drop -json and -markdown")
			return exitError
		}
		return planGitHub(ctx, opts, io)
	}
	if opts.client.address != "" || opts.client.token != "" || opts.client.fileToken != "" {
		fmt.Fprintln(io.err, "Error: -address and -token are for --github-comment; drover plan reads both sides from Git (drover job plan asks a server)")
		return exitError
	}
	return plan(ctx, opts, io)
}

// planSide is one side of a plan: its label and its loaded repository
// (nil for an empty side, such as the parent of a root commit).
type planSide struct {
	label string
	repo  *repo.Repo
}

func plan(ctx context.Context, opts planOptions, io stdio) int {
	g, err := gitsource.Open(opts.repoDir)
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	loader := repo.NewLoader(repo.LoadOptions{Vars: opts.vars, VarFiles: opts.varFiles, Environ: io.env, CheckConfig: configChecker()})

	head, err := loadHead(ctx, g, loader, opts.head)
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	baseRef, defaulted := opts.base, false
	if baseRef == "" {
		baseRef, defaulted = "HEAD", true
		if opts.head != "" {
			baseRef = opts.head + "~1"
		}
	}
	base, err := loadCommit(ctx, g, loader, baseRef)
	if err != nil {
		if !defaulted {
			fmt.Fprintf(io.err, "Error: %v\n", err)
			return exitError
		}
		// A root commit or a repository with no commits yet: everything on
		// the head side is new.
		base = planSide{label: "empty repository (" + baseRef + " does not exist)"}
	}

	if head.repo.HasErrors() {
		writeDiagnostics(head.repo, io)
		fmt.Fprintf(io.err, "Error: %s has invalid job files (above); nothing can be planned until they are fixed.\n", head.label)
		return exitError
	}
	writeDiagnostics(head.repo, io)
	old := map[string]*jobspec.Job{}
	if base.repo != nil {
		if base.repo.HasErrors() {
			fmt.Fprintf(io.err, "Warning: %s has invalid job files; jobs that did not load there are planned as new:\n", base.label)
			writeDiagnostics(base.repo, io)
		}
		old = base.repo.JobMap()
	}

	p := diff.Compute(old, head.repo.JobMap(), diff.Options{Sensitive: head.repo.Config.Sensitive})
	head.repo.Config.OrderPlan(p)
	meta := render.Meta{Base: base.label, Head: head.label, NotLaunched: render.NotLaunchedNotes(head.repo.JobMap())}
	if base.repo != nil {
		meta.Sealed = sealedPlanNotes(base.repo.Sealed, head.repo.Sealed, head.repo.Config.Prune) // var_seal.go
	} else {
		meta.Sealed = sealedPlanNotes(nil, head.repo.Sealed, head.repo.Config.Prune)
	}
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
	if p.HasChanges() || len(meta.Sealed) > 0 {
		return exitChanges
	}
	return exitOK
}

func loadHead(ctx context.Context, g *gitsource.Repository, loader *repo.Loader, ref string) (planSide, error) {
	if ref != "" {
		return loadCommit(ctx, g, loader, ref)
	}
	r, err := loader.Load(ctx, repo.DirSource(g.Root()))
	if err != nil {
		return planSide{}, fmt.Errorf("load the working tree %s: %w", g.Root(), err)
	}
	return planSide{label: "working tree", repo: r}, nil
}

func loadCommit(ctx context.Context, g *gitsource.Repository, loader *repo.Loader, ref string) (planSide, error) {
	c, err := g.Resolve(ref)
	if err != nil {
		return planSide{}, err
	}
	label := fmt.Sprintf("%s (%s)", ref, shortSHA(c.SHA))
	r, err := loader.Load(ctx, g.Snapshot(c))
	if err != nil {
		return planSide{}, fmt.Errorf("load %s: %w", label, err)
	}
	return planSide{label: label, repo: r}, nil
}

// writeDiagnostics prints a repository's diagnostics to stderr, where
// they do not mix with a plan or JSON on stdout.
func writeDiagnostics(r *repo.Repo, io stdio) {
	if len(r.Diagnostics) == 0 {
		return
	}
	_ = render.DiagnosticsText(io.err, r.Diagnostics, r.Sources, isTerminal(io.err, io))
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
