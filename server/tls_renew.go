package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/atomicfile"
	"github.com/droverhq/drover/pki"
)

// Server certificates renew themselves at two thirds of their lifetime
// (pki.RenewAt), without a restart: the server makes a new key and CSR,
// has it signed, writes the files and swaps its identity (s.ident). The
// Raft transport asks for its TLS configuration at every connection
// (raftTLS), so new connections present the new certificate while open
// ones keep working: TLS checks certificates only at the handshake.
//
// The server that holds the CA key signs its own renewal. Another asks it
// over the plain HTTP API (POST /v1/operator/tls/renew, forwarded like a
// join): with no TLS on that API yet, the request carries a proof
// (pki.Proof) made with the current certificate's key over the CSR and a
// timestamp. The signer checks the certificate against the CA (chain,
// not expired, server.<region>.drover), the timestamp (within
// pki.MaxProofSkew) and the signature. A replayed request gains nothing:
// the certificate is for a key that only the requester holds.
const tlsRenewPath = "/v1/operator/tls/renew"

type tlsRenewRequest struct {
	// CSR is a PEM certificate request for server.<region>.drover.
	CSR string `json:"csr"`
	// Proof is made with the current certificate's key over CSR.
	Proof pki.Proof `json:"proof"`
}

// serverKeyNextFile holds a renewed key until its certificate is written:
// loadTLS uses it if server-key.pem does not match server.pem (a crash
// between the two writes).
const serverKeyNextFile = serverKeyFile + ".next"

// tlsRenew signs a renewal for a server that proves it holds a current
// server certificate of the cluster CA, or for an agent that connects
// with its current client certificate.
func (s *Server) tlsRenew(r *http.Request) (*api.TLSJoinResponse, error) {
	var req tlsRenewRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	now := time.Now()
	if req.Proof.Cert == "" && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return s.tlsRenewClient(r, &req, now)
	}
	ca := s.signer()
	if ca == nil {
		if r.Header.Get(headerJoinForwarded) != "" {
			return nil, errorf(http.StatusServiceUnavailable, "renew: this server does not hold the cluster CA key")
		}
		return s.forwardTLS(r.Context(), tlsRenewPath, &req)
	}
	if _, err := pki.VerifyProof(&req.Proof, ca.Cert, s.cfg.Region, pki.ProofRenew, []byte(req.CSR), now); err != nil {
		s.logger.Warn("renew: refused a certificate renewal", "remote", r.RemoteAddr, "err", err)
		return nil, errorf(http.StatusForbidden, "renew: %v", err)
	}
	certPEM, err := ca.SignServer([]byte(req.CSR), s.cfg.Region, now, s.cfg.CertLifetime)
	if err != nil {
		if errors.Is(err, pki.ErrInvalid) {
			return nil, errorf(http.StatusBadRequest, "renew: %v", err)
		}
		return nil, err
	}
	s.logger.Info("renewed a server certificate", "remote", r.RemoteAddr)
	return &api.TLSJoinResponse{CA: string(ca.CertPEM()), Cert: string(certPEM)}, nil
}

// tlsRenewClient renews an agent's certificate. The agent authenticates
// by its current client certificate on the TLS connection itself, so the
// new certificate names the same node ID and nothing else. It is not
// forwarded: every server with the replicated keyring signs, and an agent
// that meets one without tries the next.
func (s *Server) tlsRenewClient(r *http.Request, req *tlsRenewRequest, now time.Time) (*api.TLSJoinResponse, error) {
	peer, err := pki.PeerOf(r.TLS.VerifiedChains[0][0], s.cfg.Region)
	if err != nil || peer.Role != pki.CertRoleClient {
		return nil, errorf(http.StatusForbidden, "renew: only an agent's client certificate renews itself over TLS (servers send a proof)")
	}
	ca := s.signer()
	if ca == nil {
		return nil, errorf(http.StatusServiceUnavailable, "renew: this server cannot sign yet; ask another server")
	}
	certPEM, err := ca.SignClient([]byte(req.CSR), s.cfg.Region, peer.NodeID, now, s.cfg.CertLifetime)
	if err != nil {
		if errors.Is(err, pki.ErrInvalid) {
			return nil, errorf(http.StatusBadRequest, "renew: %v", err)
		}
		return nil, err
	}
	s.logger.Info("renewed a client certificate", "node", peer.NodeID, "remote", r.RemoteAddr)
	return &api.TLSJoinResponse{CA: string(ca.CertPEM()), Cert: string(certPEM)}, nil
}

// runCertRenewal renews this server's certificate whenever it reaches
// two thirds of its lifetime. A failed renewal is retried, more often as
// the expiry nears.
func (s *Server) runCertRenewal(ctx context.Context) {
	if s.cfg.TLSCertFile != "" {
		return // the operator's own PKI renews its certificates
	}
	for ctx.Err() == nil {
		id := s.ident.Load()
		if id == nil { // joining: runBootstrap obtains the first one
			if !sleepCtx(ctx, s.cfg.RetryInterval) {
				return
			}
			continue
		}
		now := time.Now()
		if wait := pki.RenewAt(id.Cert.Leaf).Sub(now); wait > 0 {
			if !sleepCtx(ctx, min(wait, time.Hour)) {
				return
			}
			continue
		}
		err := s.renewCertificate(ctx, id, now)
		if err == nil {
			continue
		}
		retry := max(s.cfg.RetryInterval, min(id.Cert.Leaf.NotAfter.Sub(now)/20, time.Minute))
		s.logger.Warn("certificate renewal failed; retrying", "err", err, "expires", id.Cert.Leaf.NotAfter, "retry_in", retry)
		if !sleepCtx(ctx, retry) {
			return
		}
	}
}

// renewCertificate obtains, stores and swaps in a new certificate.
func (s *Server) renewCertificate(ctx context.Context, id *pki.ServerIdentity, now time.Time) error {
	key, err := pki.NewKey()
	if err != nil {
		return err
	}
	csr, err := pki.NewServerCSR(key, s.cfg.Region)
	if err != nil {
		return err
	}
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		return err
	}
	var certPEM []byte
	if ca := s.signer(); ca != nil {
		if certPEM, err = ca.SignServer(csr, s.cfg.Region, now, s.cfg.CertLifetime); err != nil {
			return err
		}
	} else {
		proof, err := id.Prove(pki.ProofRenew, csr, now)
		if err != nil {
			return err
		}
		resp, err := s.forwardTLS(ctx, tlsRenewPath, &tlsRenewRequest{CSR: string(csr), Proof: *proof})
		if err != nil {
			return err
		}
		ca, err := pki.ParseCACert([]byte(resp.CA))
		if err != nil {
			return err
		}
		if pki.Fingerprint(ca) != pki.Fingerprint(id.CA) {
			return fmt.Errorf("the signing server answered with another CA (%s, ours %s): refusing it",
				pki.FingerprintString(pki.Fingerprint(ca)), pki.FingerprintString(pki.Fingerprint(id.CA)))
		}
		certPEM = []byte(resp.Cert)
	}
	next, err := pki.LoadServerIdentity(s.cfg.Region, pki.EncodeCert(id.CA), certPEM, keyPEM, time.Now())
	if err != nil {
		return err
	}
	// The key goes first to a side file, then the certificate, then the
	// key into place: a crash in between leaves a pair loadTLS can use.
	dir := filepath.Join(s.cfg.DataDir, tlsDirName)
	if err := atomicfile.Write(filepath.Join(dir, serverKeyNextFile), keyPEM, 0o600); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, serverCertFile), certPEM, 0o600); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(dir, serverKeyNextFile), filepath.Join(dir, serverKeyFile)); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	s.ident.Store(next)
	s.logger.Info("renewed this server's certificate", "expires", next.Cert.Leaf.NotAfter)
	return nil
}

// ServerCertificate is this server's current certificate for Raft, or nil
// while it is joining.
func (s *Server) ServerCertificate() *x509.Certificate {
	if id := s.ident.Load(); id != nil {
		return id.Cert.Leaf
	}
	return nil
}
