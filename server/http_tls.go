package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/pki"
)

// tlsJoinPath is where a joining server trades its join token and a
// certificate request for a server certificate. It is served ahead of
// the API's token check: a joining server has no API token, and the join
// token is its credential. The CA's holder checks it in constant time.
const tlsJoinPath = "/v1/operator/tls/join"

// headerJoinForwarded marks a join request a server without the CA key
// forwarded to the others, so that it is not forwarded again.
const headerJoinForwarded = "X-Drover-Join-Forwarded"

// maxJoinBody bounds a join request: a CSR and a token fit in 8 KiB.
const maxJoinBody = 8 << 10

// The join's wire types are api.TLSJoinRequest and api.TLSJoinResponse.

// withTLSJoin serves, ahead of the API's token check, the join route
// (authenticated by the join token) and the renewal route (by a server
// certificate proof, tls_renew.go); both are declared in routes() with
// those capabilities. It passes every other request to the API.
func (s *Server) withTLSJoin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var serve func(*http.Request) (*api.TLSJoinResponse, error)
		switch r.URL.Path {
		case tlsJoinPath:
			serve = s.tlsJoin
		case tlsRenewPath:
			serve = s.tlsRenew
		default:
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			s.writeError(w, r, errorf(http.StatusMethodNotAllowed, "method %s not allowed", r.Method))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxJoinBody)
		resp, err := serve(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

// tlsJoin signs a joining server's certificate request if its token is
// this cluster's server join token. A server without the CA key
// forwards the request to the other servers it knows.
func (s *Server) tlsJoin(r *http.Request) (*api.TLSJoinResponse, error) {
	var req api.TLSJoinRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	tok, err := pki.ParseJoinToken(req.Token)
	if err != nil {
		return nil, errorf(http.StatusForbidden, "join: %v; a server joins with the server join token "+
			"('drover operator join-token server' prints it), an agent with the client join token ('drover operator join-token client')", err)
	}
	if r.Header.Get(headerJoinForwarded) == "" && !s.raft.IsLeader() {
		// The leader has every rotation applied; a follower may lag
		// behind one by a moment and accept a token just rotated out.
		if resp, ok, err := s.forwardJoinToLeader(r.Context(), &req); ok {
			return resp, err
		}
	}
	ca := s.signer()
	if ca == nil {
		if r.Header.Get(headerJoinForwarded) != "" {
			return nil, errorf(http.StatusServiceUnavailable, "join: this server does not hold the cluster CA key")
		}
		return s.forwardTLS(r.Context(), tlsJoinPath, &req)
	}
	if tok.Fingerprint != ca.Fingerprint() {
		s.logger.Warn("join: refused a join token of another CA", "remote", r.RemoteAddr)
		return nil, errorf(http.StatusForbidden, "join: the join token is for another cluster's CA (%s; this cluster's is %s): "+
			"use this cluster's %s join token ('drover operator join-token %s')",
			pki.FingerprintString(tok.Fingerprint), pki.FingerprintString(ca.Fingerprint()), tok.Role, tok.Role)
	}
	if cur := s.joinToken(tok.Role); cur == nil || !tok.Equal(*cur) {
		s.logger.Warn("join: refused a wrong join token", "role", tok.Role, "remote", r.RemoteAddr)
		return nil, errorf(http.StatusForbidden, "join: the %s join token is not this cluster's current one "+
			"(wrong, or rotated out with -rotate): print the current one with 'drover operator join-token %s'", tok.Role, tok.Role)
	}
	now := time.Now()
	var certPEM []byte
	switch tok.Role {
	case pki.RoleServer:
		if req.NodeID != "" {
			return nil, errorf(http.StatusBadRequest, "join: a server join names no node ID")
		}
		certPEM, err = ca.SignServer([]byte(req.CSR), s.cfg.Region, now, s.cfg.CertLifetime)
	case pki.RoleClient:
		if req.NodeID == "" {
			return nil, errorf(http.StatusBadRequest, "join: a client join token obtains only a client certificate, for the agent's node ID, and the request names none")
		}
		if err := pki.ValidateNodeID(req.NodeID); err != nil {
			return nil, errorf(http.StatusBadRequest, "join: %v", err)
		}
		certPEM, err = ca.SignClient([]byte(req.CSR), s.cfg.Region, req.NodeID, now, s.cfg.CertLifetime)
	default:
		return nil, errorf(http.StatusForbidden, "join: a %s join token obtains no certificate", tok.Role)
	}
	if err != nil {
		if errors.Is(err, pki.ErrInvalid) {
			return nil, errorf(http.StatusBadRequest, "join: %v (a %s join token obtains only a %s certificate)", err, tok.Role, tok.Role)
		}
		return nil, err
	}
	resp := &api.TLSJoinResponse{CA: string(ca.CertPEM()), Cert: string(certPEM)}
	if tok.Role == pki.RoleServer {
		if kek := s.kek.Load(); kek != nil {
			resp.KEK = pki.EncodeKEK(*kek)
		}
		s.logger.Info("signed a server certificate for a joining server", "remote", r.RemoteAddr)
	} else {
		s.logger.Info("signed a client certificate for a joining agent", "node", req.NodeID, "remote", r.RemoteAddr)
	}
	return resp, nil
}

// forwardJoinToLeader passes a join request to the leader, whose answer
// (a certificate or a refusal) is the answer. ok is false when the
// leader is unknown, unreachable or cannot sign, and this server answers
// itself.
func (s *Server) forwardJoinToLeader(ctx context.Context, req *api.TLSJoinRequest) (_ *api.TLSJoinResponse, ok bool, _ error) {
	_, leaderID := s.raft.Leader()
	m := s.raft.Store().Snapshot().Member(leaderID)
	if leaderID == "" || m == nil || m.HTTPAddr == "" {
		return nil, false, nil
	}
	var out api.TLSJoinResponse
	err := s.peerCall(ctx, s.proxy, m.HTTPAddr, http.MethodPost, tlsJoinPath, req, "", true, &out)
	var se *api.StatusError
	switch {
	case err == nil:
		return &out, true, nil
	case errors.As(err, &se) && se.Code != http.StatusServiceUnavailable:
		return nil, true, errorf(se.Code, "%s", se.Message)
	}
	return nil, false, nil
}

// forwardTLS asks the other members, in turn, to sign (a join or a
// renewal, by path). The first answer from a server that holds the CA
// key, a signature or a refusal, is the answer.
func (s *Server) forwardTLS(ctx context.Context, path string, req any) (*api.TLSJoinResponse, error) {
	var out api.TLSJoinResponse
	if err := s.forwardToCA(ctx, http.MethodPost, path, req, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// forwardToCA sends a request to the other members, in turn, until one
// that holds the CA key answers (a result or a refusal; a server without
// the key answers 503 to a forwarded request).
func (s *Server) forwardToCA(ctx context.Context, method, path string, req any, auth string, out any) error {
	var errs []error
	for _, m := range s.raft.Store().Snapshot().Members() {
		if m.ID == s.id || m.HTTPAddr == "" {
			continue
		}
		err := s.peerCall(ctx, s.proxy, m.HTTPAddr, method, path, req, auth, true, out)
		if err == nil {
			return nil
		}
		var se *api.StatusError
		if errors.As(err, &se) && se.Code != http.StatusServiceUnavailable {
			return errorf(se.Code, "%s", se.Message)
		}
		errs = append(errs, fmt.Errorf("%s: %w", m.HTTPAddr, err))
	}
	return errorf(http.StatusServiceUnavailable, "no reachable server holds the cluster CA key; ask the server that created the cluster: %v", errors.Join(errs...))
}

// peerTLSPost sends a join or renewal request (by path) to the server at
// addr. A join token crosses the network in a join request; the answer
// is not trusted until the caller checked its CA.
func (s *Server) peerTLSPost(ctx context.Context, rt http.RoundTripper, addr, path string, req any) (*api.TLSJoinResponse, error) {
	var out api.TLSJoinResponse
	if err := s.peerCall(ctx, rt, addr, http.MethodPost, path, req, "", false, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// peerCall sends one request over HTTPS through rt to the server at
// addr, with the caller's Authorization header (auth) if any, and
// decodes the answer into out. A refusal is an *api.StatusError.
func (s *Server) peerCall(ctx context.Context, rt http.RoundTripper, addr, method, path string, req any, auth string, forwarded bool, out any) error {
	c, err := api.NewClient(api.Config{Address: peerURL(addr)})
	if err != nil {
		return err
	}
	var body io.Reader
	if req != nil {
		b, err := json.Marshal(req)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	hreq, err := http.NewRequestWithContext(cctx, method, c.Address()+path, body)
	if err != nil {
		return err
	}
	if req != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		hreq.Header.Set("Authorization", auth)
	}
	if forwarded {
		hreq.Header.Set(headerJoinForwarded, s.id)
	}
	hc := &http.Client{Transport: rt}
	hresp, err := hc.Do(hreq)
	if err != nil {
		return err
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hresp.Body, 64<<10))
	if err != nil {
		return err
	}
	if hresp.StatusCode != http.StatusOK {
		var e api.Error
		_ = json.Unmarshal(data, &e)
		return &api.StatusError{Code: hresp.StatusCode, Message: e.Error}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("answer of %s: %w", path, err)
	}
	return nil
}
