package pki

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustCA(t *testing.T, region string) *CA {
	t.Helper()
	ca, err := NewCA(region, t0)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// issue returns a server identity of region signed by ca.
func issue(t *testing.T, ca *CA, region string, lifetime time.Duration) *ServerIdentity {
	t.Helper()
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := NewServerCSR(key, region)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignServer(csr, region, t0, lifetime)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := EncodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	id, err := LoadServerIdentity(region, ca.CertPEM(), certPEM, keyPEM, t0)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestCARoundTrip(t *testing.T) {
	ca := mustCA(t, "global")
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	got, err := LoadCA(ca.CertPEM(), keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint() != ca.Fingerprint() {
		t.Error("fingerprint changed across a PEM round trip")
	}
	other := mustCA(t, "global")
	otherKey, _ := other.KeyPEM()
	if _, err := LoadCA(ca.CertPEM(), otherKey); !errors.Is(err, ErrInvalid) {
		t.Errorf("LoadCA(foreign key) = %v, want ErrInvalid", err)
	}
	if !ca.Cert.IsCA || ca.Cert.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("CA: IsCA=%v alg=%v", ca.Cert.IsCA, ca.Cert.PublicKeyAlgorithm)
	}
}

func TestSignServer(t *testing.T) {
	ca := mustCA(t, "global")
	key, _ := NewKey()
	csrFor := func(names ...string) []byte {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names}, key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	}
	good, _ := NewServerCSR(key, "global")
	tests := []struct {
		name     string
		csr      []byte
		region   string
		lifetime time.Duration
		wantErr  string
	}{
		{"server", good, "global", DefaultCertLifetime, ""},
		{"no names", csrFor(), "global", time.Hour, ""},
		{"other region", good, "eu", time.Hour, `names "server.global.drover"`},
		{"client name", csrFor("client.global.drover"), "global", time.Hour, `names "client.global.drover"`},
		{"extra name", csrFor("server.global.drover", "evil.example"), "global", time.Hour, `"evil.example"`},
		{"bad region", good, "Global!", time.Hour, "region"},
		{"zero lifetime", good, "global", 0, "lifetime"},
		{"not PEM", []byte("hello"), "global", time.Hour, "no PEM"},
		{"cert not CSR", ca.CertPEM(), "global", time.Hour, `want "CERTIFICATE REQUEST"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, err := ca.SignServer(tt.csr, tt.region, t0, tt.lifetime)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("SignServer = %v, want ErrInvalid containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cert, err := ParseCert(certPEM)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyServer(cert, ca.Cert, tt.region, t0); err != nil {
				t.Errorf("VerifyServer: %v", err)
			}
			if got := cert.NotAfter.Sub(t0); got != tt.lifetime {
				t.Errorf("lifetime = %v, want %v", got, tt.lifetime)
			}
			if len(cert.DNSNames) != 1 || cert.DNSNames[0] != "server.global.drover" {
				t.Errorf("DNSNames = %v", cert.DNSNames)
			}
		})
	}
}

func TestVerifyServer(t *testing.T) {
	ca := mustCA(t, "global")
	id := issue(t, ca, "global", time.Hour)
	leaf := id.Cert.Leaf
	other := mustCA(t, "global")
	tests := []struct {
		name   string
		ca     *x509.Certificate
		region string
		now    time.Time
		ok     bool
	}{
		{"valid", ca.Cert, "global", t0, true},
		{"expired", ca.Cert, "global", t0.Add(2 * time.Hour), false},
		{"other CA", other.Cert, "global", t0, false},
		{"other region", ca.Cert, "eu", t0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyServer(leaf, tt.ca, tt.region, tt.now)
			if (err == nil) != tt.ok {
				t.Errorf("VerifyServer = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestLoadServerIdentityRefusesMismatch(t *testing.T) {
	ca := mustCA(t, "global")
	key, _ := NewKey()
	csr, _ := NewServerCSR(key, "global")
	certPEM, _ := ca.SignServer(csr, "global", t0, time.Hour)
	otherKey, _ := NewKey()
	otherPEM, _ := EncodeKey(otherKey)
	if _, err := LoadServerIdentity("global", ca.CertPEM(), certPEM, otherPEM, t0); err == nil {
		t.Error("a certificate with a foreign key was accepted")
	}
	keyPEM, _ := EncodeKey(key)
	if _, err := LoadServerIdentity("global", certPEM, certPEM, keyPEM, t0); err == nil {
		t.Error("a leaf certificate was accepted as the CA")
	}
}

// TestTLSConfig runs handshakes between identities: only two servers of
// the same CA and region talk.
func TestTLSConfig(t *testing.T) {
	ca := mustCA(t, "global")
	a := issue(t, ca, "global", time.Hour)
	b := issue(t, ca, "global", time.Hour)
	foreign := issue(t, mustCA(t, "global"), "global", time.Hour)
	eu := issue(t, ca, "eu", time.Hour)
	clientOnly := clientCert(t, ca)

	tests := []struct {
		name           string
		server, client *tls.Config
		ok             bool
	}{
		{"same CA", a.TLSConfig(), b.TLSConfig(), true},
		{"client from another CA", a.TLSConfig(), foreign.TLSConfig(), false},
		{"server from another CA", foreign.TLSConfig(), a.TLSConfig(), false},
		{"client of another region", a.TLSConfig(), eu.TLSConfig(), false},
		{"client without certificate", a.TLSConfig(), &tls.Config{RootCAs: a.TLSConfig().RootCAs, ServerName: "server.global.drover"}, false},
		{"client certificate of another role", a.TLSConfig(), clientOnly, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := handshake(tt.server, tt.client); (err == nil) != tt.ok {
				t.Errorf("handshake = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// clientCert is a TLS client configuration with a certificate of the CA
// that is not a server certificate.
func clientCert(t *testing.T, ca *CA) *tls.Config {
	key, _ := NewKey()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "client.global.drover"},
		DNSNames:     []string{"client.global.drover"},
		NotBefore:    t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return &tls.Config{
		RootCAs: pool, ServerName: "server.global.drover",
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
	}
}

func handshake(server, client *tls.Config) error {
	server, client = server.Clone(), client.Clone()
	server.Time = func() time.Time { return t0 }
	client.Time = server.Time
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	errC := make(chan error, 1)
	go func() {
		s := tls.Server(c1, server)
		err := s.Handshake()
		if err == nil {
			// TLS 1.3 clients finish before the server checks their
			// certificate; make the client read the verdict.
			_, err = s.Write([]byte("x"))
		}
		errC <- err
		c1.Close()
	}()
	c := tls.Client(c2, client)
	err := c.Handshake()
	if err == nil {
		_, err = io.ReadFull(c, make([]byte, 1))
	}
	if serr := <-errC; err == nil {
		err = serr
	}
	return err
}

func TestProof(t *testing.T) {
	ca := mustCA(t, "global")
	id := issue(t, ca, "global", time.Hour)
	body := []byte("csr")
	p, err := id.Prove(ProofRenew, body, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyProof(p, ca.Cert, "global", ProofRenew, body, t0.Add(time.Minute)); err != nil {
		t.Fatalf("good proof: %v", err)
	}
	other := mustCA(t, "global")
	tests := []struct {
		name    string
		ca      *CA
		purpose string
		body    string
		now     time.Time
		want    string
	}{
		{"other purpose", ca, ProofRaftJoin, "csr", t0, "does not verify"},
		{"other body", ca, ProofRenew, "other", t0, "does not verify"},
		{"stale", ca, ProofRenew, "csr", t0.Add(MaxProofSkew + time.Minute), "synchronise"},
		{"expired", ca, ProofRenew, "csr", t0.Add(2 * time.Hour), "expired"},
		{"wrong CA", other, ProofRenew, "csr", t0, "this cluster's CA"},
	}
	for _, tt := range tests {
		_, err := VerifyProof(p, tt.ca.Cert, "global", tt.purpose, []byte(tt.body), tt.now)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want ErrInvalid containing %q", tt.name, err, tt.want)
		}
	}
	if _, err := VerifyProof(&Proof{}, ca.Cert, "global", ProofRenew, body, t0); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty proof: %v", err)
	}
	cert := id.Cert.Leaf
	if at := RenewAt(cert); !at.Equal(t0.Add(40 * time.Minute)) {
		t.Errorf("RenewAt = %s, want two thirds into the lifetime (%s)", at, t0.Add(40*time.Minute))
	}
}
