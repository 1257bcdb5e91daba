package server

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// withAuth authenticates every request and checks the capability its
// route declares (router.handle). Health checks and the catch-all 404
// are public; webhooks authenticate by the HMAC signature of their body
// (http_webhooks.go), which forges send instead of a token.
//
// With neither ACLs nor a token configured (a loopback-only server),
// everything passes. Otherwise a missing token is 401, and an unknown,
// expired or insufficient one 403; neither reaches a handler, so nothing
// changes. Followers check tokens against their own replicated state, so
// a revoke is refused on every server as soon as it is applied there.
func (s *Server) withAuth(rt *router, next http.Handler) http.Handler {
	if s.cfg.Token == "" && !s.cfg.ACL {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, known := rt.capability(r)
		if known && c.unauthenticated() {
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
		if !known && !id.management || known && !id.allow(c, namespace(r)) {
			if !known {
				c = CapManagement
			}
			s.writeError(w, r, errorf(http.StatusForbidden, "permission denied: %s %s needs the %s capability, which this token's policies do not grant", r.Method, r.URL.Path, c))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
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
