package reconciler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/render"
	"github.com/droverhq/drover/repo"
)

// Reconciler keeps one source's cluster state at its branch's newest
// commit. Pass runs the steps once; Run loops on triggers.
type Reconciler struct {
	cfg      SourceConfig
	fetcher  Fetcher
	cluster  Cluster
	status   StatusStore
	notifier DeployNotifier
	logger   *slog.Logger
	clock    func() time.Time
	observer Observer // nil: no metrics (observe.go)

	loader *repo.Loader
	hashes *HashCache
	// prev caches the job hashes of the last applied commit, by SHA: the
	// base that tells a commit's own changes from drift.
	prevSHA    string
	prevHashes map[string]string
	// inflight is what earlier passes submitted of a commit rolled out
	// in waves, by job ID.
	inflightSHA string // inflightKey of the commit and attempt
	inflight    map[string]Submitted
	// lastFetch is reused by a pass that only re-checks a rollout in
	// waves (reuseFetch): looking at the remote every second for the
	// length of a rollout would be a ref listing a second against the
	// forge. A kick or the poll interval fetches again.
	lastFetch   *Fetched
	lastFetchAt time.Time
	reuseFetch  bool
}

// Options are a Reconciler's collaborators.
type Options struct {
	Fetcher Fetcher
	Cluster Cluster
	Status  StatusStore
	Logger  *slog.Logger
	// Clock is time.Now unless a test sets it.
	Clock func() time.Time
	// Notifier, when set, hears of each commit's deploy (commit
	// statuses); it must not block.
	Notifier DeployNotifier
	// Observer, when set, hears step durations and commit outcomes
	// (metrics; observe.go).
	Observer Observer
}

// New returns a Reconciler of the source.
func New(cfg SourceConfig, o Options) *Reconciler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return &Reconciler{
		cfg: cfg, fetcher: o.Fetcher, cluster: o.Cluster, status: o.Status, clock: o.Clock, notifier: o.Notifier, observer: o.Observer,
		logger: o.Logger.With("source", cfg.Name),
		loader: repo.NewLoader(repo.LoadOptions{}),
		hashes: &HashCache{},
	}
}

// Outcomes of a pass, besides the commit outcomes of package cluster.
const (
	PassApplied   = cluster.CommitApplied
	PassRejected  = cluster.CommitRejected
	PassUnchanged = "unchanged" // nothing to submit
	PassHealed    = "healed"    // the commit was applied before; drift put back
	PassHeld      = "held"      // the commit's rollout failed: not retried until a new commit
	// PassWaiting: some jobs were submitted (or none yet), others wait
	// for the rollout of jobs they depend on; the next pass goes on.
	PassWaiting = cluster.CommitRollingOut
	// PassFailed: a dependency's rollout failed, so the jobs that wait
	// for it are not rolled out; the commit is recorded as failed.
	PassFailed = cluster.CommitFailed
)

// PassResult is what one pass did.
type PassResult struct {
	Commit      string
	Subject     string
	Outcome     string
	Transferred bool
	Decision    Decision
	Submitted   []Submitted
	// Errors are a rejected commit's reasons.
	Errors []string
	// Holds are the jobs that wait for their dependencies.
	Holds []Hold
	// Retry numbers the `drover sync retry` attempt the pass applied (0:
	// the commit's first application).
	Retry int
	// Progressing is the applied commit's outcome while its rollout is
	// not yet healthy: the loop follows its Rollouts (also after a new
	// leader took over).
	Progressing *cluster.CommitOutcome
	// Corrected is set when the pass found a commit recorded failed
	// healthy after all, and corrected the record.
	Corrected string
}

// Pass runs the steps once. Its error is a *StepError; failures are also
// recorded in the source's status.
func (r *Reconciler) Pass(ctx context.Context) (PassResult, error) {
	prev, err := r.status.SyncStatus(ctx, r.cfg.Name)
	if err != nil {
		return PassResult{}, stepErr("resume", Waiting, err)
	}
	start := time.Now()
	res, st, err := r.pass(ctx, prev)
	if r.observer != nil {
		outcome := res.Outcome
		if err != nil && !IsRejected(err) {
			outcome = ""
		}
		r.observer.ReconcilePass(r.cfg.Name, outcome, time.Since(start))
	}
	now := r.clock()
	if err != nil && !IsRejected(err) {
		st.Error, st.ErrorAt = gitsource.ScrubString(err.Error()), now
		r.logger.Warn("reconcile pass did not complete", "err", st.Error, "kind", KindOf(err))
	} else {
		st.Error, st.ErrorAt = "", time.Time{}
	}
	if !sameStatus(prev, st) {
		if perr := r.status.PutSyncStatus(ctx, &st); perr != nil {
			// A conflict (the deployment watcher recorded a failure
			// meanwhile) is Waiting too: the next pass starts from it.
			return res, errors.Join(err, stepErr("record", Waiting, perr))
		}
		r.observeOutcome(prev, &st)
	}
	return res, err
}

// pass runs fetch → load → observe → decide → submit and returns the
// status to record.
func (r *Reconciler) pass(ctx context.Context, prev *cluster.SyncStatus) (PassResult, cluster.SyncStatus, error) {
	st := cloneStatus(prev, r.cfg.Name, gitsource.RedactURL(r.cfg.URL), r.cfg.Branch)
	now := r.clock()

	f := r.lastFetch
	if !r.reuseFetch || f == nil || now.Sub(r.lastFetchAt) >= r.cfg.PollInterval {
		var err error
		fetchStart := time.Now()
		f, err = r.fetcher.Fetch(ctx)
		r.observeStep(stepFetch, fetchStart)
		if err != nil {
			r.lastFetch = nil
			return PassResult{}, st, err
		}
		r.lastFetch, r.lastFetchAt = f, now
	} else {
		f = &Fetched{Repo: f.Repo, Commit: f.Commit, Files: f.Files} // nothing transferred this time
	}
	r.reuseFetch = false
	c := f.Commit
	res := PassResult{Commit: c.SHA, Subject: c.Subject, Transferred: f.Transferred}
	st.LastSeen = c.SHA
	log := r.logger.With("commit", shortSHA(c.SHA))
	if st.Retry != nil && st.Retry.Commit != c.SHA {
		st.Retry = nil // a newer commit arrived: it is applied instead
	}

	loadStart := time.Now()
	desired, err := Load(ctx, r.loader, r.hashes, f.Files, r.cfg.Path)
	r.observeStep(stepLoad, loadStart)
	if err != nil {
		if !IsRejected(err) {
			r.fetcher.Reset()
			r.lastFetch = nil
			return res, st, err
		}
		var se *StepError
		errors.As(err, &se)
		res.Outcome, res.Errors = PassRejected, se.Errors
		st = withOutcome(st, cluster.CommitOutcome{Commit: c.SHA, Subject: c.Subject, Outcome: cluster.CommitRejected, Time: now, Errors: se.Errors})
		log.Warn("commit rejected: invalid files", "errors", len(se.Errors), "first", se.Errors[0])
		return res, st, err
	}

	st.NotLaunched = notLaunched(desired)
	st.Sensitive = slices.Clone(desired.Sensitive)
	decideStart := time.Now()
	previous := r.previous(ctx, f.Repo, st.LastApplied, c.SHA, desired)
	jobs, err := Observe(ctx, r.cluster)
	if err != nil {
		return res, st, err
	}
	// A retry asked for by `drover sync retry` is for the newest commit's
	// failure only. It stays asked for until an outcome of the new
	// attempt is recorded, so a pass that fails midway does not lose it.
	retryAsked := false
	attempt := 0
	if o := commitOutcome(st.Commits, c.SHA); o != nil {
		attempt = o.Retry
		if o.Outcome == cluster.CommitFailed {
			retryAsked = st.Retry != nil && st.Retry.Commit == c.SHA
			switch {
			case retryAsked:
				attempt = maxRetry(st.Commits, c.SHA) + 1
				log.Info("retrying the failed commit", "attempt", attempt)
			default:
				if why := r.healthyAfterAll(ctx, desired, jobs, c.SHA); why != "" {
					st = withCorrection(st, c.SHA, why, now)
					res.Corrected = why
					log.Info("a commit recorded failed is healthy after all; record corrected", "why", why)
				}
			}
		}
	}
	if !retryAsked {
		st.Retry = nil
	}
	res.Retry = attempt
	retry, err := r.retrySet(ctx, desired, jobs, c.SHA, attempt)
	if err != nil {
		return res, st, err
	}
	d := Decide(Input{Source: r.cfg.Name, Desired: desired, Previous: previous, Cluster: jobs, Retry: retry})
	r.observeStep(stepDecide, decideStart)
	res.Decision = d
	st.Unmanaged = d.Unmanaged
	if o := commitOutcome(st.Commits, c.SHA); o != nil && o.Outcome == cluster.CommitFailed && !retryAsked {
		// Like an applied commit, a failed one is not submitted again:
		// its rollout failed (and was perhaps reverted), and resubmitting
		// it at every pass would fail it again and again. The next
		// commit, a fix or a git revert, deploys normally.
		res.Outcome, res.Errors = PassHeld, o.Errors
		res.Decision = Decision{Unmanaged: d.Unmanaged, Managed: d.Managed}
		st = r.withStopped(ctx, st, desired, d, jobs, c.SHA)
		log.Debug("commit held: its rollout failed; waiting for a new commit", "reasons", strings.Join(o.Errors, "; "))
		return res, st, nil
	}

	// planFor is the plan kept in the commit's record (commit_plan.go),
	// computed only when a new record is written, against the jobs
	// observed before submitting.
	planFor := func(sealed []render.SealedNote) string {
		if o := commitOutcome(st.Commits, c.SHA); o != nil && o.Plan != "" && o.Outcome == cluster.CommitRollingOut {
			return o.Plan // a later wave: the plan made before the first stays
		}
		return commitPlan(desired, d, jobs, c.SHA, sealed)
	}
	if d.Reject != "" {
		res.Outcome, res.Errors = PassRejected, []string{d.Reject}
		o := cluster.CommitOutcome{Commit: c.SHA, Subject: c.Subject, Outcome: cluster.CommitRejected, Time: now, Errors: res.Errors}
		if n := commitOutcome(st.Commits, c.SHA); n == nil || n.Outcome != cluster.CommitRejected {
			o.Plan = planFor(nil) // what the commit would have done
		}
		st = withOutcome(st, o)
		log.Warn("commit rejected: mass prune", "reason", d.Reject)
		e := stepErr("decide", Rejected, errors.New(d.Reject))
		e.Errors = res.Errors
		return res, st, e
	}
	for _, dr := range d.Drift {
		log.Warn("drift: managed job changed outside Git", "job", dr.ID, "detail", dr.Detail, "healed", dr.Healed)
	}
	sealed, err := r.applySealed(ctx, desired, &st, c.SHA) // sealed.go
	if err != nil {
		if IsRejected(err) {
			var se *StepError
			errors.As(err, &se)
			res.Outcome, res.Errors = PassRejected, se.Errors
			st = withOutcome(st, cluster.CommitOutcome{Commit: c.SHA, Subject: c.Subject, Outcome: cluster.CommitRejected, Time: now, Errors: se.Errors})
			log.Warn("commit rejected: sealed variables do not open", "errors", len(se.Errors), "first", se.Errors[0])
		}
		return res, st, err
	}

	prov := cluster.Source{
		Name: r.cfg.Name, Repo: gitsource.RedactURL(r.cfg.URL), Ref: r.cfg.Branch, Commit: c.SHA,
		Author: c.Author, AuthorEmail: c.AuthorEmail, CommitTime: c.Time, Subject: c.Subject, Retry: attempt,
	}
	submitStart := time.Now()
	ready, holds, err := order(ctx, r.orderInput(desired, d, jobs, c.SHA, attempt))
	if err != nil {
		return res, st, err
	}
	d.Register = ready
	done, err := Submit(ctx, r.cluster, d, prov)
	r.observeStep(stepSubmit, submitStart)
	res.Submitted, res.Holds = done, holds
	r.remember(c.SHA, attempt, done)
	st = withDrift(st, d.Drift, c.SHA, now)
	if err != nil {
		return res, st, err
	}
	if len(holds) > 0 {
		o := cluster.CommitOutcome{Commit: c.SHA, Subject: c.Subject, Outcome: cluster.CommitRollingOut, Time: now, Waiting: holdStrings(holds), Retry: attempt, Plan: planFor(sealed)}
		res.Outcome = PassWaiting
		if holdsFailed(holds) {
			o.Outcome, o.Waiting, o.Errors = cluster.CommitFailed, nil, o.Waiting
			res.Outcome, res.Errors = PassFailed, o.Errors
			log.Warn("rollout stopped: a dependency failed", "reasons", strings.Join(o.Errors, "; "))
		} else if len(done) > 0 {
			log.Info("rolling out in waves", "submitted", len(done), "waiting", strings.Join(o.Waiting, "; "))
		}
		st.Retry = nil
		st = withOutcome(st, o)
		return res, st, nil
	}
	// Applied already, unless this is a retry or the last wave of a
	// rollout in waves (its newest outcome is then rolling_out).
	if o := commitOutcome(st.Commits, c.SHA); st.LastApplied == c.SHA && (o == nil || o.Outcome == cluster.CommitApplied) {
		res.Outcome = PassUnchanged
		if len(done) > 0 {
			res.Outcome = PassHealed
		}
		res.Progressing = progressing(st.Commits, c.SHA)
		return res, st, nil
	}
	res.Outcome = PassApplied
	st.LastApplied, st.LastAppliedAt = c.SHA, now
	o := cluster.CommitOutcome{Commit: c.SHA, Subject: c.Subject, Outcome: cluster.CommitApplied, Time: now, Retry: attempt, Sealed: sealedStrings(sealed), Plan: planFor(sealed)}
	if _, ok := r.cluster.(RolloutReader); ok {
		// The track step follows these until healthy (Run): the record
		// says progressing until then, and keeps the versions so that a
		// new leader follows them on.
		o.Health, o.Rollouts = cluster.HealthHealthy, rolloutRefs(done)
		if len(o.Rollouts) > 0 {
			o.Health = cluster.HealthProgressing
		}
	}
	st.Retry = nil
	st = withOutcome(superseded(st), o)
	res.Progressing = progressing(st.Commits, c.SHA)
	r.prevSHA, r.prevHashes = c.SHA, hashesOf(desired)
	log.Info("commit applied", "subject", c.Subject, "registered", len(d.Register), "stopped", len(d.Stop), "retry", attempt)
	return res, st, nil
}

// rolloutRefs are the job versions a pass wrote: the rollouts to follow.
func rolloutRefs(done []Submitted) []cluster.JobVersionRef {
	var out []cluster.JobVersionRef
	for _, s := range done {
		if !s.Unchanged {
			out = append(out, cluster.JobVersionRef{Namespace: s.Namespace, ID: s.ID, Version: s.Version})
		}
	}
	slices.SortFunc(out, func(a, b cluster.JobVersionRef) int {
		return strings.Compare(a.Namespace+"/"+a.ID, b.Namespace+"/"+b.ID)
	})
	return out
}

// retrySet returns the jobs a retry attempt registers again although the
// cluster runs their spec: those whose live version came from an earlier
// attempt of the commit and whose rollout failed.
func (r *Reconciler) retrySet(ctx context.Context, desired *Desired, jobs []*cluster.Job, sha string, attempt int) (map[string]bool, error) {
	rr, ok := r.cluster.(RolloutReader)
	if attempt == 0 || !ok {
		return nil, nil
	}
	live := make(map[string]*cluster.Job, len(jobs))
	for _, j := range jobs {
		live[jobKey(j.Namespace, j.ID)] = j
	}
	out := map[string]bool{}
	for k := range desired.Jobs {
		cur := live[k]
		want := effective(desired.Jobs[k], cur) // scaling.go
		if cur == nil || cur.Stop || cur.Hash != want.Hash || cur.Source == nil || cur.Source.Name != r.cfg.Name ||
			cur.Source.Commit != sha || cur.Source.Retry >= attempt {
			continue
		}
		ro, err := rr.Rollout(ctx, cur.Namespace, cur.ID, cur.Version)
		if err != nil {
			return nil, stepErr("retry", Waiting, fmt.Errorf("rollout of %s: %w", cur.ID, err))
		}
		if Assess(ro).State == RolloutFailed {
			out[k] = true
		}
	}
	return out, nil
}

// healthyAfterAll returns why a commit recorded failed is healthy after
// all, or "" when it is not: every job of the commit runs its spec, and
// every version of it that the commit submitted is healthy now (a
// deployment that was waiting for a promotion, or a rollout an older
// Drover judged failed on a single allocation's failure that the
// scheduler then rescheduled). A job reverted, held back or still
// failing keeps the record as it is.
func (r *Reconciler) healthyAfterAll(ctx context.Context, desired *Desired, jobs []*cluster.Job, sha string) string {
	rr, ok := r.cluster.(RolloutReader)
	if !ok {
		return ""
	}
	live := make(map[string]*cluster.Job, len(jobs))
	for _, j := range jobs {
		live[jobKey(j.Namespace, j.ID)] = j
	}
	var proof []string
	for _, k := range sortedKeys(desired.Jobs) {
		cur := live[k]
		if cur == nil || cur.Stop || cur.Hash != effective(desired.Jobs[k], cur).Hash {
			return ""
		}
		if cur.Source == nil || cur.Source.Name != r.cfg.Name || cur.Source.Commit != sha {
			continue // the commit did not change it
		}
		ro, err := rr.Rollout(ctx, cur.Namespace, cur.ID, cur.Version)
		if err != nil {
			return ""
		}
		h := Assess(ro)
		if h.State != RolloutHealthy {
			return ""
		}
		proof = append(proof, fmt.Sprintf("job %s version %d: %s", cur.ID, cur.Version, h.Reason))
	}
	if len(proof) == 0 {
		return ""
	}
	return strings.Join(proof, "; ")
}

// previous returns the job hashes of the last applied commit: cached when
// this reconciler applied it, else loaded from Git (a new leader). nil
// when there is none or it cannot be read (a force-push removed it from
// the mirror): the commit's differences then all count as its own.
func (r *Reconciler) previous(ctx context.Context, g *gitsource.Repository, lastApplied, head string, headState *Desired) map[string]string {
	switch {
	case lastApplied == "":
		return nil
	case lastApplied == r.prevSHA:
		return r.prevHashes
	case lastApplied == head:
		r.prevSHA, r.prevHashes = head, hashesOf(headState)
		return r.prevHashes
	}
	src := snapshot(g, &gitsource.Commit{SHA: lastApplied}, r.cfg.Path)
	d, err := Load(ctx, r.loader, r.hashes, src, r.cfg.Path)
	if err != nil {
		r.logger.Info("cannot read the last applied commit; treating every difference as the new commit's", "commit", shortSHA(lastApplied), "err", err)
		return nil
	}
	r.prevSHA, r.prevHashes = lastApplied, hashesOf(d)
	return r.prevHashes
}

// withStopped adds to a failed commit's reasons the jobs its failure
// kept from rolling out: the server records a failed deployment before
// the reconciler sees it, and a user reading `drover sync status` wants
// to know that api and web were never started because postgres failed.
func (r *Reconciler) withStopped(ctx context.Context, st cluster.SyncStatus, desired *Desired, d Decision, jobs []*cluster.Job, sha string) cluster.SyncStatus {
	if len(d.Register) == 0 || desired.Deps == nil || len(desired.Deps.Jobs) == 0 {
		return st
	}
	_, holds, err := order(ctx, r.orderInput(desired, d, jobs, sha, 0))
	if err != nil {
		return st
	}
	for i := range st.Commits {
		o := &st.Commits[i]
		if o.Commit != sha {
			continue
		}
		var extra []string
		for _, h := range holds {
			if len(h.Failed) > 0 && !slices.Contains(o.Errors, h.String()) {
				extra = append(extra, h.String())
			}
		}
		if len(extra) > 0 {
			st.Commits = slices.Clone(st.Commits)
			st.Commits[i].Errors = append(slices.Clone(o.Errors), extra...)
		}
		break
	}
	return st
}

// orderInput gathers what the order step needs for this pass.
func (r *Reconciler) orderInput(desired *Desired, d Decision, jobs []*cluster.Job, sha string, attempt int) orderInput {
	in := orderInput{deps: desired.Deps, register: d.Register, commit: sha, retry: attempt, source: r.cfg.Name, live: make(map[string]*cluster.Job, len(jobs))}
	for _, j := range jobs {
		in.live[j.ID] = j
	}
	if r.inflightSHA == inflightKey(sha, attempt) {
		in.submitted = r.inflight
	}
	if rr, ok := r.cluster.(RolloutReader); ok {
		in.health = func(ctx context.Context, ns, id string, version uint64) (Health, error) {
			ro, err := rr.Rollout(ctx, ns, id, version)
			if err != nil {
				return Health{}, err
			}
			return Assess(ro), nil
		}
	}
	return in
}

// remember records the versions a pass submitted for the commit's
// attempt.
func (r *Reconciler) remember(sha string, attempt int, done []Submitted) {
	if key := inflightKey(sha, attempt); r.inflightSHA != key {
		r.inflightSHA, r.inflight = key, make(map[string]Submitted)
	}
	for _, s := range done {
		if !s.Unchanged && !s.Stop {
			r.inflight[s.ID] = s
		}
	}
}

// inflightKey names an attempt at a commit: a retry starts its waves
// afresh.
func inflightKey(sha string, attempt int) string {
	return fmt.Sprintf("%s#%d", sha, attempt)
}

func hashesOf(d *Desired) map[string]string {
	m := make(map[string]string, len(d.Jobs))
	for k, j := range d.Jobs {
		m[k] = j.Hash
	}
	return m
}

// String names the reconciler in logs.
func (r *Reconciler) String() string {
	return fmt.Sprintf("source %q (%s@%s)", r.cfg.Name, gitsource.RedactURL(r.cfg.URL), r.cfg.Branch)
}
