package server

import (
	"net/http"
	"strings"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

// syncCommitPlan is GET /v1/sync/{source}/commit/{sha}/plan: the plan the
// reconciler kept in the commit's newest record (reconciler/
// commit_plan.go), as `drover reconcile --plan` printed it, with
// sensitive values masked. sha is the full commit or a prefix of at
// least 7 characters; ?format=text answers the plan alone, as text.
func (s *Server) syncCommitPlan(w http.ResponseWriter, r *http.Request) error {
	name, sha := r.PathValue("source"), strings.ToLower(r.PathValue("sha"))
	if len(sha) < 7 || len(sha) > 64 || strings.Trim(sha, "0123456789abcdef") != "" {
		return errorf(http.StatusBadRequest, "commit %q is not a commit SHA: give at least its first 7 hex digits, as `drover sync status` shows them", r.PathValue("sha"))
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "text" {
		return errorf(http.StatusBadRequest, "format %q is unknown: use json (the default) or text", format)
	}
	snap := s.raft.Store().Snapshot()
	st := snap.SyncStatus(name)
	if st == nil {
		return errorf(http.StatusNotFound, "no sync status for source %q: see the sources with `drover sync status`", name)
	}
	var o *cluster.CommitOutcome
	for i := range st.Commits {
		c := &st.Commits[i]
		if !strings.HasPrefix(c.Commit, sha) {
			continue
		}
		if o != nil && o.Commit != c.Commit {
			return errorf(http.StatusBadRequest, "commit %q is ambiguous in source %q: give more of its SHA", sha, name)
		}
		if o == nil {
			o = c // newest first: the newest record of the commit
		}
	}
	if o == nil {
		return errorf(http.StatusNotFound, "source %q has no record of commit %q: only its newest commits are kept (`drover sync status %s`)", name, sha, name)
	}
	if o.Plan == "" {
		return errorf(http.StatusNotFound, "source %q kept no plan of commit %s: rejected before it was planned, or older than the newest commits, whose plans are kept", name, o.Commit[:min(len(o.Commit), 7)])
	}
	if format == "text" {
		s.setMeta(w, st.ModifyIndex)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write([]byte(o.Plan)) // the client may be gone; nothing to do about it
		return nil
	}
	return s.reply(w, st.ModifyIndex, &api.CommitPlan{Source: name, Commit: o.Commit, Subject: o.Subject, Outcome: o.Outcome, Time: o.Time, Plan: o.Plan})
}
