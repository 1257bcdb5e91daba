package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/droverhq/drover/state"
)

// auditRoutes registers the audit log's route.
func (s *Server) auditRoutes(mux *router) {
	mux.handle("GET /v1/operator/audit", CapOperatorRead, s.read(s.operatorAudit))
}

// operatorAudit lists the recorded writes at or after ?since (RFC 3339,
// or a duration back from now such as 1h), oldest first.
func (s *Server) operatorAudit(w http.ResponseWriter, r *http.Request) error {
	since, err := parseSince(r.URL.Query().Get("since"), time.Now())
	if err != nil {
		return err
	}
	snap := s.raft.Store().Snapshot()
	return s.reply(w, snap.Index(state.TableAudit), nonNil(snap.AuditEntries(since)))
}

// parseSince reads an RFC 3339 time or a duration before now; "" is the
// zero time (everything kept).
func parseSince(v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return time.Time{}, errorf(http.StatusBadRequest, "since %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a duration such as 1h", v)
	}
	return now.Add(-d), nil
}
