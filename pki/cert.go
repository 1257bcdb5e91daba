package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Every certificate the CA signs names a role of a region, never a host:
//
//	server.<region>.drover  a server: Raft peer and HTTPS API (TLS server and client)
//	client.<region>.drover  an agent, with the URI urn:drover:node:<node ID>;
//	                        TLS client, and server of its task-log API
//	cli.<region>.drover     an operator's CLI: TLS client only
//
// PeerOf reads the role (and node ID) back from a verified certificate.

// CertRole is the role a certificate names.
type CertRole string

// Certificate roles.
const (
	CertRoleServer CertRole = "server"
	CertRoleClient CertRole = "client"
	CertRoleCLI    CertRole = "cli"
)

// ClientName is the DNS SAN of every client (agent) certificate of region.
func ClientName(region string) string { return "client." + region + ".drover" }

// CLIName is the DNS SAN of every CLI certificate of region.
func CLIName(region string) string { return "cli." + region + ".drover" }

// roleSpec is what a certificate of one role carries besides its node URI.
type roleSpec struct {
	name   func(region string) string
	usages []x509.ExtKeyUsage // all of them, in the certificate and required of it
	node   bool               // carries exactly one node URI
}

var roleSpecs = map[CertRole]roleSpec{
	CertRoleServer: {ServerName, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, false},
	CertRoleClient: {ClientName, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}, true},
	CertRoleCLI:    {CLIName, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, false},
}

func specOf(role CertRole) (roleSpec, error) {
	s, ok := roleSpecs[role]
	if !ok {
		return roleSpec{}, fmt.Errorf("%w: certificate role %q (want server, client or cli)", ErrInvalid, string(role))
	}
	return s, nil
}

const (
	nodeURIPrefix = "urn:drover:node:"
	maxNodeID     = 64
)

// ValidateNodeID checks a node ID as client certificates carry it:
// 1 to 64 letters, digits and dashes (agents use UUIDs).
func ValidateNodeID(id string) error {
	if id == "" || len(id) > maxNodeID || strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
	}) >= 0 {
		return fmt.Errorf("%w: node ID %.80q: use 1 to %d letters, digits and dashes", ErrInvalid, id, maxNodeID)
	}
	return nil
}

func nodeURI(id string) *url.URL { return &url.URL{Scheme: "urn", Opaque: "drover:node:" + id} }

// nodeOf returns the node ID of a node URI, or false if u is not one.
func nodeOf(u *url.URL) (string, bool) {
	id, ok := strings.CutPrefix(u.String(), nodeURIPrefix)
	if !ok || ValidateNodeID(id) != nil {
		return "", false
	}
	return id, true
}

// NewClientCSR returns a PEM certificate request for the agent of node
// nodeID in region, signed by key.
func NewClientCSR(key *ecdsa.PrivateKey, region, nodeID string) ([]byte, error) {
	if err := ValidateRegion(region); err != nil {
		return nil, err
	}
	if err := ValidateNodeID(nodeID); err != nil {
		return nil, err
	}
	return newCSR(key, ClientName(region), nodeURI(nodeID))
}

func newCSR(key crypto.Signer, name string, uris ...*url.URL) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: name},
		DNSNames: []string{name},
		URIs:     uris,
	}, key)
	if err != nil {
		return nil, fmt.Errorf("pki: certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// SignClient signs the certificate request (PEM) of the agent of node
// nodeID in region. The CSR may name nothing but ClientName(region) and
// must carry exactly the URI urn:drover:node:<nodeID>; the certificate
// carries both, may act as TLS client and server (the agent serves task
// logs with it), and is valid from now for lifetime (at most until the
// CA expires).
func (ca *CA) SignClient(csrPEM []byte, region, nodeID string, now time.Time, lifetime time.Duration) ([]byte, error) {
	return ca.signCSR(csrPEM, CertRoleClient, region, nodeID, now, lifetime)
}

// signCSR checks that a CSR asks for nothing but what a certificate of
// role names, and signs its key.
func (ca *CA) signCSR(csrPEM []byte, role CertRole, region, nodeID string, now time.Time, lifetime time.Duration) ([]byte, error) {
	spec, err := checkRequest(role, region, nodeID, lifetime)
	if err != nil {
		return nil, err
	}
	csr, err := ParseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	want := spec.name(region)
	what := fmt.Sprintf("a %s certificate names only %q", role, want)
	if spec.node {
		what += fmt.Sprintf(" and the URI %q", nodeURI(nodeID))
	}
	for _, n := range csr.DNSNames {
		if n != want {
			return nil, fmt.Errorf("%w: the request names %q; %s", ErrInvalid, n, what)
		}
	}
	if len(csr.IPAddresses)+len(csr.EmailAddresses) > 0 {
		return nil, fmt.Errorf("%w: the request names IP addresses or emails; %s", ErrInvalid, what)
	}
	switch {
	case !spec.node && len(csr.URIs) > 0:
		return nil, fmt.Errorf("%w: the request names URIs; %s", ErrInvalid, what)
	case spec.node && (len(csr.URIs) != 1 || csr.URIs[0].String() != nodeURI(nodeID).String()):
		got := make([]string, len(csr.URIs))
		for i, u := range csr.URIs {
			got[i] = u.String()
		}
		return nil, fmt.Errorf("%w: the request names the URIs %q, not node %q; %s", ErrInvalid, got, nodeID, what)
	}
	return ca.sign(csr.PublicKey, spec, region, nodeID, now, lifetime)
}

// checkRequest checks the parameters of a certificate of role.
func checkRequest(role CertRole, region, nodeID string, lifetime time.Duration) (roleSpec, error) {
	spec, err := specOf(role)
	if err != nil {
		return roleSpec{}, err
	}
	if err := ValidateRegion(region); err != nil {
		return roleSpec{}, err
	}
	switch {
	case spec.node:
		if err := ValidateNodeID(nodeID); err != nil {
			return roleSpec{}, err
		}
	case nodeID != "":
		return roleSpec{}, fmt.Errorf("%w: a %s certificate carries no node ID", ErrInvalid, role)
	}
	if lifetime <= 0 {
		return roleSpec{}, fmt.Errorf("%w: certificate lifetime must be positive", ErrInvalid)
	}
	return spec, nil
}

// sign is the one place that builds a leaf certificate: the role's name
// as CN and only DNS SAN, the node URI if the role has one, the role's
// key usages, valid from now (backdated by the clock skew allowance) for
// lifetime but not past the CA. Its arguments are already checked.
func (ca *CA) sign(pub crypto.PublicKey, spec roleSpec, region, nodeID string, now time.Time, lifetime time.Duration) ([]byte, error) {
	if err := checkKey(pub); err != nil {
		return nil, err
	}
	skid, err := keyID(pub)
	if err != nil {
		return nil, err
	}
	name := spec.name(region)
	notAfter := now.Add(lifetime)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  spec.usages,
		SubjectKeyId: skid,
	}
	if spec.node {
		tmpl.URIs = []*url.URL{nodeURI(nodeID)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: sign: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// IssueCert makes a new key and a certificate of role for it, as `drover
// tls cert create` does: nodeID is required for a client certificate and
// must be empty otherwise.
func (ca *CA) IssueCert(role CertRole, region, nodeID string, now time.Time, lifetime time.Duration) (certPEM, keyPEM []byte, err error) {
	spec, err := checkRequest(role, region, nodeID, lifetime)
	if err != nil {
		return nil, nil, err
	}
	key, err := NewKey()
	if err != nil {
		return nil, nil, err
	}
	certPEM, err = ca.sign(&key.PublicKey, spec, region, nodeID, now, lifetime)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = EncodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// Peer is who a certificate of the cluster CA names.
type Peer struct {
	Role CertRole
	// NodeID is the node of a client certificate; empty for other roles.
	NodeID string
}

// PeerOf reads the role (and, for a client, the node ID) from a
// certificate of region whose chain to the cluster CA was already
// verified. The certificate must name exactly one of the three role
// names of region and nothing else, and a client certificate exactly one
// node URI.
func PeerOf(cert *x509.Certificate, region string) (Peer, error) {
	if len(cert.DNSNames) != 1 {
		return Peer{}, fmt.Errorf("%w: the certificate names %q; want exactly one of server, client or cli.%s.drover", ErrInvalid, cert.DNSNames, region)
	}
	if len(cert.IPAddresses)+len(cert.EmailAddresses) > 0 {
		return Peer{}, fmt.Errorf("%w: the certificate names IP addresses or emails; Drover certificates name only a role", ErrInvalid)
	}
	for role, spec := range roleSpecs {
		if cert.DNSNames[0] != spec.name(region) {
			continue
		}
		if !spec.node {
			if len(cert.URIs) > 0 {
				return Peer{}, fmt.Errorf("%w: the %s certificate names URIs; only client certificates carry a node URI", ErrInvalid, role)
			}
			return Peer{Role: role}, nil
		}
		if len(cert.URIs) != 1 {
			return Peer{}, fmt.Errorf("%w: the client certificate names %d URIs; want exactly one %s<node ID>", ErrInvalid, len(cert.URIs), nodeURIPrefix)
		}
		id, ok := nodeOf(cert.URIs[0])
		if !ok {
			return Peer{}, fmt.Errorf("%w: the client certificate's URI %.100q is not %s<node ID>", ErrInvalid, cert.URIs[0].String(), nodeURIPrefix)
		}
		return Peer{Role: role, NodeID: id}, nil
	}
	return Peer{}, fmt.Errorf("%w: the certificate names %.100q, not server, client or cli.%s.drover", ErrInvalid, cert.DNSNames[0], region)
}

// verify checks that cert was signed by ca, is valid at now, names
// exactly a role of region (want, if not empty) and allows every key
// usage of that role.
func verify(cert, ca *x509.Certificate, want CertRole, region string, now time.Time) (Peer, error) {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	// KeyUsages accepts a chain that allows any one of them; the role's
	// usages are all checked below.
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots:       pool,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return Peer{}, fmt.Errorf("%w: %s certificate: %v", ErrInvalid, orAny(want), err)
	}
	p, err := PeerOf(cert, region)
	if err != nil {
		return Peer{}, err
	}
	if want != "" && p.Role != want {
		return Peer{}, fmt.Errorf("%w: the certificate is a %s certificate, want a %s certificate of region %q", ErrInvalid, p.Role, want, region)
	}
	for _, u := range roleSpecs[p.Role].usages {
		if !slices.Contains(cert.ExtKeyUsage, u) {
			return Peer{}, fmt.Errorf("%w: the %s certificate does not allow TLS %s use", ErrInvalid, p.Role, usageName(u))
		}
	}
	return p, nil
}

func orAny(r CertRole) string {
	if r == "" {
		return "peer"
	}
	return string(r)
}

func usageName(u x509.ExtKeyUsage) string {
	if u == x509.ExtKeyUsageServerAuth {
		return "server"
	}
	return "client"
}
