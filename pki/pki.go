// Package pki is the cluster's certificate authority: it creates the CA
// (ECDSA P-256), signs the certificate requests of servers and agents,
// issues certificates for operators, checks certificates against the CA,
// makes and parses the join tokens that let a new server or agent obtain
// a certificate, and seals secrets (the CA key, join tokens) for storage.
//
// A certificate names a role of the region, not the host: a server's only
// DNS SAN is server.<region>.drover (ServerName), as Nomad's
// server.<region>.nomad, and peers check that name (Nomad's
// verify_server_hostname). It serves as both a TLS server and a TLS
// client certificate, since Raft dials in both directions. Agents' and
// CLIs' certificates are described in cert.go.
//
// The package knows no files, flags or networks: callers store the PEM it
// returns and build TLS configurations with TLSConfig (Raft), the
// configurations of Reloadable (HTTPS) and PinnedConfig (joining).
package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"time"
)

// DefaultRegion is the region of a cluster that names none.
const DefaultRegion = "global"

// DefaultCertLifetime is how long a signed server certificate is valid.
const DefaultCertLifetime = 90 * 24 * time.Hour

// CALifetime is how long the cluster CA is valid.
const CALifetime = 10 * 365 * 24 * time.Hour

// clockSkew backdates NotBefore so that a peer whose clock is slightly
// behind accepts a fresh certificate.
const clockSkew = 5 * time.Minute

// ErrInvalid is wrapped by every error about malformed or unacceptable
// input: a bad PEM block, a CSR for a foreign name, a certificate from
// another CA.
var ErrInvalid = errors.New("pki: invalid")

var regionRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateRegion checks that a region can be a DNS label.
func ValidateRegion(region string) error {
	if !regionRE.MatchString(region) {
		return fmt.Errorf("%w: region %q: use lowercase letters, digits and dashes (a DNS label)", ErrInvalid, region)
	}
	return nil
}

// ServerName is the DNS SAN every server certificate of region carries
// and every peer checks.
func ServerName(region string) string { return "server." + region + ".drover" }

// CA is the cluster's certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewCA creates a CA for region, valid from now for CALifetime.
func NewCA(region string, now time.Time) (*CA, error) {
	return NewCAValidFor(region, now, CALifetime)
}

// NewCAValidFor creates a CA for region, valid from now for lifetime.
func NewCAValidFor(region string, now time.Time, lifetime time.Duration) (*CA, error) {
	if err := ValidateRegion(region); err != nil {
		return nil, err
	}
	if lifetime <= 0 {
		return nil, fmt.Errorf("%w: CA lifetime must be positive", ErrInvalid)
	}
	key, err := NewKey()
	if err != nil {
		return nil, err
	}
	skid, err := keyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Drover CA " + region, Organization: []string{"Drover"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          skid,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pki: create CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: create CA: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// LoadCA parses a CA certificate and its key, as CertPEM and KeyPEM wrote
// them, and checks that they belong together.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCACert(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := matchKey(cert, keyPEM, "CA")
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// CertPEM returns the CA certificate in PEM.
func (ca *CA) CertPEM() []byte { return EncodeCert(ca.Cert) }

// KeyPEM returns the CA key in PEM; keep it mode 0600.
func (ca *CA) KeyPEM() ([]byte, error) { return EncodeKey(ca.Key) }

// Fingerprint returns the SHA-256 of the CA certificate's DER, which join
// tokens carry.
func (ca *CA) Fingerprint() [32]byte { return Fingerprint(ca.Cert) }

// SignServer signs a server certificate request (PEM) for region. The CSR
// must be self-signed by an ECDSA P-256 key and may name nothing but
// ServerName(region); the certificate carries exactly that name and is
// valid from now for lifetime.
func (ca *CA) SignServer(csrPEM []byte, region string, now time.Time, lifetime time.Duration) ([]byte, error) {
	return ca.signCSR(csrPEM, CertRoleServer, region, "", now, lifetime)
}

// NewKey returns a new ECDSA P-256 key.
func NewKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate key: %w", err)
	}
	return key, nil
}

// NewServerCSR returns a PEM certificate request for a server of region,
// signed by key.
func NewServerCSR(key *ecdsa.PrivateKey, region string) ([]byte, error) {
	if err := ValidateRegion(region); err != nil {
		return nil, err
	}
	return newCSR(key, ServerName(region))
}

// ParseCSR parses a PEM certificate request and checks its signature and
// key type.
func ParseCSR(csrPEM []byte) (*x509.CertificateRequest, error) {
	der, err := onePEM(csrPEM, "CERTIFICATE REQUEST")
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate request: %v", ErrInvalid, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: certificate request signature: %v", ErrInvalid, err)
	}
	if err := checkKey(csr.PublicKey); err != nil {
		return nil, err
	}
	return csr, nil
}

// ParseCACert parses a PEM CA certificate.
func ParseCACert(certPEM []byte) (*x509.Certificate, error) {
	cert, err := ParseCert(certPEM)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, fmt.Errorf("%w: the certificate %q is not a CA", ErrInvalid, cert.Subject.CommonName)
	}
	return cert, nil
}

// ParseCert parses one PEM certificate.
func ParseCert(certPEM []byte) (*x509.Certificate, error) {
	der, err := onePEM(certPEM, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate: %v", ErrInvalid, err)
	}
	return cert, nil
}

// EncodeCert returns cert in PEM.
func EncodeCert(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// EncodeKey returns key in PEM (PKCS #8).
func EncodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKey parses a PEM ECDSA P-256 private key (PKCS #8 or SEC 1).
func ParseKey(keyPEM []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM private key", ErrInvalid)
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%w: PEM block %q is not a private key", ErrInvalid, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: private key: %v", ErrInvalid, err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: the private key is a %T, not ECDSA P-256", ErrInvalid, key)
	}
	if err := checkKey(&ec.PublicKey); err != nil {
		return nil, err
	}
	return ec, nil
}

// Fingerprint returns the SHA-256 of a certificate's DER.
func Fingerprint(cert *x509.Certificate) [32]byte { return sha256.Sum256(cert.Raw) }

// VerifyServer checks that cert was signed by ca, is valid at now, may
// act as a TLS client and server, and names ServerName(region) and
// nothing else.
func VerifyServer(cert, ca *x509.Certificate, region string, now time.Time) error {
	_, err := verify(cert, ca, CertRoleServer, region, now)
	return err
}

// matchKey parses the PEM private key of cert and checks that it is
// cert's; what names the certificate in the error.
func matchKey(cert *x509.Certificate, keyPEM []byte, what string) (*ecdsa.PrivateKey, error) {
	key, err := ParseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%w: the %s key does not belong to the %s certificate", ErrInvalid, what, what)
	}
	return key, nil
}

func onePEM(data []byte, typ string) ([]byte, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM %s", ErrInvalid, typ)
	}
	if block.Type != typ {
		return nil, fmt.Errorf("%w: PEM block %q, want %q", ErrInvalid, block.Type, typ)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("%w: data after the PEM %s", ErrInvalid, typ)
	}
	return block.Bytes, nil
}

func checkKey(pub crypto.PublicKey) error {
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return fmt.Errorf("%w: the key is a %T, want ECDSA P-256", ErrInvalid, pub)
	}
	return nil
}

// keyID is the SHA-256 (truncated to 20 bytes, as RFC 7093 allows) of the
// public key.
func keyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("pki: key ID: %w", err)
	}
	sum := sha256.Sum256(der)
	return sum[:20], nil
}

func serial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	b[0] &= 0x7f
	return new(big.Int).SetBytes(b)
}

// FingerprintString is a fingerprint as lowercase hex.
func FingerprintString(fp [32]byte) string { return hex.EncodeToString(fp[:]) }
