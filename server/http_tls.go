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

type tlsJoinRequest struct {
	// CSR is a PEM certificate request for server.<region>.drover.
	CSR string `json:"csr"`
	// Token is the server join token.
	Token string `json:"token"`
}

type tlsJoinResponse struct {
	// CA is the cluster CA certificate (PEM); the joiner checks it
	// against the token's fingerprint before it trusts Cert.
	CA string `json:"ca"`
	// Cert is the signed server certificate (PEM).
	Cert string `json:"cert"`
}

// withTLSJoin serves the join route and passes every other request to
// the API.
func (s *Server) withTLSJoin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != tlsJoinPath {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			s.writeError(w, r, errorf(http.StatusMethodNotAllowed, "method %s not allowed", r.Method))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxJoinBody)
		resp, err := s.tlsJoin(r)
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
func (s *Server) tlsJoin(r *http.Request) (*tlsJoinResponse, error) {
	var req tlsJoinRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	tok, err := pki.ParseJoinToken(req.Token)
	if err != nil {
		return nil, errorf(http.StatusForbidden, "join: %v", err)
	}
	if tok.Role != pki.RoleServer {
		return nil, errorf(http.StatusForbidden, "join: a %s join token cannot obtain a server certificate", tok.Role)
	}
	if s.ca == nil {
		if r.Header.Get(headerJoinForwarded) != "" {
			return nil, errorf(http.StatusServiceUnavailable, "join: this server does not hold the cluster CA key")
		}
		return s.forwardTLSJoin(r.Context(), &req)
	}
	if !tok.Equal(s.serverToken) {
		s.logger.Warn("join: refused a wrong server join token", "remote", r.RemoteAddr)
		return nil, errorf(http.StatusForbidden, "join: the server join token is not this cluster's "+
			"(print the current one with 'drover operator join-token server' on the first server)")
	}
	certPEM, err := s.ca.SignServer([]byte(req.CSR), s.cfg.Region, time.Now(), s.cfg.CertLifetime)
	if err != nil {
		if errors.Is(err, pki.ErrInvalid) {
			return nil, errorf(http.StatusBadRequest, "join: %v", err)
		}
		return nil, err
	}
	s.logger.Info("signed a server certificate for a joining server", "remote", r.RemoteAddr)
	return &tlsJoinResponse{CA: string(s.ca.CertPEM()), Cert: string(certPEM)}, nil
}

// forwardTLSJoin asks the other members, in turn, to sign. The first
// answer from a server that holds the CA key, a signature or a refusal,
// is the answer.
func (s *Server) forwardTLSJoin(ctx context.Context, req *tlsJoinRequest) (*tlsJoinResponse, error) {
	var errs []error
	for _, m := range s.raft.Store().Snapshot().Members() {
		if m.ID == s.id || m.HTTPAddr == "" {
			continue
		}
		resp, err := s.peerTLSJoin(ctx, m.HTTPAddr, req, true)
		if err == nil {
			return resp, nil
		}
		var se *api.StatusError
		if errors.As(err, &se) && se.Code != http.StatusServiceUnavailable {
			return nil, errorf(se.Code, "%s", se.Message)
		}
		errs = append(errs, fmt.Errorf("%s: %w", m.HTTPAddr, err))
	}
	return nil, errorf(http.StatusServiceUnavailable, "join: no reachable server holds the cluster CA key; ask the server that created the cluster: %v", errors.Join(errs...))
}

// peerTLSJoin sends a join request to the server at addr. The token
// crosses the network in this request; the answer is not trusted until
// the caller checked its CA against the token.
func (s *Server) peerTLSJoin(ctx context.Context, addr string, req *tlsJoinRequest, forwarded bool) (*tlsJoinResponse, error) {
	c, err := api.NewClient(api.Config{Address: addr})
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	hreq, err := http.NewRequestWithContext(cctx, http.MethodPost, c.Address()+tlsJoinPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	if forwarded {
		hreq.Header.Set(headerJoinForwarded, s.id)
	}
	hc := &http.Client{Transport: s.proxy}
	hresp, err := hc.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hresp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if hresp.StatusCode != http.StatusOK {
		var e api.Error
		_ = json.Unmarshal(data, &e)
		return nil, &api.StatusError{Code: hresp.StatusCode, Message: e.Error}
	}
	var out tlsJoinResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("join answer: %w", err)
	}
	return &out, nil
}
