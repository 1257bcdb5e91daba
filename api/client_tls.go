package api

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// JoinTokenResponse is a join token, as the server holding the cluster CA
// keeps it.
type JoinTokenResponse struct {
	Token         string `json:"token"`
	CAFingerprint string `json:"ca_fingerprint"`
}

// ServerProof proves that a request comes from a server of the cluster:
// its current server certificate (PEM) and a signature over the request
// and Time made with the certificate's key (see package pki).
type ServerProof struct {
	Cert      string    `json:"cert"`
	Time      time.Time `json:"time"`
	Signature []byte    `json:"signature"`
}

// JoinToken returns the current join token of role ("server"). It needs
// the operator token; any server answers, asking the one holding the CA.
func (o *Operator) JoinToken(ctx context.Context, role string) (*JoinTokenResponse, error) {
	var out JoinTokenResponse
	if err := o.c.write(ctx, http.MethodGet, "/v1/operator/join-token/"+esc(role), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateJoinToken replaces the join token of role with a new one and
// returns it; the old one is refused from then on.
func (o *Operator) RotateJoinToken(ctx context.Context, role string) (*JoinTokenResponse, error) {
	var out JoinTokenResponse
	if err := o.c.write(ctx, http.MethodPost, "/v1/operator/join-token/"+esc(role)+"/rotate", nil, struct{}{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TLSConfig is the CLI's side of HTTPS: the CA that signs the servers'
// certificates, and a client certificate for APIs that require one (a
// cluster's API bound beyond loopback does). Nomad's names are read too.
type TLSConfig struct {
	// CACert is a PEM file of the CA (DROVER_CACERT, NOMAD_CACERT).
	CACert string
	// ClientCert and ClientKey are PEM files of a client certificate
	// and its key (DROVER_CLIENT_CERT/KEY, NOMAD_CLIENT_CERT/KEY).
	ClientCert string
	ClientKey  string
	// ServerName, if set, is the name the server's certificate must
	// carry (DROVER_TLS_SERVER_NAME, NOMAD_TLS_SERVER_NAME). Otherwise
	// either the address's host or a Drover server name
	// (server.<region>.drover) passes: cluster certificates name a role,
	// not a host.
	ServerName string
	// Insecure skips verifying the server's certificate
	// (DROVER_SKIP_VERIFY, NOMAD_SKIP_VERIFY): for debugging only.
	Insecure bool
	// PeerRole is the Drover role the peer's certificate must name when
	// ServerName is not set: "server" (the default) for the API, "client"
	// for an agent's log API. A client certificate never passes for a
	// server, so an agent cannot pose as one to the CLI.
	PeerRole string
}

// Transport returns an HTTP transport for t, for requests outside a
// Client (an agent's log API).
func (t TLSConfig) Transport() (*http.Transport, error) {
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment}
	if t.empty() {
		return tr, nil
	}
	tc, err := t.clientConfig()
	if err != nil {
		return nil, err
	}
	tr.TLSClientConfig = tc
	return tr, nil
}

func (t TLSConfig) empty() bool {
	return t.CACert == "" && t.ClientCert == "" && t.ClientKey == "" && t.ServerName == "" && !t.Insecure
}

func tlsFromEnv(getenv func(string) string) TLSConfig {
	get := func(name string) string {
		if v := getenv("DROVER_" + name); v != "" {
			return v
		}
		return getenv("NOMAD_" + name)
	}
	skip, _ := strconv.ParseBool(get("SKIP_VERIFY"))
	return TLSConfig{
		CACert:     get("CACERT"),
		ClientCert: get("CLIENT_CERT"),
		ClientKey:  get("CLIENT_KEY"),
		ServerName: get("TLS_SERVER_NAME"),
		Insecure:   skip,
	}
}

// clientConfig builds the crypto/tls configuration.
func (t TLSConfig) clientConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if (t.ClientCert == "") != (t.ClientKey == "") {
		return nil, errors.New("api: TLS: set both DROVER_CLIENT_CERT and DROVER_CLIENT_KEY, or neither")
	}
	if t.ClientCert != "" {
		pair, err := tls.LoadX509KeyPair(t.ClientCert, t.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("api: TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if t.Insecure {
		cfg.InsecureSkipVerify = true
		return cfg, nil
	}
	if t.CACert == "" {
		return cfg, nil // the system's roots
	}
	pem, err := os.ReadFile(t.CACert)
	if err != nil {
		return nil, fmt.Errorf("api: TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("api: TLS CA: %s holds no PEM certificate", t.CACert)
	}
	want := t.ServerName
	// The chain is checked by hand below, against pool, because the
	// standard check would demand that the certificate name the host
	// dialled, and cluster certificates name server.<region>.drover.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("api: TLS: the server sent no certificate")
		}
		leaf := cs.PeerCertificates[0]
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter}); err != nil {
			return fmt.Errorf("api: TLS: the server's certificate is not signed by the CA in %s: %w", t.CACert, err)
		}
		if want != "" {
			return leaf.VerifyHostname(want)
		}
		role := t.PeerRole
		if role == "" {
			role = "server"
		}
		for _, n := range leaf.DNSNames {
			if strings.HasPrefix(n, role+".") && strings.HasSuffix(n, ".drover") && strings.Count(n, ".") == 2 {
				return nil
			}
		}
		if leaf.VerifyHostname(cs.ServerName) == nil && !isDroverName(leaf.DNSNames) {
			return nil // a certificate of the operator's own PKI, naming the host
		}
		return fmt.Errorf("api: TLS: the peer's certificate names %q, neither a Drover %s nor %q (set DROVER_TLS_SERVER_NAME)", leaf.DNSNames, role, cs.ServerName)
	}
	return cfg, nil
}

// isDroverName reports whether a certificate names a Drover role: such
// a certificate is judged by its role alone, never by the host.
func isDroverName(names []string) bool {
	for _, n := range names {
		if strings.HasSuffix(n, ".drover") {
			return true
		}
	}
	return false
}

// TLSJoinRequest trades a join token and a certificate request for a
// certificate (POST /v1/operator/tls/join): a server's, for
// server.<region>.drover, or an agent's, for client.<region>.drover and
// its node ID. An agent's renewal (POST /v1/operator/tls/renew, over
// HTTPS with its current certificate) sends the CSR alone.
type TLSJoinRequest struct {
	CSR    string `json:"csr"`
	Token  string `json:"token,omitempty"`
	NodeID string `json:"node_id,omitempty"`
}

// TLSJoinResponse is the signed certificate and the CA that signed it,
// which the joiner checks against its token's fingerprint before it
// trusts anything else; a joining server also receives the key that
// seals the replicated keyring.
type TLSJoinResponse struct {
	CA   string `json:"ca"`
	Cert string `json:"cert"`
	KEK  string `json:"kek,omitempty"`
}

// TLSJoin asks for a certificate with a join token. The client's HTTP
// transport must trust the server only after checking its CA (see
// pki.PinnedConfig).
func (o *Operator) TLSJoin(ctx context.Context, req *TLSJoinRequest) (*TLSJoinResponse, error) {
	var out TLSJoinResponse
	if err := o.c.write(ctx, http.MethodPost, "/v1/operator/tls/join", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TLSRenew asks for a new certificate for the same identity, over HTTPS
// with the current certificate.
func (o *Operator) TLSRenew(ctx context.Context, csr string) (*TLSJoinResponse, error) {
	var out TLSJoinResponse
	if err := o.c.write(ctx, http.MethodPost, "/v1/operator/tls/renew", nil, &TLSJoinRequest{CSR: csr}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
