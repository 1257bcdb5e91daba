package server

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/state"
)

// Scaling a group (Nomad's Job.Scale): POST /v1/job/{id}/scale commits a
// new version of the job whose only change is the group's count, with
// its evaluation, in one Raft command (state.MsgJobScale); GET
// /v1/job/{id}/scale reports each group's counts and scaling events.
//
// The version keeps the Source of the version it scales and is marked
// SubmittedBy the caller. Whether the next Git sync puts the file's
// count back is the reconciler's decision (reconciler.OwnedCounts): a
// group with a scaling block owns its count in the cluster, as Argo CD
// leaves an HPA's replicas alone; any other group's count is drift.
//
// A scale without a Count (Nomad's) changes nothing: it records a
// scaling event (state.MsgScalingEventRegister), as an autoscaler
// reports "no change" or, with Error, a failure. Message and Meta are
// bounded (maxScaleMessage, maxScaleMeta) and each version keeps at most
// 20 such events per group.

// maxScaleMessage bounds a scale's message; maxScaleMeta its metadata.
const (
	maxScaleMessage = 1 << 10
	maxScaleMeta    = 4 << 10
	// maxScaleEvents is how many events per group GET .../scale returns
	// (Nomad keeps 20 per group).
	maxScaleEvents = 20
)

// scaleGroup picks the group a scale targets: the Target's Group, or the
// job's only group.
func scaleGroup(spec *jobspec.Job, target map[string]string) (string, error) {
	if g := target[api.ScalingTargetGroup]; g != "" {
		return g, nil
	}
	if len(spec.Groups) == 1 {
		return spec.Groups[0].Name, nil
	}
	names := make([]string, 0, len(spec.Groups))
	for _, g := range spec.Groups {
		names = append(names, g.Name)
	}
	return "", errorf(http.StatusBadRequest, `the job has %d groups (%s): name one in Target {"Group": "..."}`, len(names), strings.Join(names, ", "))
}

func (s *Server) jobScale(w http.ResponseWriter, r *http.Request) error {
	ns, id := namespace(r), r.PathValue("id")
	setAuditObject(r.Context(), id)
	var req api.ScalingRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	switch {
	case req.Count != nil && req.Error:
		// Nomad's rule: an error event reports a failure, not a count.
		return errorf(http.StatusBadRequest, "scaling action should not contain count if error is true: send Error without Count to record a failed scaling")
	case len(req.Target) > 8:
		return errorf(http.StatusBadRequest, "Target has %d keys; it names at most the Namespace, Job and Group", len(req.Target))
	case len(req.Message) > maxScaleMessage:
		return errorf(http.StatusBadRequest, "Message is longer than %d bytes", maxScaleMessage)
	case req.Count != nil && *req.Count > 1<<31-1:
		return errorf(http.StatusBadRequest, "Count %d is too large", *req.Count)
	}
	if j := req.Target[api.ScalingTargetJob]; j != "" && j != id {
		return errorf(http.StatusBadRequest, "the path names job %q but Target names %q", id, j)
	}
	if len(req.Meta) > 0 {
		// Measured as stored: the JSON encoding, with sorted keys.
		if b, err := json.Marshal(req.Meta); err != nil || len(b) > maxScaleMeta {
			return errorf(http.StatusBadRequest, "Meta is larger than %d bytes as JSON", maxScaleMeta)
		}
	}
	snap := s.raft.Store().Snapshot()
	cur := snap.Job(ns, id)
	if cur == nil || cur.Spec == nil {
		return errorf(http.StatusNotFound, "job %q not found", id)
	}
	group, err := scaleGroup(cur.Spec, req.Target)
	if err != nil {
		return err
	}
	if req.Count == nil {
		return s.scalingEvent(w, r, cur, group, &req)
	}
	count := int(*req.Count)
	// Checked here for a quick answer; the FSM checks again on the state
	// the command meets.
	if err := state.ScaleCheck(cur, group, count, snap.LatestDeployment(ns, id)); err != nil {
		return scaleError(err)
	}
	cmd := &state.JobScaleRequest{
		Namespace: ns, JobID: id, Group: group, Count: count, Message: req.Message, Meta: req.Meta,
		SubmittedBy: identityFrom(r.Context()).who(), Now: time.Now(),
	}
	if req.JobModifyIndex > 0 {
		cmd.CheckIndex = &req.JobModifyIndex
	}
	if ok, _ := launchable(cur.Spec); ok {
		cmd.Eval = &cluster.Evaluation{
			ID: newID(), Namespace: ns, JobID: id, Type: cur.Spec.Type, Priority: evalPriority(cur.Spec),
			TriggeredBy: cluster.EvalTriggerScaling, Status: cluster.EvalStatusPending,
		}
	}
	idx, raw, err := s.raft.Apply(r.Context(), state.MsgJobScale, cmd)
	if err != nil {
		return scaleError(err)
	}
	resp := &api.JobScaleResponse{Index: idx, JobModifyIndex: idx}
	if out, ok := raw.(*state.JobScaleResponse); ok {
		resp.JobModifyIndex, resp.Version = out.JobModifyIndex, out.Version
	}
	if cmd.Eval != nil {
		resp.EvalID, resp.EvalCreateIndex = cmd.Eval.ID, idx
	}
	if cur.Source != nil {
		resp.Notes = append(resp.Notes, scaleGitNote(cur.Spec, group, cur.Source))
	}
	return s.reply(w, idx, resp)
}

// scalingEvent records a scale without a count (Nomad's): an
// autoscaler's "no change", or with Error its failure. The job is not
// changed and nothing is scheduled; the event shows in GET
// /v1/job/{id}/scale with the others.
func (s *Server) scalingEvent(w http.ResponseWriter, r *http.Request, cur *cluster.Job, group string, req *api.ScalingRequest) error {
	cmd := &state.ScalingEventRegisterRequest{
		Namespace: cur.Namespace, JobID: cur.ID, Group: group,
		Message: req.Message, Error: req.Error, Meta: req.Meta, Now: time.Now(),
	}
	if err := state.ScalingEventCheck(cmd); err != nil {
		return scaleError(err)
	}
	idx, raw, err := s.raft.Apply(r.Context(), state.MsgScalingEventRegister, cmd)
	if err != nil {
		return scaleError(err)
	}
	resp := &api.JobScaleResponse{Index: idx, JobModifyIndex: cur.JobModifyIndex, Version: cur.Version}
	if out, ok := raw.(*state.ScalingEventRegisterResponse); ok {
		resp.JobModifyIndex, resp.Version = out.JobModifyIndex, out.Version
	}
	return s.reply(w, idx, resp)
}

// scaleError answers a refused scale 400 with the FSM's message (Nomad's
// words) rather than state's "invalid request:" prefix.
func scaleError(err error) error {
	switch {
	case errors.Is(err, state.ErrInvalid):
		return errorf(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), state.ErrInvalid.Error()+": "))
	case errors.Is(err, state.ErrNotFound):
		return errorf(http.StatusNotFound, "%s", err.Error())
	}
	return err
}

// scaleGitNote says what Git will do with the new count.
func scaleGitNote(spec *jobspec.Job, group string, src *cluster.Source) string {
	for _, g := range spec.Groups {
		if g.Name == group && g.Scaling != nil {
			return fmt.Sprintf("group %q has a scaling block: source %q keeps this count on its next syncs (the cluster owns it)", group, src.Name)
		}
	}
	return fmt.Sprintf("group %q has no scaling block: the job comes from source %q (%s), which reports this count as drift and, with self_heal, puts the file's count back; add a scaling block to the group to keep counts set here", group, src.Name, src.Path)
}

// jobScaleStatus answers GET /v1/job/{id}/scale.
func (s *Server) jobScaleStatus(w http.ResponseWriter, r *http.Request) error {
	ns, id := namespace(r), r.PathValue("id")
	tables := []string{state.TableJobs, state.TableJobVersions, state.TableAllocs, state.TableDeployments}
	return s.blocking(w, r, tables, func(snap *state.Snapshot) (any, error) {
		j := snap.Job(ns, id)
		if j == nil || j.Spec == nil {
			return nil, errorf(http.StatusNotFound, "job %q not found", id)
		}
		return scaleStatus(j, snap.JobVersions(ns, id), snap.AllocsByJob(ns, id)), nil
	})
}

// scaleStatus derives a job's scale status. Pure.
func scaleStatus(j *cluster.Job, versions []*cluster.Job, allocs []*cluster.Allocation) *api.JobScaleStatus {
	st := &api.JobScaleStatus{
		JobID: j.ID, Namespace: j.Namespace, JobCreateIndex: j.CreateIndex, JobModifyIndex: j.JobModifyIndex,
		JobStopped: j.Stop, TaskGroups: map[string]api.TaskGroupScaleStatus{},
	}
	for _, g := range j.Spec.Groups {
		st.TaskGroups[g.Name] = api.TaskGroupScaleStatus{Desired: g.Count, Scaling: g.Scaling, Events: []*cluster.ScalingEvent{}}
	}
	for _, a := range allocs {
		g, ok := st.TaskGroups[a.TaskGroup]
		if !ok || a.Terminal() {
			continue
		}
		g.Placed++
		if a.ClientStatus == cluster.AllocClientRunning {
			g.Running++
		}
		if ds := a.DeploymentStatus; ds != nil && ds.Healthy != nil {
			if *ds.Healthy {
				g.Healthy++
			} else {
				g.Unhealthy++
			}
		}
		st.TaskGroups[a.TaskGroup] = g
	}
	vs := slices.Clone(versions)
	slices.SortFunc(vs, func(a, b *cluster.Job) int { return cmp.Compare(b.Version, a.Version) })
	// Each version holds the scale that made it and the count-less
	// events recorded while it was current; newest first across them.
	var evs []*cluster.ScalingEvent
	for _, v := range vs {
		if v.Scale != nil {
			evs = append(evs, v.Scale)
		}
		evs = append(evs, v.ScaleEvents...)
	}
	slices.SortStableFunc(evs, func(a, b *cluster.ScalingEvent) int {
		return cmp.Or(cmp.Compare(b.Time, a.Time), cmp.Compare(b.CreateIndex, a.CreateIndex))
	})
	for _, ev := range evs {
		g, ok := st.TaskGroups[ev.TaskGroup]
		if !ok || len(g.Events) >= maxScaleEvents {
			continue
		}
		g.Events = append(g.Events, ev)
		st.TaskGroups[ev.TaskGroup] = g
	}
	return st
}
