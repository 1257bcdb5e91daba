package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/render"
	"github.com/droverhq/drover/state"
	"github.com/droverhq/drover/ui"
)

// handler builds the API: routes, then (outermost first) panic recovery,
// the browser guard (Host, Origin and content type; browser.go),
// authentication with the capability each route declares (auth.go) and
// the body limit.
func (s *Server) handler() http.Handler {
	rt := newRouter()
	s.routes(rt)
	// The TLS join route sits inside the browser guard and panic
	// recovery but ahead of the token check: a joining server has no API
	// token; its join token authenticates it (http_tls.go).
	return s.withMetrics(rt, s.withRecover(s.withHalt(s.withBrowserGuard(s.withPeer(s.withTLSJoin(s.withAudit(rt, s.withAuth(rt, s.withBodyLimit(rt.mux)))))))))
}

// A route is served locally (local), by the leader with followers
// forwarding (write), or by the leader unless ?stale (read). Every route
// names the capability a token needs for it (acl.go).
func (s *Server) routes(mux *router) {
	// Jobs.
	mux.handle("GET /v1/jobs", CapListJobs, s.read(s.jobList))
	mux.handle("POST /v1/jobs", CapSubmitJob, s.write(s.jobRegister))
	mux.handle("PUT /v1/jobs", CapSubmitJob, s.write(s.jobRegister))
	mux.handle("GET /v1/job/{id}", CapReadJob, s.read(s.jobGet))
	mux.handle("DELETE /v1/job/{id}", CapSubmitJob, s.write(s.jobDeregister))
	mux.handle("GET /v1/job/{id}/versions", CapReadJob, s.read(s.jobVersions))
	mux.handle("GET /v1/job/{id}/history", CapReadJob, s.read(s.jobHistory)) // collected versions (gc.go)
	mux.handle("POST /v1/job/{id}/plan", CapSubmitJob, s.write(s.jobPlan))
	mux.handle("PUT /v1/job/{id}/plan", CapSubmitJob, s.write(s.jobPlan))
	mux.handle("GET /v1/job/{id}/allocations", CapReadJob, s.read(s.jobAllocs))
	mux.handle("GET /v1/job/{id}/evaluations", CapReadJob, s.read(s.jobEvals))
	mux.handle("GET /v1/job/{id}/deployments", CapReadJob, s.read(s.jobDeployments))
	mux.handle("POST /v1/job/{id}/periodic/force", CapSubmitJob, s.write(s.jobPeriodicForce))
	mux.handle("PUT /v1/job/{id}/periodic/force", CapSubmitJob, s.write(s.jobPeriodicForce))
	mux.handle("POST /v1/job/{id}/dispatch", CapDispatchJob, s.write(s.jobDispatch)) // dispatch.go
	mux.handle("PUT /v1/job/{id}/dispatch", CapDispatchJob, s.write(s.jobDispatch))
	mux.handle("POST /v1/job/{id}/scale", CapScaleJob, s.write(s.jobScale)) // job_scale.go
	mux.handle("PUT /v1/job/{id}/scale", CapScaleJob, s.write(s.jobScale))
	mux.handle("GET /v1/job/{id}/scale", CapReadJob, s.read(s.jobScaleStatus))

	// Nodes.
	mux.handle("GET /v1/nodes", CapNodeRead, s.read(s.nodeList))
	mux.handle("POST /v1/nodes", CapNodeSelfWrite, s.write(s.nodeRegister))
	mux.handle("PUT /v1/nodes", CapNodeSelfWrite, s.write(s.nodeRegister))
	mux.handle("GET /v1/node/{id}", CapNodeRead, s.read(s.nodeGet))
	mux.handle("PUT /v1/node/{id}/heartbeat", CapNodeSelfWrite, s.write(s.nodeHeartbeat))
	mux.handle("POST /v1/node/{id}/heartbeat", CapNodeSelfWrite, s.write(s.nodeHeartbeat))
	mux.handle("POST /v1/node/{id}/eligibility", CapNodeWrite, s.write(s.nodeEligibility))
	mux.handle("POST /v1/node/{id}/drain", CapNodeWrite, s.write(s.nodeDrain))
	mux.handle("GET /v1/node/{id}/allocations", CapNodeSelfRead, s.read(s.nodeAllocs))
	mux.handle("POST /v1/node/{id}/allocations", CapNodeSelfWrite, s.write(s.nodeUpdateAllocs))
	s.nodePoolRoutes(mux) // node pools (node_pools.go)

	// Allocations, evaluations, deployments.
	mux.handle("GET /v1/allocations", CapReadJob, s.read(s.allocList))
	mux.handle("GET /v1/allocation/{id}", CapReadJob, s.read(s.allocGet))
	// Workload identities (identity.go): an agent's node secret signs
	// for its own allocations; the key set is public, as in Nomad.
	mux.handle("POST /v1/allocation/{id}/identity", CapNodeSelfWrite, s.write(s.allocIdentity))
	mux.handle("GET /.well-known/jwks.json", CapPublic, s.local(s.jwks))
	mux.handle("GET /v1/allocation/{id}/exec-check", CapAllocExec, s.read(s.allocExecCheck)) // alloc_exec.go
	s.allocLogsRoutes(mux)                                                                   // task logs through the agent (alloc_logs.go)
	mux.handle("GET /v1/evaluations", CapReadJob, s.read(s.evalList))
	mux.handle("GET /v1/evaluation/{id}", CapReadJob, s.read(s.evalGet))
	mux.handle("GET /v1/deployments", CapReadJob, s.read(s.deploymentList))
	mux.handle("GET /v1/deployment/{id}", CapReadJob, s.read(s.deploymentGet))
	s.serviceRoutes(mux) // the native service catalog (services.go)
	// Every server streams its own events; the handler checks each event
	// against the token (event_stream.go).
	mux.handle("GET /v1/event/stream", CapAnyToken, s.local(s.eventStream))

	// The servers themselves.
	mux.handle("GET /v1/status/leader", CapAgentRead, s.local(s.statusLeader))
	mux.handle("GET /v1/status/peers", CapAgentRead, s.local(s.statusPeers))
	mux.handle("GET /v1/agent/health", CapPublic, s.local(s.agentHealth))
	mux.handle("GET /v1/agent/self", CapAgentRead, s.local(s.agentSelf))
	mux.handle("PUT /v1/system/gc", CapOperatorWrite, s.write(s.systemGC)) // gc.go
	// A joining server proves a server certificate of the cluster CA
	// (checkRaftJoinProof); with ACLs on it holds no operator token.
	mux.handle("POST /v1/operator/raft/join", CapServerProof, s.write(s.operatorRaftJoin))
	mux.handle("PUT /v1/operator/raft/join", CapServerProof, s.write(s.operatorRaftJoin))
	s.operatorRaftRoutes(mux) // raft configuration and remove-peer (operator_raft.go)
	s.snapshotRoutes(mux)     // snapshot save and restore (snapshot.go)
	s.sealRoutes(mux)         // sealed variables' age keys (seal_key.go)

	// Git sources: sync status and webhooks (http_sync.go, http_webhooks.go).
	s.sourceRoutes(mux)

	// Deployment actions (http_deployments.go).
	s.deploymentRoutes(mux)

	// ACL policies and tokens (acl_http.go).
	s.aclRoutes(mux)
	s.auditRoutes(mux)   // audit_http.go
	s.metricsRoutes(mux) // GET /v1/metrics (metrics.go)

	// Variables and the root keyring (variables.go, keyring.go).
	s.variableRoutes(mux)

	// Served ahead of the mux, by join token (http_tls.go).
	mux.declare(http.MethodPost, tlsJoinPath, CapJoinToken)
	mux.declare(http.MethodPut, tlsJoinPath, CapJoinToken)
	mux.declare(http.MethodPost, tlsRenewPath, CapServerProof)
	mux.declare(http.MethodPut, tlsRenewPath, CapServerProof)
	s.joinTokenRoutes(mux)

	// The web UI (package ui): static pages and a script that call the
	// API above with the operator's token, so it needs no capability of
	// its own.
	mux.handle("GET /ui/", CapPublic, ui.Handler())
	mux.handle("GET /ui", CapPublic, http.RedirectHandler(ui.Prefix, http.StatusFound))

	mux.handle("/", CapPublic, s.local(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path)
	}))
}

// apiFunc is a handler that returns its error for one place to map it
// to a status code.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) local(h apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) read(h apiFunc) http.Handler {
	return s.local(func(w http.ResponseWriter, r *http.Request) error {
		if forwarded, err := s.forward(w, r, false); forwarded || err != nil {
			return err
		}
		return h(w, r)
	})
}

func (s *Server) write(h apiFunc) http.Handler {
	return s.local(func(w http.ResponseWriter, r *http.Request) error {
		if forwarded, err := s.forward(w, r, true); forwarded || err != nil {
			return err
		}
		return h(w, r)
	})
}

// httpError is an error with the status code it answers.
type httpError struct {
	code  int
	msg   string
	diags []render.DiagnosticJSON
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

// writeError answers an error. State errors map to the codes a client
// can act on; anything else is the server's fault (500) and is logged.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := http.StatusInternalServerError, err.Error()
	var diags []render.DiagnosticJSON
	var he *httpError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		code, diags = he.code, he.diags
	case errors.As(err, &mbe):
		code = http.StatusRequestEntityTooLarge
		msg = fmt.Sprintf("request body is larger than the limit of %d bytes", mbe.Limit)
	case errors.Is(err, state.ErrCASConflict):
		code = http.StatusConflict
	case errors.Is(err, state.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, state.ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, state.ErrNotLeader), errors.Is(err, state.ErrLeadershipLost), errors.Is(err, state.ErrShutdown):
		code = http.StatusServiceUnavailable
		msg += " (retry: the cluster is changing leaders)"
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		// The client went away or the server stops; nobody reads this.
		code = http.StatusServiceUnavailable
	}
	if code >= 500 && code != http.StatusServiceUnavailable {
		s.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	s.setMeta(w, s.raft.Store().Snapshot().Index())
	writeJSON(w, code, api.Error{Error: msg, Diagnostics: diags})
}

// reply answers 200 with v and the index it reflects.
func (s *Server) reply(w http.ResponseWriter, index uint64, v any) error {
	s.setMeta(w, index)
	writeJSON(w, http.StatusOK, v)
	return nil
}

// setMeta sets the headers every answer carries.
func (s *Server) setMeta(w http.ResponseWriter, index uint64) {
	h := w.Header()
	h.Set(api.HeaderIndex, strconv.FormatUint(max(index, 1), 10))
	_, leaderID := s.raft.Leader()
	h.Set(api.HeaderKnownLeader, strconv.FormatBool(leaderID != ""))
	lc := s.raft.LastContact()
	if lc < 0 {
		lc = 0
	}
	h.Set(api.HeaderLastContact, strconv.FormatInt(lc.Milliseconds(), 10))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client may be gone; nothing to do about it
}

// decodeBody decodes a JSON request body into v: 413 beyond the limit,
// 400 for anything that is not exactly one JSON value of the right shape.
// Unknown object keys are refused (a typo such as "resourcez" must not be
// dropped silently): the 400 names the key, where it was, and the nearest
// field the destination knows there.
func decodeBody(r *http.Request, v any) error {
	// The body is already capped by withBodyLimit; reading it whole lets
	// the unknown-field error be located by a second pass over the bytes.
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errorf(http.StatusBadRequest, "read request body: %v", err)
	}
	return decodeStrict(data, v)
}

// withBodyLimit caps request bodies; reading past the cap fails with
// *http.MaxBytesError, which answers 413.
func (s *Server) withBodyLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := s.cfg.MaxBodyBytes
		if isSnapshotRestore(r) {
			// The whole state: its own, larger bound (snapshot.go).
			limit = s.cfg.SnapshotRestoreMaxBytes
		}
		if r.ContentLength > limit {
			s.writeError(w, r, &http.MaxBytesError{Limit: limit})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// withRecover turns a handler panic into a 500 instead of a dropped
// connection, and logs it: a bug, but one request's.
func (s *Server) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeJSON(w, http.StatusInternalServerError, api.Error{Error: "internal server error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// withHalt refuses every request once this server stopped at a corrupt
// Raft log entry (state.FSM.Halted): its state no longer follows the
// log, so any answer could be one the other servers would not give. The
// server is shutting down meanwhile (run).
func (s *Server) withHalt(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.raft.HaltErr(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, api.Error{Error: "this server stopped: " + err.Error() + "; ask another server"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// namespace returns the ?namespace= of a request, "default" when absent.
func namespace(r *http.Request) string {
	if ns := strings.TrimSpace(r.URL.Query().Get("namespace")); ns != "" {
		return ns
	}
	return "default"
}

// nonNil makes lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
