package state

import (
	"cmp"
	"slices"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// Garbage collection follows Nomad's core scheduler: the leader picks
// candidates from a snapshot with GCCandidates (pure: state, thresholds
// and the time in; a request out) and commits them in bounded MsgGC
// commands. The FSM checks every candidate again when it applies one and
// skips those that no longer qualify, so that a write between the
// leader's snapshot and the commit (an allocation that started running,
// a job registered again) never loses anything. The FSM's checks use
// only state, never the thresholds or a clock: every replica decides
// alike.

// Defaults of GCConfig, Nomad's.
const (
	DefaultJobTrackedVersions    = 6
	DefaultEvalGCThreshold       = time.Hour
	DefaultDeploymentGCThreshold = time.Hour
	DefaultJobGCThreshold        = 4 * time.Hour
)

// GCBatchSize is the most IDs the leader puts in one MsgGC command, so
// that one command stays a small log entry and a short apply.
const GCBatchSize = 1000

// maxGCRequestIDs is what the FSM accepts in one command: the leader's
// batches, with room for a leader built with a larger GCBatchSize.
const maxGCRequestIDs = 10 * GCBatchSize

// GCConfig is what garbage collection keeps, with Nomad's names.
type GCConfig struct {
	// JobTrackedVersions is how many of each job's newest versions are
	// kept (job_tracked_versions); older ones are collected unless still
	// needed (GCCandidates says which).
	JobTrackedVersions int
	// EvalGCThreshold is how long a terminal evaluation, and a terminal
	// allocation, is kept after its last change (eval_gc_threshold;
	// Nomad judges allocations by the evaluation threshold too).
	EvalGCThreshold time.Duration
	// DeploymentGCThreshold is how long a terminal deployment is kept
	// (deployment_gc_threshold).
	DeploymentGCThreshold time.Duration
	// JobGCThreshold is how long a stopped job is kept before it is
	// purged (job_gc_threshold).
	JobGCThreshold time.Duration
}

// DefaultGCConfig returns Nomad's defaults.
func DefaultGCConfig() GCConfig {
	return GCConfig{
		JobTrackedVersions:    DefaultJobTrackedVersions,
		EvalGCThreshold:       DefaultEvalGCThreshold,
		DeploymentGCThreshold: DefaultDeploymentGCThreshold,
		JobGCThreshold:        DefaultJobGCThreshold,
	}
}

// Force returns the configuration of a forced collection (`drover system
// gc`): as Nomad's, it ignores the thresholds, but it still keeps the
// newest versions and everything that is not terminal.
func (c GCConfig) Force() GCConfig {
	return GCConfig{JobTrackedVersions: c.JobTrackedVersions}
}

// JobRef names a job.
type JobRef struct {
	Namespace string `json:"namespace"`
	JobID     string `json:"job_id"`
}

// JobVersionRef names one version of a job.
type JobVersionRef struct {
	Namespace string `json:"namespace"`
	JobID     string `json:"job_id"`
	Version   uint64 `json:"version"`
}

// GCRequest collects what the leader found collectable. The FSM applies
// the lists in this order (allocations, evaluations, jobs, deployments,
// versions), since each later kind is collectable only once what refers
// to it is gone; Split keeps that order across commands.
type GCRequest struct {
	Allocs      []string        `json:"allocs,omitempty"`
	Evals       []string        `json:"evals,omitempty"`
	Jobs        []JobRef        `json:"jobs,omitempty"`
	Deployments []string        `json:"deployments,omitempty"`
	JobVersions []JobVersionRef `json:"job_versions,omitempty"`
	// HistoryPerJob and HistoryTotal bound the job history table; 0
	// means DefaultJobHistoryPerJob and DefaultJobHistoryTotal. They
	// travel in the command so that a server with other defaults
	// applies the log alike.
	HistoryPerJob int       `json:"history_per_job,omitempty"`
	HistoryTotal  int       `json:"history_total,omitempty"`
	Now           time.Time `json:"now"`
}

// GCResponse says how many of each kind a command collected.
type GCResponse struct {
	Allocs      int `json:"allocs"`
	Evals       int `json:"evals"`
	Jobs        int `json:"jobs"`
	Deployments int `json:"deployments"`
	JobVersions int `json:"job_versions"`
}

// Add adds the counts of o.
func (r *GCResponse) Add(o *GCResponse) {
	if o == nil {
		return
	}
	r.Allocs += o.Allocs
	r.Evals += o.Evals
	r.Jobs += o.Jobs
	r.Deployments += o.Deployments
	r.JobVersions += o.JobVersions
}

// Size is the number of IDs in the request.
func (r *GCRequest) Size() int {
	return len(r.Allocs) + len(r.Evals) + len(r.Jobs) + len(r.Deployments) + len(r.JobVersions)
}

// Split cuts the request into commands of at most n IDs each, in the
// order the FSM applies them, so that an evaluation never comes before
// the allocations that refer to it.
func (r *GCRequest) Split(n int) []*GCRequest {
	if n <= 0 {
		n = GCBatchSize
	}
	s := &gcSplitter{n: n, proto: r}
	s.cur = s.fresh()
	splitInto(s, r.Allocs, func(q *GCRequest) *[]string { return &q.Allocs })
	splitInto(s, r.Evals, func(q *GCRequest) *[]string { return &q.Evals })
	splitInto(s, r.Jobs, func(q *GCRequest) *[]JobRef { return &q.Jobs })
	splitInto(s, r.Deployments, func(q *GCRequest) *[]string { return &q.Deployments })
	splitInto(s, r.JobVersions, func(q *GCRequest) *[]JobVersionRef { return &q.JobVersions })
	if s.cur.Size() > 0 {
		s.out = append(s.out, s.cur)
	}
	return s.out
}

// gcSplitter is Split's state: the commands so far and the one filling.
type gcSplitter struct {
	n     int
	proto *GCRequest
	cur   *GCRequest
	out   []*GCRequest
}

func (s *gcSplitter) fresh() *GCRequest {
	return &GCRequest{HistoryPerJob: s.proto.HistoryPerJob, HistoryTotal: s.proto.HistoryTotal, Now: s.proto.Now}
}

// splitInto appends items to the field of the filling command, starting
// a new one whenever it is full.
func splitInto[T any](s *gcSplitter, items []T, field func(*GCRequest) *[]T) {
	for _, it := range items {
		f := field(s.cur)
		*f = append(*f, it)
		if s.cur.Size() >= s.n {
			s.out = append(s.out, s.cur)
			s.cur = s.fresh()
		}
	}
}

// GCCandidates returns what garbage collection may remove at now, by
// Nomad's rules:
//
//   - an allocation that is terminal (stopped, evicted, or complete,
//     failed or lost on its node), not running on its node, and unchanged
//     for EvalGCThreshold. While its job is not stopped, a failed or lost
//     allocation nothing replaced yet, and a completed one of a batch
//     job, are kept: the scheduler counts them (a reschedule, a batch
//     task that must not run again).
//   - an evaluation that is complete, failed or canceled, unchanged for
//     EvalGCThreshold, whose allocations are all collected with it.
//   - a stopped job whose stop is JobGCThreshold old, when all its
//     allocations and evaluations are collected and no deployment of it
//     is active: it is purged, its versions summarized (job_history).
//   - a deployment that is successful, failed or cancelled, unchanged for
//     DeploymentGCThreshold, with no allocation still running or wanted,
//     and not the newest deployment of a job that still exists: the
//     scheduler reads that one to know the version rolled out (or failed)
//     and would otherwise roll it out again.
//   - a job version beyond the newest JobTrackedVersions, unless still
//     needed: run (or held) by an allocation, the version of an active
//     deployment or the stable version it would revert to, the newest
//     stable version (auto_revert's target), a version a Git commit's
//     rollout is still followed by, or the version before a stop made by
//     hand (job status shows where the job came from).
//
// Lists come out sorted, so that the same state gives the same request.
func GCCandidates(snap *Snapshot, cfg GCConfig, now time.Time) *GCRequest {
	req := &GCRequest{Now: now}
	evalCutoff := now.Add(-cfg.EvalGCThreshold)
	depCutoff := now.Add(-cfg.DeploymentGCThreshold)
	jobCutoff := now.Add(-cfg.JobGCThreshold)

	type jobKey struct{ ns, id string }
	latest := map[jobKey]*cluster.Job{}
	for _, j := range snap.Jobs() {
		latest[jobKey{j.Namespace, j.ID}] = j
	}
	// Per job: whether anything of it must stay, which blocks a purge.
	blocked := map[jobKey]bool{}

	// Allocations.
	evalBlocked := map[string]bool{} // an evaluation with an allocation that stays
	for _, a := range snap.Allocs() {
		k := jobKey{a.Namespace, a.JobID}
		if allocCollectable(a, latest[k]) && !a.ModifyTime.After(evalCutoff) {
			req.Allocs = append(req.Allocs, a.ID)
			continue
		}
		blocked[k] = true
		if a.EvalID != "" {
			evalBlocked[a.EvalID] = true
		}
	}

	// Evaluations.
	for _, e := range snap.Evals() {
		if evalTerminal(e) && !e.ModifyTime.After(evalCutoff) && !evalBlocked[e.ID] {
			req.Evals = append(req.Evals, e.ID)
			continue
		}
		blocked[jobKey{e.Namespace, e.JobID}] = true
	}

	rollouts := progressingRollouts(snap)
	deps := snap.Deployments()
	for _, d := range deps {
		if d.Active() {
			blocked[jobKey{d.Namespace, d.JobID}] = true
		}
	}

	// Stopped jobs.
	purged := map[jobKey]bool{}
	for k, j := range latest {
		if rollouts.job(j.Namespace, j.ID) {
			continue
		}
		// A finished child's allocations are held (a batch job's
		// completions) only while it exists: purged, they go next pass.
		stopped := j.Stop && !j.SubmitTime.After(jobCutoff) && !blocked[k]
		if !stopped && !(finishedChild(snap, j) && childQuietSince(snap, j, jobCutoff)) {
			continue
		}
		purged[k] = true
		req.Jobs = append(req.Jobs, JobRef{Namespace: j.Namespace, JobID: j.ID})
	}
	slices.SortFunc(req.Jobs, func(a, b JobRef) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.JobID, b.JobID))
	})

	// Deployments.
	newest := map[jobKey]*cluster.Deployment{}
	for _, d := range deps {
		k := jobKey{d.Namespace, d.JobID}
		if n := newest[k]; n == nil || d.CreateIndex > n.CreateIndex {
			newest[k] = d
		}
	}
	for _, d := range deps {
		k := jobKey{d.Namespace, d.JobID}
		if d.Active() || d.ModifyTime.After(depCutoff) {
			continue
		}
		if latest[k] != nil && !purged[k] && newest[k] == d {
			continue
		}
		if deploymentInUse(snap, d) {
			continue
		}
		req.Deployments = append(req.Deployments, d.ID)
	}

	// Versions, job by job in key order.
	keep := max(cfg.JobTrackedVersions, 1)
	for _, j := range snap.Jobs() {
		if purged[jobKey{j.Namespace, j.ID}] {
			continue
		}
		versions := snap.JobVersions(j.Namespace, j.ID)
		if len(versions) <= keep {
			continue
		}
		pins := pinnedVersions(snap, j, versions, rollouts)
		for _, v := range versions[keep:] {
			if !pins[v.Version] {
				req.JobVersions = append(req.JobVersions, JobVersionRef{Namespace: v.Namespace, JobID: v.ID, Version: v.Version})
			}
		}
	}
	return req
}

// allocCollectable reports whether an allocation is done with, whatever
// its age: terminal, not running on its node, and not counted by the
// scheduler for its job (latest version, nil when the job is gone).
func allocCollectable(a *cluster.Allocation, job *cluster.Job) bool {
	if !a.Terminal() || a.ClientStatus == cluster.AllocClientRunning {
		return false
	}
	return !heldByScheduler(a, job)
}

// heldByScheduler reports whether the scheduler still counts a terminal
// allocation of a job that runs: a failed or lost one it has not
// replaced yet (its reschedule history is on it), or a completed one of
// a batch job (without it the task would run again).
func heldByScheduler(a *cluster.Allocation, job *cluster.Job) bool {
	if job == nil || job.Stop || job.Spec == nil || a.DesiredStatus != cluster.AllocDesiredRun || a.NextAllocation != "" {
		return false
	}
	if job.Spec.Group(a.TaskGroup) == nil {
		return false // its group is gone: nothing counts it
	}
	switch a.ClientStatus {
	case cluster.AllocClientFailed, cluster.AllocClientLost:
		return true
	case cluster.AllocClientComplete:
		return job.Spec.Type == jobspec.JobTypeBatch || job.Spec.Type == jobspec.JobTypeSysBatch
	}
	return false
}

// allocInUse reports whether an allocation runs, is wanted, or is held
// by the scheduler: what it refers to (its job version, its deployment)
// must stay.
func allocInUse(a *cluster.Allocation, job *cluster.Job) bool {
	return !a.Terminal() || a.ClientStatus == cluster.AllocClientRunning || heldByScheduler(a, job)
}

func evalTerminal(e *cluster.Evaluation) bool {
	switch e.Status {
	case cluster.EvalStatusComplete, cluster.EvalStatusFailed, cluster.EvalStatusCanceled:
		return true
	}
	return false
}

// deploymentInUse reports whether an allocation of the deployment still
// runs or is wanted.
func deploymentInUse(snap *Snapshot, d *cluster.Deployment) bool {
	job := snap.Job(d.Namespace, d.JobID)
	for _, a := range snap.AllocsByDeployment(d.ID) {
		if allocInUse(a, job) {
			return true
		}
	}
	return false
}

// rolloutSet is the job versions the sources' progressing commits are
// followed by (cluster.CommitOutcome.Rollouts): the reconciler reads them
// until the commit is healthy.
type rolloutSet map[JobVersionRef]bool

func progressingRollouts(snap *Snapshot) rolloutSet {
	out := rolloutSet{}
	for _, st := range snap.SyncStatuses() {
		for _, c := range st.Commits {
			for _, r := range c.Rollouts {
				out[JobVersionRef{Namespace: namespaceOr(r.Namespace), JobID: r.ID, Version: r.Version}] = true
			}
		}
	}
	return out
}

func (s rolloutSet) job(ns, id string) bool {
	for r := range s {
		if r.Namespace == ns && r.JobID == id {
			return true
		}
	}
	return false
}

// pinnedVersions returns the versions of a job that stay however old
// they are (see GCCandidates). versions are the job's, newest first;
// latest is the first.
func pinnedVersions(snap *Snapshot, latest *cluster.Job, versions []*cluster.Job, rollouts rolloutSet) map[uint64]bool {
	pins := map[uint64]bool{latest.Version: true}
	// lastStable is what auto_revert goes back to from a version: the
	// newest stable, running version below it (deploymentwatcher's
	// LastStable).
	lastStable := func(below uint64) {
		for _, v := range versions {
			if v.Version < below && v.Stable && !v.Stop {
				pins[v.Version] = true
				return
			}
		}
	}
	lastStable(latest.Version + 1)
	if latest.StoppedByHand() && latest.Version > 0 {
		pins[latest.Version-1] = true
	}
	for _, a := range snap.AllocsByJob(latest.Namespace, latest.ID) {
		if allocInUse(a, latest) {
			pins[a.JobVersion] = true
		}
	}
	for _, d := range snap.DeploymentsByJob(latest.Namespace, latest.ID) {
		if d.Active() {
			pins[d.JobVersion] = true
			lastStable(d.JobVersion)
		}
	}
	for _, v := range versions {
		if rollouts[JobVersionRef{Namespace: v.Namespace, JobID: v.ID, Version: v.Version}] {
			pins[v.Version] = true
		}
	}
	return pins
}

// gc applies a MsgGC command: every candidate is checked again against
// the current state, and one that no longer qualifies is skipped.
func (w *writer) gc(req *GCRequest) (any, error) {
	if n := req.Size(); n > maxGCRequestIDs {
		return nil, invalid("gc: %d IDs in one command, at most %d", n, maxGCRequestIDs)
	}
	for _, j := range req.Jobs {
		if j.JobID == "" {
			return nil, invalid("gc: a job without ID")
		}
	}
	for _, v := range req.JobVersions {
		if v.JobID == "" {
			return nil, invalid("gc: a job version without job ID")
		}
	}
	r := w.read()
	resp := &GCResponse{}

	for _, id := range req.Allocs {
		a := r.Alloc(id)
		if a == nil || !allocCollectable(a, r.Job(a.Namespace, a.JobID)) {
			continue
		}
		if err := w.delete(TableAllocs, a); err != nil {
			return nil, err
		}
		resp.Allocs++
	}

	for _, id := range req.Evals {
		e := r.Eval(id)
		// An allocation left that refers to it was not collectable.
		if e == nil || !evalTerminal(e) || len(r.AllocsByEval(id)) > 0 {
			continue
		}
		if err := w.delete(TableEvals, e); err != nil {
			return nil, err
		}
		resp.Evals++
	}

	var history []*cluster.JobVersionSummary
	for _, ref := range req.Jobs {
		ns := namespaceOr(ref.Namespace)
		j := r.Job(ns, ref.JobID)
		if j == nil || !(j.Stop && jobPurgeable(r, j) || finishedChild(r, j)) {
			continue
		}
		for _, v := range r.JobVersions(ns, ref.JobID) {
			history = append(history, v.Summarize(req.Now))
		}
		if _, err := w.jobDeregister(&JobDeregisterRequest{Namespace: ns, JobID: ref.JobID, Purge: true, Now: req.Now}); err != nil {
			return nil, err
		}
		resp.Jobs++
	}

	for _, id := range req.Deployments {
		d := r.Deployment(id)
		if d == nil || d.Active() || deploymentInUse(r, d) {
			continue
		}
		if r.Job(d.Namespace, d.JobID) != nil && r.LatestDeployment(d.Namespace, d.JobID).ID == d.ID {
			continue
		}
		if err := w.delete(TableDeployments, d); err != nil {
			return nil, err
		}
		resp.Deployments++
	}

	if len(req.JobVersions) > 0 {
		rollouts := progressingRollouts(r)
		type jobKey struct{ ns, id string }
		pinsOf := map[jobKey]map[uint64]bool{}
		for _, ref := range req.JobVersions {
			ns := namespaceOr(ref.Namespace)
			latest := r.Job(ns, ref.JobID)
			v := r.JobVersion(ns, ref.JobID, ref.Version)
			if latest == nil || v == nil {
				continue
			}
			k := jobKey{ns, ref.JobID}
			pins, ok := pinsOf[k]
			if !ok {
				pins = pinnedVersions(r, latest, r.JobVersions(ns, ref.JobID), rollouts)
				pinsOf[k] = pins
			}
			if pins[v.Version] {
				continue
			}
			history = append(history, v.Summarize(req.Now))
			if err := w.delete(TableJobVersions, v); err != nil {
				return nil, err
			}
			resp.JobVersions++
		}
	}
	if err := w.putJobHistory(history, req.HistoryPerJob, req.HistoryTotal); err != nil {
		return nil, err
	}
	return resp, nil
}

// finishedChild reports whether j is a periodic job's child that is
// done: every allocation terminal and off its node, every evaluation
// terminal (a reschedule still to come keeps one pending), no active
// deployment. Nomad collects such dead batch jobs; without this every
// launch would stay in the state for ever.
func finishedChild(r *Snapshot, j *cluster.Job) bool {
	if j.ParentID == "" {
		return false
	}
	for _, a := range r.AllocsByJob(j.Namespace, j.ID) {
		switch {
		case a.ClientStatus == cluster.AllocClientComplete, a.ClientStatus == cluster.AllocClientFailed, a.ClientStatus == cluster.AllocClientLost:
		case a.DesiredStatus != cluster.AllocDesiredRun && a.ClientStatus != cluster.AllocClientRunning:
		default:
			return false
		}
	}
	for _, e := range r.EvalsByJob(j.Namespace, j.ID) {
		if !evalTerminal(e) {
			return false
		}
	}
	for _, d := range r.DeploymentsByJob(j.Namespace, j.ID) {
		if d.Active() {
			return false
		}
	}
	return true
}

// childQuietSince reports whether a finished child, and each of its
// allocations, last changed before cutoff (job_gc_threshold).
func childQuietSince(r *Snapshot, j *cluster.Job, cutoff time.Time) bool {
	if j.SubmitTime.After(cutoff) {
		return false
	}
	for _, a := range r.AllocsByJob(j.Namespace, j.ID) {
		if a.ModifyTime.After(cutoff) {
			return false
		}
	}
	return true
}

// jobPurgeable reports whether nothing of a stopped job runs or waits:
// every allocation is collectable, every evaluation terminal, and no
// deployment active. What is left of it is terminal, and the next
// collection takes it.
func jobPurgeable(r *Snapshot, j *cluster.Job) bool {
	for _, a := range r.AllocsByJob(j.Namespace, j.ID) {
		if !allocCollectable(a, j) {
			return false
		}
	}
	for _, e := range r.EvalsByJob(j.Namespace, j.ID) {
		if !evalTerminal(e) {
			return false
		}
	}
	for _, d := range r.DeploymentsByJob(j.Namespace, j.ID) {
		if d.Active() {
			return false
		}
	}
	return !progressingRollouts(r).job(j.Namespace, j.ID)
}
