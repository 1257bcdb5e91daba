package server

import (
	"net/http"
	"sort"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/state"
)

func (s *Server) sourceRoutes(mux *http.ServeMux) {
	mux.Handle("GET /v1/sync", s.read(s.syncList))
	mux.Handle("GET /v1/sync/{source}", s.read(s.syncGet))
	mux.Handle("POST /v1/job/{id}/deregister", s.write(s.jobStopWithSource))
	// Webhooks are served by the leader, whose reconcilers they kick;
	// followers forward them with the body and signature untouched.
	mux.Handle("POST /v1/webhooks/github", s.write(s.webhookGitHub))
	mux.Handle("POST /v1/webhooks/{source}", s.write(s.webhookSource))
}

// syncList is GET /v1/sync: every source's status, including configured
// sources the leader has not recorded anything for yet.
func (s *Server) syncList(w http.ResponseWriter, r *http.Request) error {
	return s.blocking(w, r, []string{state.TableSyncStatus}, func(snap *state.Snapshot) (any, error) {
		byName := map[string]*cluster.SyncStatus{}
		for _, st := range snap.SyncStatuses() {
			byName[st.Source] = st
		}
		for _, src := range s.sources.list {
			if byName[src.cfg.Name] == nil {
				byName[src.cfg.Name] = &cluster.SyncStatus{Source: src.cfg.Name, Repo: gitsource.RedactURL(src.cfg.URL), Ref: src.cfg.Branch}
			}
		}
		out := make([]*cluster.SyncStatus, 0, len(byName))
		for _, st := range byName {
			out = append(out, st)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
		return out, nil
	})
}

func (s *Server) syncGet(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("source")
	return s.blocking(w, r, []string{state.TableSyncStatus}, func(snap *state.Snapshot) (any, error) {
		if st := snap.SyncStatus(name); st != nil {
			return st, nil
		}
		if src := s.sources.byName[name]; src != nil {
			return &cluster.SyncStatus{Source: name, Repo: gitsource.RedactURL(src.cfg.URL), Ref: src.cfg.Branch}, nil
		}
		return nil, errorf(http.StatusNotFound, "no source %q", name)
	})
}

// jobStopWithSource is POST /v1/job/{id}/deregister: DELETE /v1/job/{id}
// with the provenance of the commit that removed the job's file and a
// check-and-set, for `drover reconcile --once`.
func (s *Server) jobStopWithSource(w http.ResponseWriter, r *http.Request) error {
	var req api.JobStopRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	ns, id := namespace(r), r.PathValue("id")
	cur := s.raft.Store().Snapshot().Job(ns, id)
	if cur == nil {
		return errorf(http.StatusNotFound, "job %q not found", id)
	}
	if cur.Stop {
		return s.reply(w, cur.ModifyIndex, &api.JobDeregisterResponse{JobModifyIndex: cur.JobModifyIndex, Index: cur.ModifyIndex})
	}
	cmd := &state.JobDeregisterRequest{Namespace: ns, JobID: id, Source: req.Source, CheckIndex: req.CheckIndex, Now: time.Now()}
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
