package server

import (
	"net/http"
	"path/filepath"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/pki"
)

// The server join token lives with the CA key, on the server that
// created the cluster (<data-dir>/server.join-token, mode 0600), since
// that server alone checks join tokens and signs: the others forward
// join requests to it. It is not in Raft: a hash there would let every
// server check a token, but none of them could sign, and the file must
// hold the token itself for `drover operator join-token -data-dir`.
// When the CA key is replicated (issue 12, point 1) the token moves into
// Raft with it.
//
// GET /v1/operator/join-token/server returns it, and POST
// /v1/operator/join-token/server/rotate replaces it with a new secret
// for the same CA: the file is rewritten, then the token in memory is
// swapped, so the old token is refused from the next request on. Both
// need a management token, since a join token makes its holder a Raft
// voter, and any server answers by asking the CA's holder.
const joinTokenPathPrefix = "/v1/operator/join-token/"

// joinTokenRoutes registers the join token routes.
func (s *Server) joinTokenRoutes(mux *router) {
	mux.handle("GET "+joinTokenPathPrefix+"{role}", CapManagement, s.local(s.joinTokenGet))
	mux.handle("POST "+joinTokenPathPrefix+"{role}/rotate", CapManagement, s.local(s.joinTokenRotate))
}

func (s *Server) joinTokenGet(w http.ResponseWriter, r *http.Request) error {
	return s.serveJoinToken(w, r, false)
}

func (s *Server) joinTokenRotate(w http.ResponseWriter, r *http.Request) error {
	return s.serveJoinToken(w, r, true)
}

func (s *Server) serveJoinToken(w http.ResponseWriter, r *http.Request, rotate bool) error {
	if role := r.PathValue("role"); role != string(pki.RoleServer) {
		return errorf(http.StatusNotFound, "join token role %q: only server join tokens exist for now", role)
	}
	var out api.JoinTokenResponse
	switch {
	case s.ca == nil && r.Header.Get(headerJoinForwarded) != "":
		return errorf(http.StatusServiceUnavailable, "this server does not hold the cluster CA key")
	case s.ca == nil:
		auth := ""
		if tok, ok := requestToken(r); ok {
			auth = "Bearer " + tok
		}
		if err := s.forwardToCA(r.Context(), r.Method, r.URL.Path, nil, auth, &out); err != nil {
			return err
		}
	case rotate:
		tok, err := s.rotateServerJoinToken()
		if err != nil {
			return err
		}
		out = api.JoinTokenResponse{Token: tok.String(), CAFingerprint: pki.FingerprintString(tok.Fingerprint)}
	default:
		tok := s.serverToken.Load()
		if tok == nil {
			return errorf(http.StatusServiceUnavailable, "this server has no server join token")
		}
		out = api.JoinTokenResponse{Token: tok.String(), CAFingerprint: pki.FingerprintString(tok.Fingerprint)}
	}
	writeJSON(w, http.StatusOK, &out)
	return nil
}

// rotateServerJoinToken makes a new server join token for the same CA,
// writes it, and makes it the only one accepted.
func (s *Server) rotateServerJoinToken() (pki.JoinToken, error) {
	s.tokenMu.Lock()
	defer s.tokenMu.Unlock()
	tok, err := pki.NewJoinToken(pki.RoleServer, s.ca.Fingerprint())
	if err != nil {
		return pki.JoinToken{}, err
	}
	path := filepath.Join(s.cfg.DataDir, serverJoinTokFile)
	if err := writeFileAtomic(path, []byte(tok.String()+"\n")); err != nil {
		return pki.JoinToken{}, err
	}
	s.serverToken.Store(&tok)
	s.logger.Info("rotated the server join token; the old one is refused from now on", "path", path)
	return tok, nil
}
