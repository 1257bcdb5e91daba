package server

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// withAuth requires the configured token on every request except the
// health check, which load balancers and supervisors probe without one,
// and webhooks, which forges cannot send a token with: they authenticate
// by the HMAC signature of their body instead (http_webhooks.go).
// A missing token is 401 and a wrong one 403; neither reaches a handler,
// so nothing changes.
func (s *Server) withAuth(next http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return next
	}
	want := []byte(s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/v1/agent/health" || isWebhook(r) {
			next.ServeHTTP(w, r)
			return
		}
		got, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="drover"`)
			s.writeError(w, r, errorf(http.StatusUnauthorized, "missing token: send \"Authorization: Bearer <token>\" (set DROVER_TOKEN)"))
			return
		}
		// ConstantTimeCompare leaks only the length, not how much of the
		// token matched.
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			s.writeError(w, r, errorf(http.StatusForbidden, "invalid token"))
			return
		}
		next.ServeHTTP(w, r)
	})
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
