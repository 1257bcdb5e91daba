package server

import (
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/render"
	"github.com/droverhq/drover/scheduler"
	"github.com/droverhq/drover/state"
)

func (s *Server) jobList(w http.ResponseWriter, r *http.Request) error {
	prefix := r.URL.Query().Get("prefix")
	ns := r.URL.Query().Get("namespace")
	// The allocation summary is part of each row, so allocation changes
	// wake the query too.
	return s.blocking(w, r, []string{state.TableJobs, state.TableAllocs}, func(snap *state.Snapshot) (any, error) {
		out := []*api.JobListStub{}
		for _, j := range snap.Jobs() {
			if !strings.HasPrefix(j.ID, prefix) || (ns != "" && j.Namespace != ns) {
				continue
			}
			// Without ?namespace every namespace is listed, but only
			// those the token may list jobs in.
			if allowNamespace(r, CapListJobs, j.Namespace) != nil {
				continue
			}
			st := jobStub(snap, j)
			st.NextPeriodicLaunch = jobNextPeriodicLaunch(snap, j, s.now()) // periodic_status.go
			out = append(out, st)
		}
		return out, nil
	})
}

func jobStub(snap *state.Snapshot, j *cluster.Job) *api.JobListStub {
	st := &api.JobListStub{
		ID: j.ID, Namespace: j.Namespace, Version: j.Version, Status: j.Status, Stop: j.Stop,
		Source: j.Source, SubmitTime: j.SubmitTime, ParentID: j.ParentID, JobModifyIndex: j.JobModifyIndex, ModifyIndex: j.ModifyIndex,
	}
	if j.Spec != nil {
		st.Name, st.Type, st.Priority = j.Spec.Name, j.Spec.Type, j.Spec.Priority
		st.NotLaunched, _ = j.Spec.NotLaunched()
	}
	if j.StoppedByHand() {
		// The stop is a version of its own; the one it replaced says
		// where the job came from.
		if prev := snap.JobVersion(j.Namespace, j.ID, j.Version-1); prev != nil {
			st.BeforeStop = prev.Source
		}
	}
	// The FSM keeps the counts (state/job_summary.go): a row costs the
	// same whether the job has ten allocations or 100,000.
	sum := snap.JobSummary(j.Namespace, j.ID)
	if sum != nil {
		st.Summary = make(map[string]map[string]int, len(sum.Summary))
		for g, c := range sum.Summary {
			st.Summary[g] = maps.Clone(c) // the store's own; the stub is the caller's
		}
	}
	st.Status = jobSummaryStatus(j, sum)
	if st.Status == cluster.JobStatusDead && !j.Stop && batchPending(snap, j) {
		// Every allocation is done, but an evaluation still waits (a
		// failed allocation's reschedule): not dead yet, as in Nomad.
		st.Status = cluster.JobStatusPending
	}
	return st
}

// jobStatus derives a job's status from its allocations, as Nomad does:
// running while any allocation runs or is wanted, dead when stopped and
// nothing runs or (batch, sysbatch) once every allocation is done,
// pending otherwise; a periodic or parameterized job is running until
// stopped. jobStub refines a dead batch job with an evaluation still
// waiting to pending.
func jobStatus(j *cluster.Job, allocs []*cluster.Allocation) string {
	live := false
	for _, a := range allocs {
		if !a.Terminal() {
			live = true
			break
		}
	}
	return jobStatusOf(j, len(allocs), live)
}

// jobSummaryStatus is jobStatus from the FSM's counts of j's allocations
// (state.Snapshot.JobSummary; nil when it has none), without reading them.
func jobSummaryStatus(j *cluster.Job, sum *state.JobSummary) string {
	if sum == nil {
		return jobStatusOf(j, 0, false)
	}
	return jobStatusOf(j, sum.Allocs, sum.NonTerminal > 0)
}

// jobStatusOf is jobStatus from counts: how many allocations the job has,
// and whether any of them is not terminal.
func jobStatusOf(j *cluster.Job, allocs int, live bool) string {
	// A periodic or parameterized job is a template that runs only as its
	// children: Nomad calls it running until it is stopped.
	if j.Spec != nil && (j.Spec.Periodic != nil || j.Spec.Parameterized != nil) {
		if j.Stop {
			return cluster.JobStatusDead
		}
		return cluster.JobStatusRunning
	}
	if live {
		return cluster.JobStatusRunning
	}
	if j.Stop {
		return cluster.JobStatusDead
	}
	if allocs > 0 && j.Spec != nil && (j.Spec.Type == jobspec.JobTypeBatch || j.Spec.Type == jobspec.JobTypeSysBatch) {
		return cluster.JobStatusDead
	}
	return cluster.JobStatusPending
}

func (s *Server) jobGet(w http.ResponseWriter, r *http.Request) error {
	ns, id := namespace(r), r.PathValue("id")
	return s.blocking(w, r, []string{state.TableJobs}, func(snap *state.Snapshot) (any, error) {
		if err := checkNodeJob(r, snap, ns, id); err != nil {
			return nil, err
		}
		j := snap.Job(ns, id)
		if j == nil {
			return nil, errorf(http.StatusNotFound, "job %q not found", id)
		}
		return j, nil
	})
}

// allowNamespace checks capability c in namespace ns, for a request
// whose route was authorized for the namespace its URL names
// (?namespace, else "default") but which acts on another: a job body
// naming its own namespace, a list across namespaces. Without ACLs
// (no identity) everything passes.
func allowNamespace(r *http.Request, c Capability, ns string) error {
	id := identityFrom(r.Context())
	if id == nil || id.allow(c, ns) {
		return nil
	}
	return errorf(http.StatusForbidden, "permission denied: %s in namespace %q needs the %s capability there, which this token's policies do not grant", r.URL.Path, ns, c)
}

// checkNodeJob lets a node's client certificate read a job only while
// the node has an allocation of it: an agent reads the job of what it
// runs, and nothing else.
func checkNodeJob(r *http.Request, snap *state.Snapshot, ns, id string) error {
	node := ""
	if idn := identityFrom(r.Context()); idn != nil {
		node = idn.node
	}
	if node == "" {
		return nil
	}
	for _, a := range snap.AllocsByNode(node) {
		if a.Namespace == ns && a.JobID == id {
			return nil
		}
	}
	return errorf(http.StatusForbidden, "node %s has no allocation of job %q, so its certificate cannot read it", node, id)
}

func (s *Server) jobVersions(w http.ResponseWriter, r *http.Request) error {
	ns, id := namespace(r), r.PathValue("id")
	return s.blocking(w, r, []string{state.TableJobVersions}, func(snap *state.Snapshot) (any, error) {
		if err := checkNodeJob(r, snap, ns, id); err != nil {
			return nil, err
		}
		vs := snap.JobVersions(ns, id)
		if len(vs) == 0 {
			return nil, errorf(http.StatusNotFound, "job %q not found", id)
		}
		return vs, nil
	})
}

func (s *Server) jobAllocs(w http.ResponseWriter, r *http.Request) error {
	ns, id := namespace(r), r.PathValue("id")
	return s.blocking(w, r, []string{state.TableAllocs}, func(snap *state.Snapshot) (any, error) {
		return nonNil(snap.AllocsByJob(ns, id)), nil
	})
}

func (s *Server) jobEvals(w http.ResponseWriter, r *http.Request) error {
	ns, id := namespace(r), r.PathValue("id")
	return s.blocking(w, r, []string{state.TableEvals}, func(snap *state.Snapshot) (any, error) {
		return nonNil(snap.EvalsByJob(ns, id)), nil
	})
}

func (s *Server) jobDeployments(w http.ResponseWriter, r *http.Request) error {
	ns, id := namespace(r), r.PathValue("id")
	return s.blocking(w, r, []string{state.TableDeployments}, func(snap *state.Snapshot) (any, error) {
		return nonNil(snap.DeploymentsByJob(ns, id)), nil
	})
}

// validJob checks a job submitted as JSON, answering 400 with one
// diagnostic per problem, each naming its field path. Its names (job ID,
// group and task names) are checked first by the rule Parse applies to
// job files (jobspec.CheckName): a task named "../../../x" must never
// reach a node, where names become directories. A name problem replaces
// ValidateJob's problem on the same field.
func validJob(job *jobspec.Job) error {
	if job == nil {
		return errorf(http.StatusBadRequest, `request has no "job"`)
	}
	errs := jobspec.ValidateNames(job)
	named := map[string]bool{}
	for _, e := range errs {
		if fe, ok := e.(*jobspec.FieldError); ok {
			named[fe.Path] = true
		}
	}
	for _, e := range jobspec.ValidateJob(job) {
		if fe, ok := e.(*jobspec.FieldError); !ok || !named[fe.Path] {
			errs = append(errs, e)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	problems := "problems"
	if len(errs) == 1 {
		problems = "problem"
	}
	he := &httpError{code: http.StatusBadRequest, msg: fmt.Sprintf("invalid job: %d %s: %v", len(errs), problems, errs[0])}
	for _, e := range errs {
		he.diags = append(he.diags, render.DiagnosticJSON{Severity: "error", Summary: e.Error()})
	}
	return he
}

func jobNamespace(j *jobspec.Job) string {
	if j.Namespace == "" {
		return "default"
	}
	return j.Namespace
}

// launchable reports whether registering the job should schedule it now,
// and if not why (jobspec.Job.NotLaunched decides). A periodic job is a
// template too, but a running one: the leader launches its children on
// schedule (periodic.go), so it is not scheduled itself and there is
// nothing to warn about.
func launchable(j *jobspec.Job) (bool, string) {
	if note := j.NotLaunchedNote(); note != "" {
		return false, note
	}
	if j.Periodic != nil {
		return false, ""
	}
	return true, ""
}

func evalPriority(j *jobspec.Job) int {
	if j.Priority == 0 {
		return 50
	}
	return j.Priority
}

func (s *Server) jobRegister(w http.ResponseWriter, r *http.Request) error {
	var req api.JobRegisterRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := validJob(req.Job); err != nil {
		return err
	}
	if err := s.jobLimits().check(req.Job, req.Source); err != nil {
		return err
	}
	if err := checkJobNodePool(s.raft.Store().Snapshot(), req.Job, req.Source); err != nil { // node_pools.go
		return err
	}
	spec := req.Job
	ns := jobNamespace(spec)
	if err := allowNamespace(r, CapSubmitJob, ns); err != nil {
		return err
	}
	setAuditObject(r.Context(), spec.ID)
	snap := s.raft.Store().Snapshot()
	cur := snap.Job(ns, spec.ID)
	if req.CheckIndex != nil {
		var have uint64
		if cur != nil {
			have = cur.JobModifyIndex
		}
		if have != *req.CheckIndex {
			return errorf(http.StatusConflict, "job %q has modify index %d, not the check_index %d: it changed since you planned; plan again", spec.ID, have, *req.CheckIndex)
		}
	}
	hash := spec.Hash()
	if cur != nil && !cur.Stop && cur.Hash == hash {
		return s.reply(w, snap.Index(state.TableJobs), &api.JobRegisterResponse{
			JobModifyIndex: cur.JobModifyIndex, Version: cur.Version, Unchanged: true, Index: snap.Index(state.TableJobs),
		})
	}
	cmd := &state.JobRegisterRequest{
		Job:        &cluster.Job{Namespace: ns, ID: spec.ID, Spec: spec, Hash: hash, Source: req.Source, SubmittedBy: submittedBy(r, req.Source)},
		CheckIndex: req.CheckIndex,
		Now:        time.Now(),
	}
	var warnings []string
	if ok, why := launchable(spec); ok {
		cmd.Eval = &cluster.Evaluation{
			ID: newID(), Namespace: ns, JobID: spec.ID, Type: spec.Type, Priority: evalPriority(spec),
			TriggeredBy: cluster.EvalTriggerJobRegister, Status: cluster.EvalStatusPending,
		}
	} else if why != "" {
		warnings = append(warnings, why)
	}
	idx, raw, err := s.raft.Apply(r.Context(), state.MsgJobRegister, cmd)
	if err != nil {
		return err
	}
	resp := &api.JobRegisterResponse{Index: idx, Warnings: warnings}
	if out, ok := raw.(*state.JobRegisterResponse); ok {
		resp.JobModifyIndex, resp.Version = out.JobModifyIndex, out.Version
	}
	if cmd.Eval != nil {
		resp.EvalID = cmd.Eval.ID
	}
	return s.reply(w, idx, resp)
}

func (s *Server) jobDeregister(w http.ResponseWriter, r *http.Request) error {
	ns, id := namespace(r), r.PathValue("id")
	purge := false
	if v := r.URL.Query().Get("purge"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errorf(http.StatusBadRequest, "purge=%q: want true or false", v)
		}
		purge = b
	}
	cur := s.raft.Store().Snapshot().Job(ns, id)
	if cur == nil {
		return errorf(http.StatusNotFound, "job %q not found", id)
	}
	if cur.Stop && !purge {
		// Stopping a stopped job again would only add a version.
		return s.reply(w, cur.ModifyIndex, &api.JobDeregisterResponse{JobModifyIndex: cur.JobModifyIndex, Index: cur.ModifyIndex})
	}
	cmd := &state.JobDeregisterRequest{Namespace: ns, JobID: id, Purge: purge, Now: time.Now()}
	if cur.Spec != nil {
		cmd.Eval = &cluster.Evaluation{
			ID: newID(), Namespace: ns, JobID: id, Type: cur.Spec.Type, Priority: evalPriority(cur.Spec),
			TriggeredBy: cluster.EvalTriggerJobDeregister, Status: cluster.EvalStatusPending,
		}
	}
	idx, raw, err := s.raft.Apply(r.Context(), state.MsgJobDeregister, cmd)
	if err != nil {
		return err
	}
	resp := &api.JobDeregisterResponse{Index: idx}
	if out, ok := raw.(*state.JobRegisterResponse); ok {
		resp.JobModifyIndex = out.JobModifyIndex
	}
	if cmd.Eval != nil {
		resp.EvalID = cmd.Eval.ID
	}
	return s.reply(w, idx, resp)
}

// jobPlan is a dry run: the diff against the running version, and what
// the scheduler would do with the proposed version on the current
// cluster. Nothing is written.
func (s *Server) jobPlan(w http.ResponseWriter, r *http.Request) error {
	var req api.JobPlanRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := validJob(req.Job); err != nil {
		return err
	}
	// The dry run schedules the whole job too: the same bound applies.
	if err := s.jobLimits().check(req.Job, nil); err != nil {
		return err
	}
	if err := checkJobNodePool(s.raft.Store().Snapshot(), req.Job, nil); err != nil { // node_pools.go
		return err
	}
	spec := req.Job
	if id := r.PathValue("id"); id != spec.ID {
		return errorf(http.StatusBadRequest, "the path names job %q but the body's job is %q", id, spec.ID)
	}
	ns := jobNamespace(spec)
	if err := allowNamespace(r, CapSubmitJob, ns); err != nil {
		return err
	}
	snap := s.raft.Store().Snapshot()
	cur := snap.Job(ns, spec.ID)

	old := map[string]*jobspec.Job{}
	meta := render.Meta{Head: "proposed"}
	proposed := &cluster.Job{Namespace: ns, ID: spec.ID, Spec: spec, Hash: spec.Hash(), Status: cluster.JobStatusPending,
		JobModifyIndex: snap.Index() + 1, SubmitTime: time.Now()}
	resp := &api.JobPlanResponse{}
	if cur != nil {
		resp.JobModifyIndex = cur.JobModifyIndex
		proposed.Version, proposed.CreateIndex = cur.Version+1, cur.CreateIndex
		meta.Base = fmt.Sprintf("version %d", cur.Version)
		if !cur.Stop {
			old[spec.ID] = cur.Spec
		}
	}
	desired := map[string]*jobspec.Job{spec.ID: spec}
	meta.NotLaunched = render.NotLaunchedNotes(desired)
	// Masked as `drover plan` masks: the secret-looking-key rules and
	// the repository's sensitive list (planSensitive says which).
	resp.Sensitive = planSensitive(snap, cur)
	resp.Diff = render.ToJSON(diff.Compute(old, desired, diff.Options{Sensitive: resp.Sensitive}), meta)
	for _, g := range spec.Groups {
		if g.Rollout == nil {
			continue
		}
		if resp.RolloutOrder == nil {
			resp.RolloutOrder = map[string][]scheduler.OrderedNode{}
		}
		resp.RolloutOrder[g.Name] = scheduler.CurrentRolloutOrder(snap, ns, spec.ID, g)
	}

	if ok, why := launchable(spec); !ok {
		resp.Warnings = append(resp.Warnings, why)
		return s.reply(w, snap.Index(), resp)
	}
	eval := &cluster.Evaluation{
		ID: newID(), Namespace: ns, JobID: spec.ID, Type: spec.Type, Priority: evalPriority(spec),
		TriggeredBy: cluster.EvalTriggerJobRegister, Status: cluster.EvalStatusPending, JobModifyIndex: proposed.JobModifyIndex,
	}
	plan, err := scheduler.Process(&proposedState{Snapshot: snap, job: proposed}, eval, schedulerOptions(time.Now()))
	if err != nil {
		return fmt.Errorf("dry-run scheduler: %w", err)
	}
	resp.Annotations = plan.Annotations
	if len(plan.FailedTGAllocs) > 0 {
		resp.FailedTGAllocs = plan.FailedTGAllocs
		resp.Explanations = map[string][]string{}
		for g, m := range plan.FailedTGAllocs {
			resp.Explanations[g] = scheduler.Explain(g, m)
		}
	}
	return s.reply(w, snap.Index(), resp)
}

// proposedState is a snapshot in which the planned job version is the
// job's latest, for dry runs.
type proposedState struct {
	*state.Snapshot
	job *cluster.Job
}

func (p *proposedState) Job(namespace, id string) *cluster.Job {
	if namespace == p.job.Namespace && id == p.job.ID {
		return p.job
	}
	return p.Snapshot.Job(namespace, id)
}

func (p *proposedState) JobVersion(namespace, id string, version uint64) *cluster.Job {
	if namespace == p.job.Namespace && id == p.job.ID && version == p.job.Version {
		return p.job
	}
	return p.Snapshot.JobVersion(namespace, id, version)
}
