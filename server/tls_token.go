package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/atomicfile"
	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/state"
)

// Join tokens (server and client) are kept in the replicated keyring
// (tls_keyring.go), sealed, so that any server shows, checks and rotates
// them; the server that created the CA also keeps them in
// <data-dir>/server.join-token and <data-dir>/client.join-token (mode
// 0600) for `-join-token-file` on the same machine, and every server that
// keeps such a file rewrites it when a rotation reaches it. Before the
// keyring is published, the CA holder's files are the only copy and
// other servers forward to it.
//
// GET /v1/operator/join-token/{role} returns a token, and POST
// /v1/operator/join-token/{role}/rotate replaces it with a new secret for
// the same CA: the old token is refused from the next request on. Both
// need a management token, since a server join token makes its holder a
// Raft voter and a client join token lets its holder run a node.
const joinTokenPathPrefix = "/v1/operator/join-token/"

// joinTokenRoutes registers the join token routes.
func (s *Server) joinTokenRoutes(mux *router) {
	mux.handle("GET "+joinTokenPathPrefix+"{role}", CapManagement, s.read(s.joinTokenGet))
	mux.handle("POST "+joinTokenPathPrefix+"{role}/rotate", CapManagement, s.write(s.joinTokenRotate))
}

func (s *Server) joinTokenGet(w http.ResponseWriter, r *http.Request) error {
	return s.serveJoinToken(w, r, false)
}

func (s *Server) joinTokenRotate(w http.ResponseWriter, r *http.Request) error {
	return s.serveJoinToken(w, r, true)
}

func (s *Server) serveJoinToken(w http.ResponseWriter, r *http.Request, rotate bool) error {
	role := pki.Role(r.PathValue("role"))
	if role != pki.RoleServer && role != pki.RoleClient {
		return errorf(http.StatusNotFound, "join token role %q: there are server and client join tokens", role)
	}
	var out api.JoinTokenResponse
	switch {
	case s.signer() == nil && r.Header.Get(headerJoinForwarded) != "":
		return errorf(http.StatusServiceUnavailable, "this server does not hold the cluster CA key")
	case s.signer() == nil:
		auth := ""
		if tok, ok := requestToken(r); ok {
			auth = "Bearer " + tok
		}
		if err := s.forwardToCA(r.Context(), r.Method, r.URL.Path, nil, auth, &out); err != nil {
			return err
		}
	case rotate:
		tok, err := s.rotateJoinToken(r.Context(), role)
		if err != nil {
			return err
		}
		out = api.JoinTokenResponse{Token: tok.String(), CAFingerprint: pki.FingerprintString(tok.Fingerprint)}
	default:
		tok := s.joinToken(role)
		if tok == nil {
			return errorf(http.StatusServiceUnavailable, "this server has no %s join token", role)
		}
		out = api.JoinTokenResponse{Token: tok.String(), CAFingerprint: pki.FingerprintString(tok.Fingerprint)}
	}
	writeJSON(w, http.StatusOK, &out)
	return nil
}

// rotateJoinToken makes a new join token of role for the same CA and
// makes it the only one accepted: in the replicated keyring when there
// is one (a Raft write, so the leader's), and in this server's file.
func (s *Server) rotateJoinToken(ctx context.Context, role pki.Role) (pki.JoinToken, error) {
	s.tokenMu.Lock()
	defer s.tokenMu.Unlock()
	ca := s.signer()
	tok, err := pki.NewJoinToken(role, ca.Fingerprint())
	if err != nil {
		return pki.JoinToken{}, err
	}
	kek := s.kek.Load()
	if cur := s.raft.Store().Snapshot().TLSKeyring(); cur != nil && kek != nil {
		kr, err := s.sealKeyring(*kek, ca, &tok)
		if err != nil {
			return pki.JoinToken{}, err
		}
		if _, err := s.raft.TLSKeyringSet(ctx, &state.TLSKeyringSetRequest{Keyring: kr, CASIndex: cur.ModifyIndex}); err != nil {
			return pki.JoinToken{}, fmt.Errorf("rotate the %s join token: %w", role, err)
		}
	}
	path := joinTokenFile(s.cfg.DataDir, role)
	if err := atomicfile.Write(path, []byte(tok.String()+"\n"), 0o600); err != nil {
		return pki.JoinToken{}, err
	}
	s.localToken(role).Store(&tok)
	s.logger.Info("rotated a join token; the old one is refused from now on", "role", role, "path", path)
	return tok, nil
}
