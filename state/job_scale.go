package state

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// JobScaleRequest sets one group's count (`drover job scale`, Nomad's
// Job.Scale): a new version of the job that differs from the current
// one only in that count, and its evaluation, in one index. The checks
// are made here, on the replicated state, so that two scales racing
// through the leader cannot both pass against the same version.
type JobScaleRequest struct {
	Namespace string `json:"namespace"`
	JobID     string `json:"job_id"`
	Group     string `json:"group"`
	Count     int    `json:"count"`
	Message   string `json:"message,omitempty"`
	// Meta is the request's free-form metadata, kept on the event.
	Meta map[string]any `json:"meta,omitempty"`
	// CheckIndex, when set, applies the scale only if the job's
	// JobModifyIndex equals it (Nomad's JobModifyIndex enforcement).
	CheckIndex *uint64 `json:"check_index,omitempty"`
	// SubmittedBy names who scaled; never empty, so that the reconciler
	// tells the version from one a commit made.
	SubmittedBy string `json:"submitted_by"`
	// Eval is the evaluation to create; nil for a periodic or
	// parameterized job, which are templates and are not scheduled.
	Eval *cluster.Evaluation `json:"eval,omitempty"`
	Now  time.Time           `json:"now"`
}

// JobScaleResponse is the version the scale registered.
type JobScaleResponse struct {
	Version        uint64 `json:"version"`
	JobModifyIndex uint64 `json:"job_modify_index"`
	PreviousCount  int    `json:"previous_count"`
}

// ScaleCheck is why a scale of job's group to count is refused, with
// Nomad's messages; nil when it may go on. Pure: the HTTP handler calls
// it for a fast answer and the FSM again on the replicated state.
func ScaleCheck(job *cluster.Job, group string, count int, active *cluster.Deployment) error {
	switch {
	case job == nil || job.Spec == nil:
		return notFound("job not found")
	case job.Stop:
		return invalid("job %q is stopped: run it again before scaling it", job.ID)
	case count < 0:
		return invalid("scaling action count can't be negative")
	case job.Spec.Type == jobspec.JobTypeSystem && count > 1:
		return invalid(`jobs of type "system" can only be scaled to 1 or 0`)
	}
	var g *jobspec.Group
	for _, tg := range job.Spec.Groups {
		if tg.Name == group {
			g = tg
		}
	}
	if g == nil {
		return invalid("task group %q specified for scaling does not exist in job", group)
	}
	if sc := g.Scaling; sc != nil {
		if count < sc.Min {
			return invalid("group count was less than scaling policy minimum: %d < %d", count, sc.Min)
		}
		if sc.Max < count {
			return invalid("group count was greater than scaling policy maximum: %d > %d", count, sc.Max)
		}
	}
	if active != nil && active.Active() {
		return invalid("job scaling blocked due to active deployment")
	}
	return nil
}

func (w *writer) jobScale(req *JobScaleRequest) (any, error) {
	ns := namespaceOr(req.Namespace)
	if req.JobID == "" || req.Group == "" || req.SubmittedBy == "" {
		return nil, invalid("job scale: job ID, group and submitter are required")
	}
	if err := validEval(req.Eval); err != nil {
		return nil, err
	}
	r := w.read()
	cur := r.Job(ns, req.JobID)
	if cur == nil {
		return nil, notFound("job %s/%s", ns, req.JobID)
	}
	if err := checkCAS(req.CheckIndex, cur, ns, req.JobID); err != nil {
		return nil, err
	}
	if err := ScaleCheck(cur, req.Group, req.Count, r.LatestDeployment(ns, req.JobID)); err != nil {
		return nil, err
	}
	// A copy through JSON: the stored spec is shared with readers of
	// older snapshots, and the encoding is the job's canonical form, so
	// every replica derives the same spec.
	raw, err := json.Marshal(cur.Spec)
	if err != nil {
		return nil, fmt.Errorf("job scale: copy spec: %w", err)
	}
	spec := new(jobspec.Job)
	if err := json.Unmarshal(raw, spec); err != nil {
		return nil, fmt.Errorf("job scale: copy spec: %w", err)
	}
	prevCount := 0
	for _, g := range spec.Groups {
		if g.Name == req.Group {
			prevCount, g.Count = g.Count, req.Count
		}
	}
	count := int64(req.Count)
	ev := &cluster.ScalingEvent{
		TaskGroup: req.Group, Time: req.Now.UnixNano(), Count: &count, PreviousCount: int64(prevCount),
		Message: req.Message, Meta: req.Meta, CreateIndex: w.index,
	}
	if req.Eval != nil {
		id := req.Eval.ID
		ev.EvalID = &id
	}
	// The version keeps the Source of the one it scales: the rest of the
	// spec is still that commit's, so prune and history still apply.
	// SubmittedBy marks it as changed by hand (reconciler.OwnedCounts
	// decides whether Git puts the count back).
	j := &cluster.Job{
		Namespace: ns, ID: cur.ID, Spec: spec, SubmittedBy: req.SubmittedBy,
		ParentID: cur.ParentID, Scale: ev,
	}
	if cur.Source != nil {
		src := *cur.Source
		j.Source = &src
	}
	out, err := w.jobRegister(&JobRegisterRequest{Job: j, Eval: req.Eval, Now: req.Now})
	if err != nil {
		return nil, err
	}
	reg := out.(*JobRegisterResponse)
	return &JobScaleResponse{Version: reg.Version, JobModifyIndex: reg.JobModifyIndex, PreviousCount: prevCount}, nil
}
