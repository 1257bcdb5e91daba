package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/droverhq/drover/pki"
)

// withAuth authenticates every request and checks the capability its
// route declares (router.handle). Health checks and the catch-all 404
// are public; webhooks authenticate by the HMAC signature of their body
// (http_webhooks.go), which forges send instead of a token.
//
// An HTTPS request needs a client certificate of the cluster CA
// (Config.VerifyHTTPSClient). With neither ACLs nor a token configured,
// everything else passes. Otherwise a missing token is 401, and an unknown,
// expired or insufficient one 403; neither reaches a handler, so nothing
// changes. Followers check tokens against their own replicated state, so
// a revoke is refused on every server as soon as it is applied there.
func (s *Server) withAuth(rt *router, next http.Handler) http.Handler {
	tokens := s.cfg.Token != "" || s.cfg.ACL
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, known := rt.capability(r)
		if known && c.unauthenticated() {
			next.ServeHTTP(w, r)
			return
		}
		if s.needsClientCert(r) {
			s.writeError(w, r, errClientCertRequired)
			return
		}
		// A certificate is the identity of agents and servers: they hold
		// no API token. What it grants is narrow and fixed (certIdentity).
		if id := certIdentity(peerFrom(r.Context()), c, rt.pattern(r), known); id != nil {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
			return
		}
		if !tokens {
			next.ServeHTTP(w, r)
			return
		}
		secret, ok := requestToken(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="drover"`)
			s.writeError(w, r, errorf(http.StatusUnauthorized, "missing token: send \"Authorization: Bearer <token>\" (set DROVER_TOKEN)"))
			return
		}
		id, err := s.resolveToken(secret, time.Now())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		// A request that reaches no declared route (a redirect, a refused
		// method) is for management tokens only: fail closed.
		if !known && !id.management || known && !id.allow(c, namespace(r)) && !workloadRoute(id, rt.pattern(r), namespace(r)) {
			if !known {
				c = CapManagement
			}
			s.writeError(w, r, errorf(http.StatusForbidden, "permission denied: %s %s needs the %s capability, which this token's policies do not grant", r.Method, r.URL.Path, c))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
}

// nodeJobRoutes are the job reads an agent makes for the allocations it
// runs; the handlers allow a node's certificate only the jobs it has
// allocations of (checkNodeJob).
var nodeJobRoutes = map[string]bool{"GET /v1/job/{id}": true, "GET /v1/job/{id}/versions": true}

// certIdentity is what a certificate alone grants on a route with
// capability c (registered as pattern): an agent's client certificate
// its node's own routes and the jobs of its allocations (the handlers
// check that the node is the certificate's), a server's certificate
// reading another server's self. Nil means the request needs a token
// like any other.
func certIdentity(p *pki.Peer, c Capability, pattern string, known bool) *identity {
	switch {
	case p == nil || !known:
		return nil
	case p.Role == pki.CertRoleClient && (c == CapNodeSelfWrite || c == CapNodeSelfRead || nodeJobRoutes[pattern]):
		return &identity{node: p.NodeID}
	case p.Role == pki.CertRoleServer && c == CapAgentRead:
		return &identity{server: true}
	}
	return nil
}

// requestToken extracts the API token: "Authorization: Bearer <token>",
// or Nomad's X-Nomad-Token, or X-Drover-Token.
func requestToken(r *http.Request) (string, bool) {
	if tok, ok := bearer(r); ok {
		return tok, true
	}
	for _, h := range []string{"X-Drover-Token", "X-Nomad-Token"} {
		if tok := strings.TrimSpace(r.Header.Get(h)); tok != "" {
			return tok, true
		}
	}
	return "", false
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
