package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/atomicfile"
	"github.com/droverhq/drover/pki"
)

// An agent's identity towards the servers is its client certificate of
// the cluster CA: client.<region>.drover with its node ID inside. It
// obtains it once with the client join token (Config.JoinToken): it
// sends a certificate request for its node ID with the token to a
// server, over TLS that it trusts only if the server's chain holds the
// CA the token names, and keeps the answer in <data-dir>/tls (mode
// 0600). From then on it calls the servers over HTTPS with that
// certificate, and no API token: the servers let a node's certificate do
// exactly its own node's calls (registration, heartbeats, its
// allocations). It renews the certificate at two thirds of its lifetime,
// authenticated by the current one.
const (
	tlsDirName     = "tls"
	caFile         = "ca.pem"
	clientCertFile = "client.pem"
	clientKeyFile  = "client-key.pem"
	clientKeyNext  = clientKeyFile + ".next"
)

// hasClientCert reports whether dataDir holds an agent's certificate.
func hasClientCert(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, tlsDirName, clientCertFile))
	return err == nil
}

// tlsDir is where the agent keeps its certificate.
func (a *Agent) tlsDir() string { return filepath.Join(a.cfg.DataDir, tlsDirName) }

// loadTLS loads the agent's certificate if it has one. One of another
// node ID (a data dir copied from another node) is refused.
func (a *Agent) loadTLS(now time.Time) error {
	dir := a.tlsDir()
	caPath, certPath, keyPath := filepath.Join(dir, caFile), filepath.Join(dir, clientCertFile), filepath.Join(dir, clientKeyFile)
	if a.cfg.TLSCertFile != "" {
		caPath, certPath, keyPath = a.cfg.TLSCAFile, a.cfg.TLSCertFile, a.cfg.TLSKeyFile
	}
	certPEM, err := os.ReadFile(certPath)
	if errors.Is(err, os.ErrNotExist) && a.cfg.TLSCertFile == "" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("agent: tls: %w", err)
	}
	caPEM, err := os.ReadFile(caPath)
	if err != nil {
		return fmt.Errorf("agent: tls: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return fmt.Errorf("agent: tls: %w", err)
	}
	id, err := pki.LoadClientIdentity(a.cfg.Region, caPEM, certPEM, keyPEM, now)
	if err != nil {
		// A crash between writing a renewed certificate and moving its
		// key into place leaves the new key aside.
		if next, rerr := os.ReadFile(filepath.Join(dir, clientKeyNext)); rerr == nil {
			if id2, err2 := pki.LoadClientIdentity(a.cfg.Region, caPEM, certPEM, next, now); err2 == nil {
				if err := os.Rename(filepath.Join(dir, clientKeyNext), filepath.Join(dir, clientKeyFile)); err != nil {
					return fmt.Errorf("agent: tls: %w", err)
				}
				id, err = id2, nil
			}
		}
	}
	if err != nil && a.cfg.TLSCertFile != "" {
		return fmt.Errorf("agent: tls: %s: %w (a client certificate must name %s and the node's ID; 'drover tls cert create -client' makes one)", certPath, err, pki.ClientName(a.cfg.Region))
	}
	if err != nil {
		return fmt.Errorf("agent: the client certificate in %s: %w; to join again, remove %s and start the agent with -join-token-file FILE", dir, err, dir)
	}
	if id.NodeID != a.nodeID && a.cfg.TLSCertFile != "" {
		return fmt.Errorf("agent: the client certificate %s is node %s's, but this data dir is node %s's: use a certificate for %s, or an empty data dir", certPath, id.NodeID, a.nodeID, a.nodeID)
	}
	if id.NodeID != a.nodeID {
		return fmt.Errorf("agent: the client certificate in %s is node %s's, but this data dir is node %s's: remove %s and join again with the client join token", dir, id.NodeID, a.nodeID, dir)
	}
	a.ident.Store(id)
	return nil
}

// advertisedHTTP is the log API's address as registered: with the
// https scheme when it speaks TLS, so that the CLI uses it.
func (a *Agent) advertisedHTTP() string {
	if a.usesTLS() {
		return "https://" + a.HTTPAddr()
	}
	return a.HTTPAddr()
}

// usesTLS reports whether the agent talks HTTPS to the servers: it has a
// certificate or will obtain one.
func (a *Agent) usesTLS() bool {
	return a.ident.Load() != nil || a.cfg.JoinToken != "" || a.cfg.TLSCertFile != ""
}

// ownPKINodeID returns the node ID of the operator's client certificate
// (tls { cert_file }), which a new data dir takes as its node ID.
func ownPKINodeID(cfg Config) (string, error) {
	b, err := os.ReadFile(cfg.TLSCertFile)
	if err != nil {
		return "", fmt.Errorf("agent: tls: %w", err)
	}
	cert, err := pki.ParseCert(b)
	if err != nil {
		return "", fmt.Errorf("agent: tls: %s: %w", cfg.TLSCertFile, err)
	}
	p, err := pki.PeerOf(cert, cfg.Region)
	if err != nil || p.Role != pki.CertRoleClient {
		return "", fmt.Errorf("agent: tls: %s is not a client certificate of region %q naming a node ID ('drover tls cert create -client' makes one): %v", cfg.TLSCertFile, cfg.Region, err)
	}
	return p.NodeID, nil
}

// serverTransport is the HTTPS transport to the servers: this agent's
// current certificate, and the servers' checked against the CA and the
// name server.<region>.drover. It is made once the agent has its
// certificate (the CA comes with it).
func (a *Agent) serverTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     a.ident.HTTPSClientConfig(),
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
}

// httpsURL is a server's address with the https scheme.
func httpsURL(addr string) string {
	if _, rest, ok := strings.Cut(addr, "://"); ok {
		addr = rest
	}
	return "https://" + strings.TrimRight(addr, "/")
}

// joinTLS obtains the agent's certificate with the client join token,
// trying the servers in turn with backoff until one signs or ctx ends.
// A refusal that no retry can change (a wrong or rotated-out token, the
// token of another CA) ends it with an error.
func (a *Agent) joinTLS(ctx context.Context) error {
	tok, err := pki.ParseJoinToken(a.cfg.JoinToken)
	if err != nil {
		return fmt.Errorf("agent: join token: %w", err)
	}
	if tok.Role != pki.RoleClient {
		return fmt.Errorf("agent: this is a %s join token; an agent joins with the client join token ('drover operator join-token client')", tok.Role)
	}
	key, err := pki.NewKey()
	if err != nil {
		return err
	}
	csr, err := pki.NewClientCSR(key, a.cfg.Region, a.nodeID)
	if err != nil {
		return err
	}
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		return err
	}
	rt := &http.Transport{Proxy: nil, TLSClientConfig: pki.PinnedConfig(tok.Fingerprint, a.cfg.Region)}
	defer rt.CloseIdleConnections()
	req := &api.TLSJoinRequest{CSR: string(csr), Token: a.cfg.JoinToken, NodeID: a.nodeID}
	b := newBackoff(a.cfg.MaxBackoff)
	for {
		for _, addr := range a.cfg.Servers {
			op, err := serverOperator(addr, rt)
			var resp *api.TLSJoinResponse
			if err == nil {
				resp, err = op.TLSJoin(ctx, req)
			}
			if err == nil {
				err = a.storeIdentity(tok.Fingerprint, resp, keyPEM)
				if err == nil {
					a.log.Info("obtained a client certificate", "via", addr, "ca_fingerprint", pki.FingerprintString(tok.Fingerprint))
					return nil
				}
			}
			var se *api.StatusError
			if errors.As(err, &se) && se.Code == http.StatusForbidden {
				return fmt.Errorf("agent: join: the server refused the client join token: %s", se.Message)
			}
			if ctx.Err() != nil {
				return nil
			}
			a.log.Warn("join: could not obtain a client certificate; retrying", "server", addr, "err", err)
		}
		if !sleep(ctx, b.next()) {
			return nil
		}
	}
}

// storeIdentity checks an answer against the token's CA and our key and
// writes it: the certificate last, since its presence says the identity
// is complete.
func (a *Agent) storeIdentity(fingerprint [32]byte, resp *api.TLSJoinResponse, keyPEM []byte) error {
	ca, err := pki.ParseCACert([]byte(resp.CA))
	if err != nil {
		return err
	}
	if pki.Fingerprint(ca) != fingerprint {
		return fmt.Errorf("the server answered with a CA whose fingerprint %s is not the join token's %s: refusing it",
			pki.FingerprintString(pki.Fingerprint(ca)), pki.FingerprintString(fingerprint))
	}
	id, err := pki.LoadClientIdentity(a.cfg.Region, []byte(resp.CA), []byte(resp.Cert), keyPEM, time.Now())
	if err != nil {
		return err
	}
	if id.NodeID != a.nodeID {
		return fmt.Errorf("the server signed a certificate for node %s, not this node %s", id.NodeID, a.nodeID)
	}
	dir := a.tlsDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("agent: tls: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{caFile, []byte(resp.CA)}, {clientKeyFile, keyPEM}, {clientCertFile, []byte(resp.Cert)}} {
		if err := atomicfile.Write(filepath.Join(dir, f.name), f.data, 0o600); err != nil {
			return err
		}
	}
	a.ident.Store(id)
	return nil
}

// runCertRenewal renews the certificate at two thirds of its lifetime.
// An agent still joining waits for its first certificate.
func (a *Agent) runCertRenewal(ctx context.Context) {
	if a.cfg.TLSCertFile != "" {
		return // the operator's own PKI renews its certificates
	}
	var rt *http.Transport
	for ctx.Err() == nil {
		id := a.ident.Load()
		if id == nil {
			if a.cfg.JoinToken == "" || !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		if rt == nil {
			rt = a.serverTransport()
			defer rt.CloseIdleConnections()
		}
		now := time.Now()
		if wait := pki.RenewAt(id.Cert.Leaf).Sub(now); wait > 0 {
			if !sleep(ctx, min(wait, time.Hour)) {
				return
			}
			continue
		}
		err := a.renewCertificate(ctx, rt, id)
		if err == nil {
			continue
		}
		retry := max(time.Second, min(id.Cert.Leaf.NotAfter.Sub(now)/20, time.Minute))
		a.log.Warn("client certificate renewal failed; retrying", "err", err, "expires", id.Cert.Leaf.NotAfter, "retry_in", retry)
		if !sleep(ctx, retry) {
			return
		}
	}
}

func (a *Agent) renewCertificate(ctx context.Context, rt http.RoundTripper, id *pki.Identity) error {
	key, err := pki.NewKey()
	if err != nil {
		return err
	}
	csr, err := pki.NewClientCSR(key, a.cfg.Region, a.nodeID)
	if err != nil {
		return err
	}
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		return err
	}
	var errs []error
	for _, addr := range a.cfg.Servers {
		op, err := serverOperator(addr, rt)
		var resp *api.TLSJoinResponse
		if err == nil {
			resp, err = op.TLSRenew(ctx, string(csr))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		next, err := pki.LoadClientIdentity(a.cfg.Region, pki.EncodeCert(id.CA), []byte(resp.Cert), keyPEM, time.Now())
		if err != nil {
			return err
		}
		dir := a.tlsDir()
		if err := atomicfile.Write(filepath.Join(dir, clientKeyNext), keyPEM, 0o600); err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(dir, clientCertFile), []byte(resp.Cert), 0o600); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(dir, clientKeyNext), filepath.Join(dir, clientKeyFile)); err != nil {
			return fmt.Errorf("agent: tls: %w", err)
		}
		a.ident.Store(next)
		a.log.Info("renewed the client certificate", "expires", next.Cert.Leaf.NotAfter)
		return nil
	}
	return errors.Join(errs...)
}

// serverOperator is the operator API of the server at addr, over HTTPS
// through rt.
func serverOperator(addr string, rt http.RoundTripper) (*api.Operator, error) {
	c, err := api.NewClient(api.Config{Address: httpsURL(addr), HTTPClient: &http.Client{Transport: rt}})
	if err != nil {
		return nil, err
	}
	return c.Operator(), nil
}
