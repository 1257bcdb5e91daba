package server

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/state"
)

// Audit of API writes (issue 12, point 6). Every write that reaches a
// route is recorded with who sent it, the route, the object it named,
// the status it got and the time; never the secret. The leader records
// what it serves (forwarded writes included, once) in a buffer that one
// goroutine applies to Raft as one batch every auditFlushInterval, so a
// write costs no extra Raft round trip. The FSM keeps the newest
// state.DefaultAuditKeep entries.

const (
	auditFlushInterval = 250 * time.Millisecond
	// auditMaxPending bounds the buffer while Raft is slow: beyond it the
	// oldest pending entries are dropped, and the drop is logged.
	auditMaxPending = 4096
	// auditAnonymous is who writes to a server with neither ACLs nor a
	// token (a loopback-only development server).
	auditAnonymous = "anonymous (loopback, no ACL)"
	auditTokenFile = "management token (token_file)"
)

// auditRecorder buffers audit entries until the next flush.
type auditRecorder struct {
	mu      sync.Mutex
	pending []*cluster.AuditEntry
	dropped int
}

func (a *auditRecorder) add(e *cluster.AuditEntry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pending) >= auditMaxPending {
		a.pending = a.pending[1:]
		a.dropped++
	}
	a.pending = append(a.pending, e)
}

func (a *auditRecorder) take() ([]*cluster.AuditEntry, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out, dropped := a.pending, a.dropped
	a.pending, a.dropped = nil, 0
	return out, dropped
}

// runAudit flushes the audit buffer until ctx ends, then once more.
func (s *Server) runAudit(ctx context.Context) {
	if s.audit == nil {
		return
	}
	t := time.NewTicker(auditFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			s.flushAudit(flushCtx)
			cancel()
			return
		case <-t.C:
			s.flushAudit(ctx)
		}
	}
}

// flushAudit applies the pending entries as one Raft command. Entries
// recorded by a server that lost leadership meanwhile are dropped: the
// new leader records what it serves.
func (s *Server) flushAudit(ctx context.Context) {
	entries, dropped := s.audit.take()
	if dropped > 0 {
		s.logger.Warn("audit buffer full: oldest entries dropped", "dropped", dropped)
	}
	if len(entries) == 0 {
		return
	}
	if !s.raft.IsLeader() {
		s.logger.Warn("not the leader: audit entries dropped", "entries", len(entries))
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, _, err := s.raft.Apply(ctx, state.MsgAuditAppend, &state.AuditAppendRequest{Entries: entries, Now: time.Now()}); err != nil {
		s.logger.Error("record audit entries", "entries", len(entries), "err", err)
	}
}

// auditSlot lets a handler name the object of a write whose ID is in
// the body rather than the path (a job registration).
type auditSlot struct{ object string }

type auditSlotKey struct{}

// setAuditObject names the object of the current write.
func setAuditObject(ctx context.Context, object string) {
	if slot, ok := ctx.Value(auditSlotKey{}).(*auditSlot); ok {
		slot.object = object
	}
}

// statusRecorder keeps the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush on the real writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// withAudit records every write that reaches a registered route, after
// the answer (so refusals by withAuth are recorded as refused). Reads
// are not recorded. It creates the server's recorder.
func (s *Server) withAudit(rt *router, next http.Handler) http.Handler {
	s.audit = &auditRecorder{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		_, pattern := rt.mux.Handler(r)
		c, known := rt.caps[pattern]
		_, route, _ := strings.Cut(pattern, " ")
		if !known || route == "/" || route == "" {
			next.ServeHTTP(w, r)
			return
		}
		slot := &auditSlot{object: pathObject(route, r.URL.Path)}
		sw := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), auditSlotKey{}, slot)))
		if !s.raft.IsLeader() {
			// Forwarded (the leader records it) or refused here.
			return
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		s.audit.add(&cluster.AuditEntry{
			Who: s.auditWho(r, c, route), Method: r.Method, Route: route,
			Object: slot.object, Status: status, Time: time.Now().UTC(),
		})
	})
}

// auditWho names the sender of a request without its secret.
func (s *Server) auditWho(r *http.Request, c Capability, route string) string {
	switch c {
	case CapWebhook:
		return "webhook (HMAC)"
	case CapServerProof, CapJoinToken:
		return "server (" + string(c) + ")"
	}
	// A certificate names its holder: an agent by node ID, whatever
	// route it calls (a registration carries the ID in its body).
	if p := peerFrom(r.Context()); p != nil && p.Role == pki.CertRoleClient {
		return "node " + p.NodeID + " (certificate)"
	}
	if r.Header.Get(api.HeaderNodeSecret) != "" && strings.HasPrefix(route, "/v1/node/{id}") {
		return "node " + pathObject(route, r.URL.Path)
	}
	if s.cfg.Token == "" && !s.cfg.ACL {
		return auditAnonymous
	}
	secret, ok := requestToken(r)
	if !ok {
		return "no token"
	}
	id, err := s.resolveToken(secret, time.Now())
	if err != nil {
		return "unknown token"
	}
	return id.who()
}

// who names an identity for the audit log and job versions.
func (id *identity) who() string {
	if id == nil {
		return auditAnonymous
	}
	if id.token != nil {
		return id.token.AccessorID
	}
	if id.workload != nil { // variables_acl.go
		return "workload " + id.workload.Namespace + "/" + id.workload.JobID + "/" + id.workload.AllocID
	}
	return auditTokenFile
}

// pathObject returns the path segment that fills the route's first
// wildcard ({id}, {name}, {source}), or "".
func pathObject(route, path string) string {
	rs := strings.Split(strings.Trim(route, "/"), "/")
	ps := strings.Split(strings.Trim(path, "/"), "/")
	for i, seg := range rs {
		if strings.HasPrefix(seg, "{") && i < len(ps) {
			return ps[i]
		}
	}
	return ""
}

// submittedBy is who a hand-submitted job version records; versions
// made from a commit carry their source instead.
func submittedBy(r *http.Request, src *cluster.Source) string {
	if src != nil {
		return ""
	}
	return identityFrom(r.Context()).who()
}
