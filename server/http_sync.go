package server

import (
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/state"
)

func (s *Server) sourceRoutes(mux *router) {
	mux.handle("GET /v1/sync", CapReadJob, s.read(s.syncList))
	mux.handle("GET /v1/sync/{source}", CapReadJob, s.read(s.syncGet))
	mux.handle("GET /v1/sync/{source}/commit/{sha}/plan", CapReadJob, s.read(s.syncCommitPlan)) // sync_commit_plan.go
	mux.handle("POST /v1/sync/{source}/retry", CapSubmitJob, s.write(s.syncRetry))
	mux.handle("POST /v1/job/{id}/deregister", CapSubmitJob, s.write(s.jobStopWithSource))
	// Webhooks are served by the leader, whose reconcilers they kick;
	// followers forward them with the body and signature untouched.
	mux.handle("POST /v1/webhooks/github", CapWebhook, s.write(s.countWebhook(s.webhookGitHub)))
	mux.handle("POST /v1/webhooks/{source}", CapWebhook, s.write(s.countWebhook(s.webhookSource)))
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

// syncRetry is POST /v1/sync/{source}/retry: `drover sync retry`. It
// records in the source's status that its newest commit, whose rollout
// failed, is to be applied again, and kicks the reconciler, which
// consumes the request. Only a failed commit is retried: a rejected one
// has invalid files, and an applied one has nothing to retry.
func (s *Server) syncRetry(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("source")
	src := s.sources.byName[name]
	if src == nil {
		return errorf(http.StatusNotFound, "no source %q", name)
	}
	for attempt := 0; ; attempt++ {
		prev := s.raft.Store().Snapshot().SyncStatus(name)
		commit, n, err := retryable(prev)
		if err != nil {
			return err
		}
		st := *prev
		st.Retry = &cluster.SyncRetry{Commit: commit, RequestedAt: time.Now()}
		check := prev.ModifyIndex
		idx, _, err := s.raft.Apply(r.Context(), state.MsgSyncStatusUpsert, &state.SyncStatusRequest{Status: &st, Now: time.Now(), CheckIndex: &check})
		if errors.Is(err, state.ErrCASConflict) && attempt < 4 {
			continue // the reconciler wrote meanwhile: look again
		}
		if err != nil {
			return err
		}
		src.trigger.Kick()
		s.logger.Info("sync retry requested", "source", name, "commit", commit, "attempt", n)
		return s.reply(w, idx, &api.SyncRetryResponse{Commit: commit, Attempt: n, Index: idx})
	}
}

// retryable returns the commit a retry would apply again and the
// attempt's number, or an error saying why there is nothing to retry.
func retryable(st *cluster.SyncStatus) (string, int, error) {
	if st == nil || st.LastSeen == "" {
		return "", 0, errorf(http.StatusConflict, "nothing to retry: the source has not synced a commit yet")
	}
	short := st.LastSeen[:min(len(st.LastSeen), 7)]
	n := 0
	var newest *cluster.CommitOutcome
	for i := range st.Commits {
		if o := &st.Commits[i]; o.Commit == st.LastSeen {
			if newest == nil {
				newest = o
			}
			n = max(n, o.Retry)
		}
	}
	switch {
	case newest == nil:
		return "", 0, errorf(http.StatusConflict, "nothing to retry: %s has no recorded outcome yet (see drover sync status)", short)
	case newest.Outcome == cluster.CommitRejected:
		return "", 0, errorf(http.StatusConflict, "%s was rejected (invalid files or a refused prune) and would be again: push a fix", short)
	case newest.Outcome != cluster.CommitFailed:
		return "", 0, errorf(http.StatusConflict, "nothing to retry: %s is %s, not failed", short, describeOutcome(newest))
	case st.Retry != nil && st.Retry.Commit == st.LastSeen:
		return "", 0, errorf(http.StatusConflict, "a retry of %s is already under way (asked %s)", short, st.Retry.RequestedAt.UTC().Format(time.RFC3339))
	}
	return st.LastSeen, n + 1, nil
}

func describeOutcome(o *cluster.CommitOutcome) string {
	if o.Health != "" {
		return o.Outcome + " (" + o.Health + ")"
	}
	return o.Outcome
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
