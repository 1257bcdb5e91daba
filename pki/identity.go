package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Identity is what a server, an agent or a CLI needs to speak TLS: its
// certificate and key, and the CA that signs its peers.
type Identity struct {
	Region string
	Role   CertRole
	// NodeID is the agent's node, for a client identity.
	NodeID string
	CA     *x509.Certificate
	Cert   tls.Certificate
}

// ServerIdentity is the identity of a server, as the Raft transport and
// the renewal code have always called it.
type ServerIdentity = Identity

// LoadIdentity parses a certificate of role, its key and the CA (PEM) and
// checks that they fit: the certificate is the key's, signed by the CA,
// valid at now, allowed the role's key usages, and names exactly the
// role's name for region (and, for a client, one node URI, whose ID the
// identity carries).
func LoadIdentity(role CertRole, region string, caPEM, certPEM, keyPEM []byte, now time.Time) (*Identity, error) {
	if _, err := specOf(role); err != nil {
		return nil, err
	}
	ca, err := ParseCACert(caPEM)
	if err != nil {
		return nil, err
	}
	cert, err := ParseCert(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := matchKey(cert, keyPEM, string(role))
	if err != nil {
		return nil, err
	}
	peer, err := verify(cert, ca, role, region, now)
	if err != nil {
		return nil, err
	}
	return &Identity{
		Region: region,
		Role:   role,
		NodeID: peer.NodeID,
		CA:     ca,
		Cert:   tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert},
	}, nil
}

// LoadServerIdentity is LoadIdentity of a server certificate.
func LoadServerIdentity(region string, caPEM, certPEM, keyPEM []byte, now time.Time) (*ServerIdentity, error) {
	return LoadIdentity(CertRoleServer, region, caPEM, certPEM, keyPEM, now)
}

// LoadClientIdentity is LoadIdentity of an agent's client certificate;
// the identity's NodeID is the one the certificate names.
func LoadClientIdentity(region string, caPEM, certPEM, keyPEM []byte, now time.Time) (*Identity, error) {
	return LoadIdentity(CertRoleClient, region, caPEM, certPEM, keyPEM, now)
}

// TLSConfig returns the configuration for both ends of a server-to-server
// connection: TLS 1.3 only, this server's certificate on both sides, and
// the peer's certificate required, signed by the cluster CA and named
// ServerName(Region), whichever side dialled.
func (id *Identity) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(id.CA)
	name := ServerName(id.Region)
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.Cert},
		// Dialling: the standard verification against RootCAs checks
		// ServerName.
		RootCAs:    pool,
		ServerName: name,
		// Accepting: Go verifies the client's chain against ClientCAs but
		// no name; VerifyConnection adds it, so that a certificate of
		// another role from the same CA is refused.
		ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs:  pool,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("drover: the peer sent no certificate")
			}
			if err := cs.PeerCertificates[0].VerifyHostname(name); err != nil {
				return fmt.Errorf("drover: the peer's certificate is not a server certificate of region %q: %w", id.Region, err)
			}
			return nil
		},
	}
}

// Reloadable holds an identity that a renewal replaces while listeners
// and clients keep running: the configurations it returns read the
// current certificate at every handshake. Its zero value holds none.
//
// The CA and region are those of the identity held when a configuration
// is made (a renewal keeps both); a configuration made while it holds
// none refuses every handshake that needs them.
type Reloadable struct {
	p atomic.Pointer[Identity]
}

// NewReloadable returns a Reloadable holding id.
func NewReloadable(id *Identity) *Reloadable {
	r := new(Reloadable)
	r.Store(id)
	return r
}

// Store replaces the identity; handshakes from now on present id's
// certificate.
func (r *Reloadable) Store(id *Identity) { r.p.Store(id) }

// Load returns the current identity, or nil.
func (r *Reloadable) Load() *Identity { return r.p.Load() }

var errNoIdentity = errors.New("drover: no TLS certificate loaded yet")

// fixed returns the CA pool and region of the current identity.
func (r *Reloadable) fixed() (*x509.CertPool, string) {
	pool := x509.NewCertPool()
	id := r.Load()
	if id == nil {
		return pool, ""
	}
	pool.AddCert(id.CA)
	return pool, id.Region
}

// HTTPSServerConfig is the configuration of a server's or an agent's
// HTTPS listener. It presents the current certificate followed by the CA
// certificate, so that a joiner that knows only the CA's fingerprint
// (from its join token) can check it. A client certificate is optional
// (the join route works without one) but, if given, must chain to the CA
// and name a role of the region; the API decides per route which peer
// it requires, with PeerOf on the request's first peer certificate.
func (r *Reloadable) HTTPSServerConfig() *tls.Config {
	pool, region := r.fixed()
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			id := r.Load()
			if id == nil {
				return nil, errNoIdentity
			}
			c := id.Cert
			c.Certificate = [][]byte{id.Cert.Certificate[0], id.CA.Raw}
			return &c, nil
		},
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  pool,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return nil
			}
			if _, err := PeerOf(cs.PeerCertificates[0], region); err != nil {
				return fmt.Errorf("drover: the client certificate: %w", err)
			}
			return nil
		},
	}
}

// HTTPSClientConfig is the configuration of a server or an agent calling
// a server's HTTPS API: ClientConfigFor(Peer{Role: CertRoleServer}).
func (r *Reloadable) HTTPSClientConfig() *tls.Config {
	return r.ClientConfigFor(Peer{Role: CertRoleServer})
}

// ClientConfigFor is the configuration of a TLS client that presents the
// current certificate and accepts only a peer certificate of the CA
// naming want.Role of the region (and want.NodeID, if not empty), whatever
// host or address it dialled: certificates name roles, not hosts. The CLI
// reading an agent's task logs asks for Peer{Role: CertRoleClient,
// NodeID: node}.
func (r *Reloadable) ClientConfigFor(want Peer) *tls.Config {
	pool, region := r.fixed()
	name := ""
	if spec, err := specOf(want.Role); err == nil && region != "" {
		name = spec.name(region)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// The standard verification checks the chain against RootCAs and
		// ServerName; http.Transport keeps a ServerName that is set.
		RootCAs:    pool,
		ServerName: name,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			id := r.Load()
			if id == nil {
				return nil, errNoIdentity
			}
			c := id.Cert
			return &c, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if name == "" {
				return fmt.Errorf("drover: no certificate role %q of region %q to expect", want.Role, region)
			}
			if len(cs.PeerCertificates) == 0 {
				return errors.New("drover: the peer sent no certificate")
			}
			p, err := PeerOf(cs.PeerCertificates[0], region)
			if err != nil {
				return fmt.Errorf("drover: the peer's certificate: %w", err)
			}
			if p.Role != want.Role {
				return fmt.Errorf("drover: the peer has a %s certificate, want a %s certificate (%s)", p.Role, want.Role, name)
			}
			if want.NodeID != "" && p.NodeID != want.NodeID {
				return fmt.Errorf("drover: the peer's certificate is node %q's, want node %q's", p.NodeID, want.NodeID)
			}
			return nil
		},
	}
}

// PinnedConfig is the configuration of a joiner that has a join token
// but no certificate yet: it presents none, and accepts only a server of
// region whose certificate chains to a CA certificate, sent along with
// it, whose SHA-256 fingerprint is the token's. Set Time on the returned
// configuration (before cloning it) to check validity at another time
// than now.
func PinnedConfig(fingerprint [32]byte, region string) *tls.Config {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		ServerName: ServerName(region),
		// The joiner has no CA certificate to verify against, only the
		// fingerprint of one; the standard verification needs a root pool,
		// so it is off and VerifyConnection does all of it with the CA
		// the server sends, once its fingerprint matched.
		InsecureSkipVerify: true,
	}
	want := FingerprintString(fingerprint)
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		now := time.Now()
		if cfg.Time != nil {
			now = cfg.Time()
		}
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("drover: the server sent no certificate; want one signed by the CA %s of the join token", want)
		}
		var ca *x509.Certificate
		for _, c := range cs.PeerCertificates[1:] {
			if Fingerprint(c) == fingerprint {
				ca = c
			}
		}
		if ca == nil || !ca.IsCA || !ca.BasicConstraintsValid {
			return fmt.Errorf("drover: the server did not present the CA %s of the join token: it is not a server of that cluster, or the token is of another cluster", want)
		}
		if _, err := verify(cs.PeerCertificates[0], ca, CertRoleServer, region, now); err != nil {
			return fmt.Errorf("drover: the server's certificate is not a server certificate of region %q signed by the CA %s of the join token: %w", region, want, err)
		}
		return nil
	}
	return cfg
}
