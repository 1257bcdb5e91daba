package server

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"

	"github.com/droverhq/drover/pki"
)

// Over HTTPS a caller may present a certificate of the cluster CA, and
// its role is an identity of its own: an agent's client certificate
// names its node ID (a node speaks only for itself: http_nodes.go), and
// a server's certificate lets one server read another's
// /v1/agent/self while they bootstrap. An operator's cli certificate
// only opens the connection; its requests still need a token when ACLs
// are on.
//
// A follower that forwards a request to the leader does so over HTTPS
// with its own server certificate, so it tells the leader who the
// original caller was in hdrForwardedPeer; the leader believes that
// header only from a server certificate, and the follower always sets
// it, "none" for a caller without a certificate.
const hdrForwardedPeer = "X-Drover-Forwarded-Peer"

type peerKey struct{}

// peerFrom returns the certificate identity of a request's caller, or
// nil.
func peerFrom(ctx context.Context) *pki.Peer {
	p, _ := ctx.Value(peerKey{}).(*pki.Peer)
	return p
}

// withPeer reads the caller's certificate identity into the context.
func (s *Server) withPeer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fwd, forwarded := r.Header[http.CanonicalHeaderKey(hdrForwardedPeer)]
		r.Header.Del(hdrForwardedPeer)
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		peer, err := pki.PeerOf(r.TLS.VerifiedChains[0][0], s.cfg.Region)
		if err != nil {
			s.writeError(w, r, errorf(http.StatusForbidden, "client certificate: %v", err))
			return
		}
		if peer.Role == pki.CertRoleServer && forwarded {
			p, ok := parseForwardedPeer(strings.Join(fwd, ""), s.cfg.Region)
			if !ok {
				s.writeError(w, r, errorf(http.StatusBadRequest, "malformed %s header", hdrForwardedPeer))
				return
			}
			if p == nil {
				next.ServeHTTP(w, r)
				return
			}
			peer = *p
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), peerKey{}, &peer)))
	})
}

// forwardedPeerValue is the header value naming peer (nil: "none").
func forwardedPeerValue(p *pki.Peer) string {
	switch {
	case p == nil:
		return "none"
	case p.Role == pki.CertRoleClient:
		return string(p.Role) + ":" + p.NodeID
	default:
		return string(p.Role)
	}
}

func parseForwardedPeer(v, region string) (*pki.Peer, bool) {
	role, node, _ := strings.Cut(v, ":")
	switch pki.CertRole(role) {
	case pki.CertRoleClient:
		if pki.ValidateNodeID(node) != nil {
			return nil, false
		}
		return &pki.Peer{Role: pki.CertRoleClient, NodeID: node}, true
	case pki.CertRoleServer, pki.CertRoleCLI:
		if node != "" {
			return nil, false
		}
		return &pki.Peer{Role: pki.CertRole(role)}, true
	}
	if v == "none" {
		return nil, true
	}
	return nil, false
}

// needsClientCert reports whether a request came over HTTPS without a
// client certificate although the API requires one.
func (s *Server) needsClientCert(r *http.Request) bool {
	return s.cfg.VerifyHTTPSClient && r.TLS != nil && len(r.TLS.VerifiedChains) == 0
}

// errClientCertRequired answers an HTTPS request without a client
// certificate.
var errClientCertRequired = errorf(http.StatusUnauthorized,
	"this API requires a client certificate of the cluster CA over HTTPS: set DROVER_CACERT, DROVER_CLIENT_CERT and DROVER_CLIENT_KEY "+
		"(make a CLI certificate with 'drover tls cert create -cli'), or use plain HTTP on the server's loopback address")

// httpsConfig is the API's TLS configuration, built per handshake from
// the current identity so that a renewed certificate is served at once.
func (s *Server) httpsConfig() *tls.Config {
	return pki.LazyHTTPSServerConfig(s.ident.Load)
}
