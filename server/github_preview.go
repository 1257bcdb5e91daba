package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/forge/github"
	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/reconciler"
	"github.com/droverhq/drover/render"
	"github.com/droverhq/drover/repo"
	"github.com/droverhq/drover/scheduler"
	"github.com/droverhq/drover/state"
)

// prEvent is the part of a pull_request webhook a preview needs.
type prEvent struct {
	Action      string `json:"action"`
	Number      int    `json:"number"`
	PullRequest struct {
		Number int    `json:"number"`
		State  string `json:"state"`
		Base   struct {
			Ref  string `json:"ref"`
			SHA  string `json:"sha"`
			Repo *struct {
				FullName string `json:"full_name"`
			} `json:"repo"`
		} `json:"base"`
		Head struct {
			SHA  string `json:"sha"`
			Repo *struct {
				FullName string `json:"full_name"`
				Fork     bool   `json:"fork"`
			} `json:"repo"`
		} `json:"head"`
	} `json:"pull_request"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
}

func parsePullRequest(body []byte) (*prEvent, *gitsource.PushEvent, error) {
	var ev prEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, nil, fmt.Errorf("pull_request event: %w", err)
	}
	if ev.PullRequest.Number == 0 {
		ev.PullRequest.Number = ev.Number
	}
	if ev.PullRequest.Number <= 0 || ev.PullRequest.Head.SHA == "" || ev.PullRequest.Base.Ref == "" {
		return nil, nil, errors.New("pull_request event: no number, head sha or base ref")
	}
	// The repository fields have a push event's shape: reuse its
	// same-repository check.
	var repoOnly gitsource.PushEvent
	if err := json.Unmarshal(body, &repoOnly); err != nil {
		return nil, nil, fmt.Errorf("pull_request event: %w", err)
	}
	return &ev, &repoOnly, nil
}

// fromFork reports whether the PR's head lives in another repository
// than its base: a fork (or a deleted one, whose head repo is null).
// GitHub's head.repo.fork only says the head repository is some fork, which
// is true as well of a same-repository PR in a repository that is itself
// a fork, so the names decide.
func (ev *prEvent) fromFork() bool {
	head := ev.PullRequest.Head.Repo
	if head == nil {
		return true
	}
	base := ev.Repository.FullName
	if b := ev.PullRequest.Base.Repo; b != nil && b.FullName != "" {
		base = b.FullName
	}
	return !strings.EqualFold(head.FullName, base)
}

// forkNote is the comment a fork's pull request gets when its source does
// not allow them.
func forkNote(source string) string {
	return fmt.Sprintf("**Drover did not plan this pull request** for source `%s`: its head is in a fork, and the servers plan pull requests from forks only when the source allows it, because planning parses the PR's job files on the cluster's leader.\n\n"+
		"To plan pull requests from forks, set `allow_fork_prs = true` in the server configuration's `source %q` block and restart the servers; or plan it locally with `drover plan --repo . --base origin/main --head HEAD`.\n", source, source)
}

// previewActions are the pull_request actions that (re)plan.
var previewActions = []string{"opened", "synchronize", "reopened"}

// webhookPullRequest answers a verified pull_request webhook: for every
// source tracking the PR's base branch of this repository, a preview is
// queued (a newer push to the PR replaces a queued one) and 202 returned
// at once. Closed PRs and other actions are left alone.
func (s *Server) webhookPullRequest(w http.ResponseWriter, body []byte, verified []*source) error {
	ev, repoEv, err := parsePullRequest(body)
	if err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	if !slices.Contains(previewActions, ev.Action) || ev.PullRequest.State == "closed" {
		return s.webhookReply(w, http.StatusAccepted, api.WebhookResponse{Status: "ignored", Reason: "pull_request " + quoteOr(ev.Action) + " plans nothing"})
	}
	if !s.cfg.GitHub.Enabled() {
		return s.webhookReply(w, http.StatusAccepted, api.WebhookResponse{Status: "ignored", Reason: "no github token is configured: previews are off"})
	}
	var queued []string
	for _, src := range verified {
		if repoEv.SameRepo(src.cfg.URL) || s.cfg.GitHub.Repositories[src.cfg.Name] != "" && strings.EqualFold(s.cfg.GitHub.Repositories[src.cfg.Name], ev.Repository.FullName) {
			if ev.PullRequest.Base.Ref != src.cfg.Branch {
				continue
			}
			s.sources.previews.add(previewJob{source: src, event: *ev, fork: ev.fromFork()})
			queued = append(queued, src.cfg.Name)
		}
	}
	if len(queued) == 0 {
		return s.webhookReply(w, http.StatusAccepted, api.WebhookResponse{Status: "ignored", Reason: "no source tracks " + ev.PullRequest.Base.Ref + " of this repository"})
	}
	s.logger.Info("webhook: pull request", "number", ev.PullRequest.Number, "head", shortSHA(ev.PullRequest.Head.SHA), "fork", ev.fromFork(), "sources", queued)
	return s.webhookReply(w, http.StatusAccepted, api.WebhookResponse{Status: "accepted", Sources: queued})
}

// previewJob is one preview to make.
type previewJob struct {
	source *source
	event  prEvent
	// fork: the head is in a fork; planned only if the source allows it.
	fork bool
}

type previewKey struct {
	source string
	pr     int
}

// previewQueue holds the previews waiting for the leader's worker: one
// per source and PR, the newest push winning.
type previewQueue struct {
	mu    sync.Mutex
	jobs  map[previewKey]previewJob
	order []previewKey
	wake  chan struct{}
}

func newPreviewQueue() *previewQueue {
	return &previewQueue{jobs: map[previewKey]previewJob{}, wake: make(chan struct{}, 1)}
}

// maxQueuedPreviews bounds the queue; beyond it the oldest is dropped.
const maxQueuedPreviews = 256

func (q *previewQueue) add(j previewJob) {
	k := previewKey{j.source.cfg.Name, j.event.PullRequest.Number}
	q.mu.Lock()
	if _, ok := q.jobs[k]; !ok {
		q.order = append(q.order, k)
		if len(q.order) > maxQueuedPreviews {
			delete(q.jobs, q.order[0])
			q.order = q.order[1:]
		}
	}
	q.jobs[k] = j
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *previewQueue) next() (previewJob, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		return previewJob{}, false
	}
	k := q.order[0]
	q.order = q.order[1:]
	j := q.jobs[k]
	delete(q.jobs, k)
	return j, true
}

// runPreviews is the leader's preview worker.
func (s *Server) runPreviews(ctx context.Context, gh *github.Client, log *slog.Logger) {
	q := s.sources.previews
	for {
		for {
			j, ok := q.next()
			if !ok || ctx.Err() != nil {
				break
			}
			s.preview(ctx, gh, j, log)
		}
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		}
	}
}

// previewTimeout bounds one preview, GitHub calls included.
const previewTimeout = 2 * time.Minute

// preview plans a PR's head against the live cluster, upserts the comment
// and sets drover/plan. Failures are logged; nothing is retried but a
// newer push.
func (s *Server) preview(ctx context.Context, gh *github.Client, j previewJob, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, previewTimeout)
	defer cancel()
	ev, cfg := j.event, j.source.cfg
	owner, name, ok := s.cfg.GitHub.githubRepo(cfg.Name, cfg.URL)
	if !ok {
		owner, name, ok = splitRepo(ev.Repository.FullName)
	}
	log = log.With("source", cfg.Name, "pr", ev.PullRequest.Number, "head", shortSHA(ev.PullRequest.Head.SHA))
	if !ok {
		log.Warn("preview skipped: no GitHub repository for the source")
		return
	}
	if j.fork && !cfg.AllowForkPRs {
		// Neither fetched nor parsed: a note says why and how to allow it.
		pc := github.PlanComment{Source: cfg.Name}
		res, err := gh.UpsertComment(ctx, owner, name, ev.PullRequest.Number, pc.Marker(), forkNote(cfg.Name))
		if err != nil {
			log.Warn("post fork note", "err", err)
			return
		}
		log.Info("preview skipped: pull request from a fork (allow_fork_prs is off)", "comment", res.URL)
		return
	}
	pc, err := s.planPreview(ctx, j)
	if err != nil {
		log.Warn("preview failed", "err", gitsource.ScrubString(err.Error()))
		st := github.Status{Context: github.ContextPlan, State: github.StateError, Description: "Drover could not plan this commit: " + gitsource.ScrubString(err.Error())}
		if serr := gh.SetStatus(ctx, owner, name, ev.PullRequest.Head.SHA, st); serr != nil {
			log.Warn("set plan status", "err", serr)
		}
		return
	}
	body, err := pc.Body()
	if err != nil {
		log.Warn("render preview", "err", err)
		return
	}
	res, err := gh.UpsertComment(ctx, owner, name, ev.PullRequest.Number, pc.Marker(), body)
	if err != nil {
		log.Warn("post preview comment", "err", err)
		return
	}
	if err := gh.SetStatus(ctx, owner, name, ev.PullRequest.Head.SHA, pc.Status(res.URL)); err != nil {
		log.Warn("set plan status", "err", err)
		return
	}
	log.Info("preview posted", "comment", res.URL, "created", res.Created)
}

// planPreview loads the PR head from the source repository and plans it
// against the jobs the cluster runs for the source, with a scheduler dry
// run of every created or updated job.
func (s *Server) planPreview(ctx context.Context, j previewJob) (github.PlanComment, error) {
	ev, cfg := j.event, j.source.cfg
	pc := github.PlanComment{Source: cfg.Name, DryRun: true}
	g, c, err := s.previewHead(ctx, j)
	if err != nil {
		return pc, err
	}
	src := g.Snapshot(c)
	if cfg.Path != "" {
		src = g.SnapshotDir(c, cfg.Path)
	}
	r, err := repo.NewLoader(repo.LoadOptions{}).Load(ctx, src)
	if err != nil {
		return pc, err
	}
	pc.Meta = render.Meta{Base: "live cluster", Head: fmt.Sprintf("#%d (%s)", ev.PullRequest.Number, shortSHA(c.SHA))}
	pc.Diagnostics = render.DiagnosticsJSON(r.Diagnostics)
	if cfg.Path != "" {
		for i := range pc.Diagnostics {
			if rg := pc.Diagnostics[i].Range; rg != nil {
				rg.Filename = cfg.Path + "/" + rg.Filename
			}
		}
	}
	if r.HasErrors() {
		return pc, nil
	}
	snap := s.raft.Store().Snapshot()
	live := map[string]*jobspec.Job{}
	for _, job := range snap.Jobs() {
		if job.Source != nil && job.Source.Name == cfg.Name && !job.Stop && job.Spec != nil {
			live[job.ID] = job.Spec
		}
	}
	desired := r.JobMap()
	for id, spec := range desired {
		// A group with a scaling block keeps its live count when the
		// commit is applied (reconciler.OwnedCounts): no count change to
		// preview. A group without one shows the scaled count going back.
		if l := live[id]; l != nil {
			desired[id], _ = reconciler.OwnedCounts(spec, l)
		}
	}
	pc.Meta.NotLaunched = render.NotLaunchedNotes(desired)
	sealed, sealedDiags := s.previewSealed(ctx, cfg.Name, r) // seal_key.go
	pc.Meta.Sealed = sealed
	pc.Diagnostics = append(pc.Diagnostics, render.DiagnosticsJSON(sealedDiags)...)
	pc.Plan = diff.Compute(live, desired, diff.Options{Sensitive: r.Config.Sensitive})
	r.Config.OrderPlan(pc.Plan)
	now := time.Now()
	for _, jd := range pc.Plan.Jobs {
		spec := desired[jd.ID]
		if spec == nil {
			continue // stopped
		}
		if ok, _ := launchable(spec); !ok {
			continue
		}
		pc.Placements = append(pc.Placements, dryRun(snap, spec, now)...)
	}
	return pc, nil
}

// previewHead opens the repository holding the PR's head and resolves
// it: a local source is read in place, a remote one has refs/pull/N/head
// fetched into a mirror of its own (the reconciler owns the source's
// mirror, and the preview worker is the only user of this one).
func (s *Server) previewHead(ctx context.Context, j previewJob) (*gitsource.Repository, *gitsource.Commit, error) {
	ev, cfg := j.event, j.source.cfg
	prRef := fmt.Sprintf("refs/pull/%d/head", ev.PullRequest.Number)
	var g *gitsource.Repository
	if cfg.Local() {
		var err error
		if g, err = gitsource.Open(cfg.URL); err != nil {
			return nil, nil, err
		}
		if c, err := g.Resolve(ev.PullRequest.Head.SHA); err == nil {
			return g, c, nil
		}
	} else {
		auth, err := cfg.ReadAuth()
		if err != nil {
			return nil, nil, err
		}
		m := gitsource.NewMirror(cfg.URL, cfg.Branch, filepath.Join(s.cfg.DataDir, "sources", "previews", cfg.Name+".git"), auth)
		if _, err := m.FetchRef(ctx, prRef); err != nil {
			return nil, nil, fmt.Errorf("cannot read the head of pull request #%d: %w", ev.PullRequest.Number, err)
		}
		if g, err = m.Open(); err != nil {
			return nil, nil, err
		}
	}
	// The event's head may not be in the repository yet: the PR ref.
	c, err := g.Resolve(prRef)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read the head of pull request #%d: %w", ev.PullRequest.Number, err)
	}
	if c.SHA != ev.PullRequest.Head.SHA {
		return nil, nil, fmt.Errorf("%s is %s, not the event's %s", prRef, shortSHA(c.SHA), shortSHA(ev.PullRequest.Head.SHA))
	}
	return g, c, nil
}

// dryRun schedules spec against snap without committing anything and
// returns one line per task group that could not be placed.
func dryRun(snap *state.Snapshot, spec *jobspec.Job, now time.Time) []string {
	ns := jobNamespace(spec)
	proposed := &cluster.Job{Namespace: ns, ID: spec.ID, Spec: spec, Hash: spec.Hash(), Status: cluster.JobStatusPending,
		JobModifyIndex: snap.Index() + 1, SubmitTime: now}
	if cur := snap.Job(ns, spec.ID); cur != nil {
		proposed.Version, proposed.CreateIndex = cur.Version+1, cur.CreateIndex
	}
	eval := &cluster.Evaluation{
		ID: newID(), Namespace: ns, JobID: spec.ID, Type: spec.Type, Priority: evalPriority(spec),
		TriggeredBy: cluster.EvalTriggerJobRegister, Status: cluster.EvalStatusPending, JobModifyIndex: proposed.JobModifyIndex,
	}
	plan, err := scheduler.Process(&proposedState{Snapshot: snap, job: proposed}, eval, schedulerOptions(now))
	if err != nil {
		return []string{fmt.Sprintf("%s: dry run failed: %v", spec.ID, err)}
	}
	var out []string
	groups := make([]string, 0, len(plan.FailedTGAllocs))
	for g := range plan.FailedTGAllocs {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	for _, g := range groups {
		out = append(out, fmt.Sprintf("%s/%s: %s", spec.ID, g, strings.Join(scheduler.Explain(g, plan.FailedTGAllocs[g]), "; ")))
	}
	return out
}
