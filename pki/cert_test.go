package pki

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

const nodeA = "6f1c2b4e-0d3a-4c5e-9b7a-1e2f3a4b5c6d"

// csrWith is a CSR carrying exactly the given SANs, as an attacker may
// craft it.
func csrWith(t *testing.T, dns []string, uris []string, ips []net.IP, emails []string) []byte {
	t.Helper()
	key, _ := NewKey()
	var us []*url.URL
	for _, s := range uris {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		us = append(us, u)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		DNSNames: dns, URIs: us, IPAddresses: ips, EmailAddresses: emails,
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestValidateNodeID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{nodeA, true},
		{"node-1", true},
		{"A", true},
		{strings.Repeat("a", 64), true},
		{"", false},
		{strings.Repeat("a", 65), false},
		{"node/1", false},
		{"node:1", false},
		{"node 1", false},
		{"nöde", false},
		{"../etc", false},
	} {
		if err := ValidateNodeID(tc.id); (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("ValidateNodeID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}

// TestSignClient: an agent gets a certificate for its own node and
// nothing else; every other request is refused with the reason.
func TestSignClient(t *testing.T) {
	ca := mustCA(t, "global")
	key, _ := NewKey()
	good, err := NewClientCSR(key, "global", nodeA)
	if err != nil {
		t.Fatal(err)
	}
	uriA := "urn:drover:node:" + nodeA
	tests := []struct {
		name    string
		csr     []byte
		nodeID  string
		wantErr string
	}{
		{"own node", good, nodeA, ""},
		{"server name", csrWith(t, []string{"server.global.drover"}, []string{uriA}, nil, nil), nodeA, `names "server.global.drover"`},
		{"server and client names", csrWith(t, []string{"client.global.drover", "server.global.drover"}, []string{uriA}, nil, nil), nodeA, `names "server.global.drover"`},
		{"another node's URI", good, "node-b", `not node "node-b"`},
		{"two node URIs", csrWith(t, []string{"client.global.drover"}, []string{uriA, "urn:drover:node:node-b"}, nil, nil), nodeA, "URIs"},
		{"no node URI", csrWith(t, []string{"client.global.drover"}, nil, nil, nil), nodeA, "URIs"},
		{"other URI", csrWith(t, []string{"client.global.drover"}, []string{"spiffe://x/y"}, nil, nil), nodeA, "spiffe"},
		{"IP address", csrWith(t, []string{"client.global.drover"}, []string{uriA}, []net.IP{net.ParseIP("10.0.0.1")}, nil), nodeA, "IP addresses"},
		{"email", csrWith(t, []string{"client.global.drover"}, []string{uriA}, nil, []string{"a@b.c"}), nodeA, "emails"},
		{"other region", csrWith(t, []string{"client.eu.drover"}, []string{uriA}, nil, nil), nodeA, `names "client.eu.drover"`},
		{"bad node ID", good, "node/../a", "node ID"},
		{"empty node ID", good, "", "node ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, err := ca.SignClient(tt.csr, "global", tt.nodeID, t0, time.Hour)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("SignClient = %v, want ErrInvalid containing %q", err, tt.wantErr)
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
			p, err := verify(cert, ca.Cert, CertRoleClient, "global", t0)
			if err != nil || p != (Peer{Role: CertRoleClient, NodeID: nodeA}) {
				t.Fatalf("verify = %+v, %v; want client %s", p, err, nodeA)
			}
			if cert.Subject.CommonName != "client.global.drover" || !slices.Equal(cert.DNSNames, []string{"client.global.drover"}) {
				t.Errorf("CN %q, DNS %v", cert.Subject.CommonName, cert.DNSNames)
			}
			if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
				t.Errorf("ExtKeyUsage = %v, want client and server auth", cert.ExtKeyUsage)
			}
			if !cert.NotBefore.Equal(t0.Add(-clockSkew)) || !cert.NotAfter.Equal(t0.Add(time.Hour)) {
				t.Errorf("validity %s .. %s", cert.NotBefore, cert.NotAfter)
			}
			if err := VerifyServer(cert, ca.Cert, "global", t0); err == nil {
				t.Error("a client certificate passes as a server certificate")
			}
		})
	}
}

// TestSignServerRefusesClientRequest: a server CSR carrying a node URI (a
// client request sent to the server route) is refused.
func TestSignServerRefusesClientRequest(t *testing.T) {
	ca := mustCA(t, "global")
	key, _ := NewKey()
	csr, _ := NewClientCSR(key, "global", nodeA)
	if _, err := ca.SignServer(csr, "global", t0, time.Hour); !errors.Is(err, ErrInvalid) {
		t.Fatalf("SignServer(client CSR) = %v, want ErrInvalid", err)
	}
	srv := csrWith(t, []string{"server.global.drover"}, []string{"urn:drover:node:x"}, nil, nil)
	if _, err := ca.SignServer(srv, "global", t0, time.Hour); err == nil || !strings.Contains(err.Error(), "URIs") {
		t.Fatalf("SignServer(server name + URI) = %v, want refusal naming URIs", err)
	}
}

func TestIssueCert(t *testing.T) {
	ca, err := NewCAValidFor("global", t0, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		role     CertRole
		nodeID   string
		lifetime time.Duration
		want     Peer
		usages   []x509.ExtKeyUsage
		wantErr  string
	}{
		{role: CertRoleServer, lifetime: time.Hour, want: Peer{Role: CertRoleServer},
			usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{role: CertRoleClient, nodeID: nodeA, lifetime: time.Hour, want: Peer{Role: CertRoleClient, NodeID: nodeA},
			usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}},
		{role: CertRoleCLI, lifetime: 365 * 24 * time.Hour, want: Peer{Role: CertRoleCLI},
			usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		{role: CertRoleClient, lifetime: time.Hour, wantErr: "node ID"},
		{role: CertRoleCLI, nodeID: nodeA, lifetime: time.Hour, wantErr: "carries no node ID"},
		{role: "admin", lifetime: time.Hour, wantErr: `role "admin"`},
		{role: CertRoleServer, lifetime: -time.Hour, wantErr: "lifetime"},
	}
	for _, tt := range tests {
		t.Run(string(tt.role)+"/"+tt.wantErr, func(t *testing.T) {
			certPEM, keyPEM, err := ca.IssueCert(tt.role, "global", tt.nodeID, t0, tt.lifetime)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("IssueCert = %v, want ErrInvalid containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			id, err := LoadIdentity(tt.role, "global", ca.CertPEM(), certPEM, keyPEM, t0)
			if err != nil {
				t.Fatal(err)
			}
			leaf := id.Cert.Leaf
			if p, _ := PeerOf(leaf, "global"); p != tt.want || id.NodeID != tt.want.NodeID {
				t.Errorf("PeerOf = %+v, identity node %q; want %+v", p, id.NodeID, tt.want)
			}
			if !slices.Equal(leaf.ExtKeyUsage, tt.usages) {
				t.Errorf("ExtKeyUsage = %v, want %v", leaf.ExtKeyUsage, tt.usages)
			}
			want := t0.Add(tt.lifetime)
			if want.After(ca.Cert.NotAfter) {
				want = ca.Cert.NotAfter
			}
			if !leaf.NotAfter.Equal(want) {
				t.Errorf("NotAfter = %s, want %s (capped by the CA)", leaf.NotAfter, want)
			}
		})
	}
}

// certWith is a certificate of ca carrying exactly the given SANs and
// usages, as a careless or compromised signer may have made it.
func certWith(t *testing.T, ca *CA, dns, uris []string, usages ...x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := NewKey()
	var us []*url.URL
	for _, s := range uris {
		u, _ := url.Parse(s)
		us = append(us, u)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), DNSNames: dns, URIs: us,
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour),
		ExtKeyUsage: usages,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

func TestPeerOf(t *testing.T) {
	ca := mustCA(t, "global")
	uriA := "urn:drover:node:" + nodeA
	tests := []struct {
		name    string
		dns     []string
		uris    []string
		want    Peer
		wantErr string
	}{
		{"server", []string{"server.global.drover"}, nil, Peer{Role: CertRoleServer}, ""},
		{"client of node A", []string{"client.global.drover"}, []string{uriA}, Peer{Role: CertRoleClient, NodeID: nodeA}, ""},
		{"cli", []string{"cli.global.drover"}, nil, Peer{Role: CertRoleCLI}, ""},
		{"client without node", []string{"client.global.drover"}, nil, Peer{}, "0 URIs"},
		{"client of two nodes", []string{"client.global.drover"}, []string{uriA, "urn:drover:node:b"}, Peer{}, "2 URIs"},
		{"client with a bad node", []string{"client.global.drover"}, []string{"urn:drover:node:a/b"}, Peer{}, "is not urn:drover:node:"},
		{"client with another URI", []string{"client.global.drover"}, []string{"urn:other:node:" + nodeA}, Peer{}, "is not urn:drover:node:"},
		{"server with a node", []string{"server.global.drover"}, []string{uriA}, Peer{}, "names URIs"},
		{"server and client", []string{"server.global.drover", "client.global.drover"}, []string{uriA}, Peer{}, "exactly one"},
		{"other region", []string{"server.eu.drover"}, nil, Peer{}, `"server.eu.drover"`},
		{"host name", []string{"drover.example.com"}, nil, Peer{}, "not server, client or cli"},
		{"no name", nil, nil, Peer{}, "exactly one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, _ := certWith(t, ca, tt.dns, tt.uris)
			p, err := PeerOf(cert, "global")
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("PeerOf = %+v, %v; want ErrInvalid containing %q", p, err, tt.wantErr)
				}
				return
			}
			if err != nil || p != tt.want {
				t.Fatalf("PeerOf = %+v, %v; want %+v", p, err, tt.want)
			}
		})
	}
}

// TestLoadIdentityChecks: each role loads only its own certificate, with
// the key usages the role needs.
func TestLoadIdentityChecks(t *testing.T) {
	ca := mustCA(t, "global")
	clientPEM, clientKey, _ := ca.IssueCert(CertRoleClient, "global", nodeA, t0, time.Hour)
	cliPEM, cliKey, _ := ca.IssueCert(CertRoleCLI, "global", "", t0, time.Hour)
	id, err := LoadClientIdentity("global", ca.CertPEM(), clientPEM, clientKey, t0)
	if err != nil || id.NodeID != nodeA || id.Role != CertRoleClient {
		t.Fatalf("LoadClientIdentity = %+v, %v", id, err)
	}
	if _, err := LoadServerIdentity("global", ca.CertPEM(), clientPEM, clientKey, t0); !errors.Is(err, ErrInvalid) {
		t.Errorf("a client certificate loads as a server identity: %v", err)
	}
	if _, err := LoadClientIdentity("global", ca.CertPEM(), cliPEM, cliKey, t0); !errors.Is(err, ErrInvalid) {
		t.Errorf("a CLI certificate loads as a client identity: %v", err)
	}
	if _, err := LoadClientIdentity("global", ca.CertPEM(), clientPEM, cliKey, t0); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Errorf("a client certificate with another key: %v", err)
	}
	if _, err := LoadClientIdentity("global", mustCA(t, "global").CertPEM(), clientPEM, clientKey, t0); !errors.Is(err, ErrInvalid) {
		t.Errorf("a client certificate of another CA: %v", err)
	}
	// A server certificate without client auth cannot dial Raft peers.
	srv, _ := certWith(t, ca, []string{"server.global.drover"}, nil, x509.ExtKeyUsageServerAuth)
	if err := VerifyServer(srv, ca.Cert, "global", t0); err == nil || !strings.Contains(err.Error(), "TLS client use") {
		t.Errorf("VerifyServer(server auth only) = %v, want refusal", err)
	}
}
