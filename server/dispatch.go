package server

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/state"
)

// Dispatch, Nomad's model: a parameterized job is a template that never
// runs itself; each dispatch registers a child job
// `<id>/dispatch-<unix>-<8 hex>` (with an ID prefix template,
// `<id>/dispatch-<template>-<unix>-<8 hex>`): the parent's spec without
// its parameterized block, the dispatch's meta merged into the job's,
// and its payload, which the agent writes to each task's
// dispatch_payload file. The child and its evaluation are one Raft
// command (state.MsgJobDispatch), which also checks, against the state
// it writes to, that the parent is still parameterized and running and
// that it has fewer than Config.DispatchMaxChildren unfinished children.
// Finished children are collected by the GC like periodic ones.

// DefaultDispatchMaxChildren bounds the unfinished dispatched children of
// one parameterized job: every child is a job in each server's memory
// and in every snapshot, and a loop dispatching without end would
// otherwise fill them. The server's config file sets another bound with
// dispatch_max_children; every server should have the same, since
// whichever leads checks dispatches.
const DefaultDispatchMaxChildren = 10_000

// Bounds of the other parts of a dispatch. The payload's is Nomad's.
const (
	dispatchMaxMetaBytes       = 64 << 10
	dispatchMaxIDPrefixLen     = 64
	dispatchMaxTokenLen        = 256
	dispatchPayloadRequired    = "required"
	dispatchPayloadForbidden   = "forbidden"
	dispatchPayloadOptionalDef = "optional"
)

// dispatchProblem checks a dispatch's payload and meta against the
// parameterized block and says what is wrong, with Nomad's messages (and
// what to do about each); "" when nothing is. A string, not an error:
// Nomad's sentences start with a capital.
func dispatchProblem(p *jobspec.Parameterized, payload []byte, meta map[string]string) string {
	mode := p.Payload
	if mode == "" {
		mode = dispatchPayloadOptionalDef
	}
	switch {
	case mode == dispatchPayloadRequired && len(payload) == 0:
		return "Payload is not provided but required by parameterized job: give a payload file, or - for standard input"
	case mode == dispatchPayloadForbidden && len(payload) != 0:
		return "Payload provided but forbidden by parameterized job: dispatch without a payload"
	case len(payload) > api.DispatchPayloadMaxBytes:
		return fmt.Sprintf("Payload exceeds maximum size; %d > %d: put the data somewhere the task can fetch it and pass its location in -meta",
			len(payload), api.DispatchPayloadMaxBytes)
	}
	size := 0
	for k, v := range meta {
		size += len(k) + len(v)
	}
	if size > dispatchMaxMetaBytes {
		return fmt.Sprintf("Dispatch meta is %d bytes; at most %d are accepted: pass large values in the payload", size, dispatchMaxMetaBytes)
	}
	var unpermitted, missing []string
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		if !slices.Contains(p.MetaRequired, k) && !slices.Contains(p.MetaOptional, k) {
			unpermitted = append(unpermitted, k)
		}
	}
	if len(unpermitted) > 0 {
		return fmt.Sprintf("Dispatch request included unpermitted metadata keys: %v (the job accepts meta_required %v and meta_optional %v)",
			unpermitted, orEmpty(p.MetaRequired), orEmpty(p.MetaOptional))
	}
	for _, k := range p.MetaRequired {
		if _, ok := meta[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Sprintf("Dispatch did not provide required meta keys: %v (give each with -meta KEY=VALUE)", missing)
	}
	return ""
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// idPrefixProblem applies the job ID rules to an ID prefix template,
// which becomes part of the child's ID (and of URLs and command lines),
// and says what is wrong; "" when nothing is.
func idPrefixProblem(t string) string {
	if t == "" {
		return ""
	}
	if len(t) > dispatchMaxIDPrefixLen {
		return fmt.Sprintf("IdPrefixTemplate is %d bytes; at most %d are allowed", len(t), dispatchMaxIDPrefixLen)
	}
	if err := jobspec.CheckName(jobspec.JobIDName, t); err != nil {
		return "IdPrefixTemplate: " + strings.TrimPrefix(err.Error(), string(jobspec.JobIDName)+" ")
	}
	return ""
}

// dispatchedID is Nomad's DispatchedID: the parent, "/dispatch-", the
// template if any, the dispatch time in Unix seconds and 8 random hex
// digits.
func dispatchedID(parent, template string, now time.Time, random string) string {
	if template != "" {
		return fmt.Sprintf("%s%s%s-%d-%s", parent, state.DispatchSuffix, template, now.Unix(), random)
	}
	return fmt.Sprintf("%s%s%d-%s", parent, state.DispatchSuffix, now.Unix(), random)
}

// dispatchChild derives the child a dispatch registers, with its
// evaluation (nil for a periodic child: the leader launches its own
// children on schedule, as Nomad does with a periodic parameterized
// job's dispatches).
func dispatchChild(parent *cluster.Job, req *api.JobDispatchRequest, now time.Time, random string) (*cluster.Job, *cluster.Evaluation, error) {
	// A JSON round trip is a deep copy: the parent's record is shared
	// with the store.
	raw, err := json.Marshal(parent.Spec)
	if err != nil {
		return nil, nil, err
	}
	spec := new(jobspec.Job)
	if err := json.Unmarshal(raw, spec); err != nil {
		return nil, nil, err
	}
	id := dispatchedID(parent.ID, req.IdPrefixTemplate, now, random)
	spec.ID, spec.Name, spec.Parameterized = id, id, nil
	if len(req.Meta) > 0 {
		if spec.Meta == nil {
			spec.Meta = make(map[string]string, len(req.Meta))
		}
		maps.Copy(spec.Meta, req.Meta)
	}
	spec.Payload = nil
	if len(req.Payload) > 0 {
		spec.Payload = slices.Clone(req.Payload)
	}
	if req.Priority > 0 {
		spec.Priority = req.Priority
	}
	// No Source: the child comes from no file, and a Git source must
	// neither prune it nor count it as one of its jobs.
	child := &cluster.Job{Namespace: parent.Namespace, ID: id, Spec: spec, Hash: spec.Hash(), ParentID: parent.ID}
	if spec.Periodic != nil {
		return child, nil, nil
	}
	eval := &cluster.Evaluation{
		ID: newID(), Namespace: parent.Namespace, JobID: id, Type: spec.Type, Priority: evalPriority(spec),
		TriggeredBy: cluster.EvalTriggerJobRegister, Status: cluster.EvalStatusPending,
	}
	return child, eval, nil
}

// jobDispatch dispatches a parameterized job (POST /v1/job/{id}/dispatch).
func (s *Server) jobDispatch(w http.ResponseWriter, r *http.Request) error {
	ns, id := namespace(r), r.PathValue("id")
	setAuditObject(r.Context(), id)
	var req api.JobDispatchRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.JobID != "" && req.JobID != id {
		return errorf(http.StatusBadRequest, "JobID %q in the body is not the job %q of the URL; leave it out or make them agree", req.JobID, id)
	}
	if req.Priority < 0 || req.Priority > 100 {
		return errorf(http.StatusBadRequest, "Priority %d: want 1 to 100, or 0 for the job's own", req.Priority)
	}
	if p := idPrefixProblem(req.IdPrefixTemplate); p != "" {
		return errorf(http.StatusBadRequest, "%s", p)
	}
	// Nomad's client sends the token as a query parameter, not in the
	// body.
	token := r.URL.Query().Get("idempotency_token")
	if len(token) > dispatchMaxTokenLen {
		return errorf(http.StatusBadRequest, "idempotency_token is %d bytes; at most %d are accepted", len(token), dispatchMaxTokenLen)
	}
	parent := s.raft.Store().Snapshot().Job(ns, id)
	switch {
	case parent == nil:
		return errorf(http.StatusNotFound, "parameterized job %q not found in namespace %q (run 'drover job status' to list jobs)", id, ns)
	case parent.Spec == nil || parent.Spec.Parameterized == nil:
		return errorf(http.StatusBadRequest, "Specified job %q is not a parameterized job: only a job with a parameterized block can be dispatched", id)
	case parent.Stop:
		return errorf(http.StatusBadRequest, "Specified job %q is stopped: run it again ('drover job run') before dispatching it", id)
	}
	if p := dispatchProblem(parent.Spec.Parameterized, req.Payload, req.Meta); p != "" {
		return errorf(http.StatusBadRequest, "%s", p)
	}
	now := s.now()
	child, eval, err := dispatchChild(parent, &req, now, newID()[:8])
	if err != nil {
		return fmt.Errorf("derive the dispatched job of %s: %w", id, err)
	}
	child.DispatchIdempotencyToken = token
	cmd := &state.JobDispatchRequest{
		Namespace: ns, ParentID: id, Child: child, Eval: eval,
		MaxChildren: s.cfg.DispatchMaxChildren, Now: now,
	}
	idx, raw, err := s.raft.Apply(r.Context(), state.MsgJobDispatch, cmd)
	switch {
	case state.IsTooManyChildren(err):
		return errorf(http.StatusTooManyRequests, "%s; the limit is dispatch_max_children (%d) in the server's config file",
			strings.TrimPrefix(err.Error(), state.ErrTooManyChildren.Error()+": "), s.cfg.DispatchMaxChildren)
	case err != nil:
		return err
	}
	resp := &api.JobDispatchResponse{DispatchedJobID: child.ID, JobCreateIndex: idx, Index: idx}
	if out, ok := raw.(*state.JobDispatchResponse); ok {
		resp.JobCreateIndex = out.JobCreateIndex
		if out.Existing {
			// The same token dispatched this child already: its ID, no
			// new evaluation.
			resp.DispatchedJobID = out.ChildID
			return s.reply(w, idx, resp)
		}
	}
	if eval != nil {
		resp.EvalID, resp.EvalCreateIndex = eval.ID, idx
	}
	s.logger.Debug("job dispatched", "job", id, "namespace", ns, "child", child.ID, "payload_bytes", len(req.Payload))
	return s.reply(w, idx, resp)
}
