package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// issueRole returns an identity of role signed by ca, valid at t0.
func issueRole(t *testing.T, ca *CA, role CertRole, region, nodeID string) *Identity {
	t.Helper()
	certPEM, keyPEM, err := ca.IssueCert(role, region, nodeID, t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id, err := LoadIdentity(role, region, ca.CertPEM(), certPEM, keyPEM, t0)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// at returns cfg with its clock at t0 (the certificates' time); set on
// the configuration itself, so that PinnedConfig's check sees it too.
func at(cfg *tls.Config) *tls.Config {
	cfg.Time = func() time.Time { return t0 }
	return cfg
}

// connect runs a TLS handshake over loopback TCP (buffered, unlike
// net.Pipe, so that an alert written while the other side writes its
// flight does not deadlock) and returns what the server saw.
func connect(server, client *tls.Config) (tls.ConnectionState, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer ln.Close()
	type result struct {
		cs  tls.ConnectionState
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		s := tls.Server(c, server.Clone())
		err = s.Handshake()
		if err == nil {
			// TLS 1.3 clients finish before the server checks their
			// certificate; make the client read the verdict.
			_, err = s.Write([]byte("x"))
		}
		done <- result{s.ConnectionState(), err}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return tls.ConnectionState{}, err
	}
	c := tls.Client(raw, client.Clone())
	err = c.Handshake()
	if err == nil {
		_, err = io.ReadFull(c, make([]byte, 1))
	}
	raw.Close() // a client that failed before writing leaves the server waiting
	r := <-done
	if err == nil {
		err = r.err
	}
	return r.cs, err
}

// caOnly is a client that verifies a server against ca but has no
// certificate, as a CLI given only the CA certificate.
func caOnly(ca *CA) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return at(&tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: ServerName("global")})
}

// TestHTTPSServerConfig: the API's listener takes clients with or
// without a certificate of the cluster CA, refuses any other
// certificate, and tells who a client is.
func TestHTTPSServerConfig(t *testing.T) {
	ca := mustCA(t, "global")
	server := NewReloadable(issueRole(t, ca, CertRoleServer, "global", ""))
	agentA := NewReloadable(issueRole(t, ca, CertRoleClient, "global", nodeA))
	cli := NewReloadable(issueRole(t, ca, CertRoleCLI, "global", ""))
	peer := NewReloadable(issueRole(t, ca, CertRoleServer, "global", ""))
	// An agent of another CA that trusts ours, so that only the server's
	// check of its certificate can fail.
	foreign := NewReloadable(issueRole(t, mustCA(t, "global"), CertRoleClient, "global", nodeA)).HTTPSClientConfig()
	foreign.RootCAs = caOnly(ca).RootCAs
	// A certificate of our CA that names no role (signed by mistake).
	strayCert, strayKey := certWith(t, ca, []string{"admin.global.drover"}, nil, x509.ExtKeyUsageClientAuth)
	stray := caOnly(ca)
	stray.Certificates = []tls.Certificate{{Certificate: [][]byte{strayCert.Raw}, PrivateKey: strayKey}}

	tests := []struct {
		name    string
		client  *tls.Config
		want    *Peer // nil: no client certificate
		wantErr string
	}{
		{"no certificate", caOnly(ca), nil, ""},
		{"joiner with the token's fingerprint", at(PinnedConfig(ca.Fingerprint(), "global")), nil, ""},
		{"agent of node A", at(agentA.HTTPSClientConfig()), &Peer{Role: CertRoleClient, NodeID: nodeA}, ""},
		{"CLI", at(cli.HTTPSClientConfig()), &Peer{Role: CertRoleCLI}, ""},
		{"another server", at(peer.HTTPSClientConfig()), &Peer{Role: CertRoleServer}, ""},
		{"agent of another CA", at(foreign), nil, "certificate"},
		{"certificate of the CA naming no role", stray, nil, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := connect(at(server.HTTPSServerConfig()), tt.client)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("handshake = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if len(srv.PeerCertificates) != 0 {
					t.Fatalf("the server saw a client certificate %v", srv.PeerCertificates[0].DNSNames)
				}
				return
			}
			p, err := PeerOf(srv.PeerCertificates[0], "global")
			if err != nil || p != *tt.want {
				t.Fatalf("PeerOf(client) = %+v, %v; want %+v", p, err, *tt.want)
			}
		})
	}
}

// TestClientConfigFor: a client accepts only the peer role (and node) it
// asked for, whatever the address it dialled; an agent's client
// certificate cannot pose as a server.
func TestClientConfigFor(t *testing.T) {
	ca := mustCA(t, "global")
	server := NewReloadable(issueRole(t, ca, CertRoleServer, "global", ""))
	agentA := NewReloadable(issueRole(t, ca, CertRoleClient, "global", nodeA))
	agentB := NewReloadable(issueRole(t, ca, CertRoleClient, "global", "node-b"))
	cli := NewReloadable(issueRole(t, ca, CertRoleCLI, "global", ""))
	eu := NewReloadable(issueRole(t, ca, CertRoleServer, "eu", ""))
	foreign := NewReloadable(issueRole(t, mustCA(t, "global"), CertRoleServer, "global", ""))

	tests := []struct {
		name    string
		server  *Reloadable
		client  *tls.Config
		wantErr string
	}{
		{"agent calls a server", server, agentB.HTTPSClientConfig(), ""},
		{"agent's certificate posing as a server", agentA, agentB.HTTPSClientConfig(), "certificate"},
		{"server of another region", eu, agentA.HTTPSClientConfig(), "certificate"},
		{"server of another CA", foreign, agentA.HTTPSClientConfig(), "certificate"},
		{"CLI reads node A's logs", agentA, cli.ClientConfigFor(Peer{Role: CertRoleClient, NodeID: nodeA}), ""},
		{"CLI reads any agent's logs", agentB, cli.ClientConfigFor(Peer{Role: CertRoleClient}), ""},
		{"node B answers for node A", agentB, cli.ClientConfigFor(Peer{Role: CertRoleClient, NodeID: nodeA}), `node "node-b"`},
		{"server answers for an agent", server, cli.ClientConfigFor(Peer{Role: CertRoleClient}), "certificate"},
		{"CLI certificate cannot serve", cli, agentA.ClientConfigFor(Peer{Role: CertRoleCLI}), "certificate"},
		// Made before any identity: no CA to trust, no name to expect.
		{"no identity yet", server, new(Reloadable).HTTPSClientConfig(), "ServerName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := at(tt.client)
			_, err := connect(at(tt.server.HTTPSServerConfig()), client)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("handshake = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	// The dialled host plays no part: http.Transport keeps the
	// configuration's ServerName.
	if got := agentA.HTTPSClientConfig().ServerName; got != "server.global.drover" {
		t.Errorf("ServerName = %q", got)
	}
}

// TestPinnedConfig: a joiner with only a join token accepts a server of
// the token's CA and nothing else.
func TestPinnedConfig(t *testing.T) {
	ca := mustCA(t, "global")
	server := NewReloadable(issueRole(t, ca, CertRoleServer, "global", ""))
	agent := NewReloadable(issueRole(t, ca, CertRoleClient, "global", nodeA))
	other := mustCA(t, "global")
	impostor := NewReloadable(issueRole(t, other, CertRoleServer, "global", ""))
	eu := NewReloadable(issueRole(t, ca, CertRoleServer, "eu", ""))
	// A server that sends only its leaf, not the CA.
	leafOnly := server.Load().TLSConfig()
	leafOnly.ClientAuth = tls.NoClientCert

	fp := FingerprintString(ca.Fingerprint())
	tests := []struct {
		name    string
		server  *tls.Config
		pin     [32]byte
		region  string
		wantErr string
	}{
		{"right fingerprint", server.HTTPSServerConfig(), ca.Fingerprint(), "global", ""},
		{"wrong fingerprint", server.HTTPSServerConfig(), other.Fingerprint(), "global", FingerprintString(other.Fingerprint())},
		{"server of another CA", impostor.HTTPSServerConfig(), ca.Fingerprint(), "global", "did not present the CA " + fp},
		{"agent posing as a server", agent.HTTPSServerConfig(), ca.Fingerprint(), "global", "not a server certificate"},
		{"server of another region", eu.HTTPSServerConfig(), ca.Fingerprint(), "global", `region "global"`},
		{"no CA in the chain", leafOnly, ca.Fingerprint(), "global", "did not present the CA " + fp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := connect(at(tt.server), at(PinnedConfig(tt.pin, tt.region)))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("handshake = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	// Validity is checked: at the default clock (now) the t0 certificates
	// have expired.
	if _, err := connect(at(server.HTTPSServerConfig()), PinnedConfig(ca.Fingerprint(), "global")); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("an expired server certificate: %v", err)
	}
}

// TestReloadableRenewal: a listener keeps running while its identity is
// replaced, and the next handshake presents the new certificate; the
// client side swaps the same way.
func TestReloadableRenewal(t *testing.T) {
	ca := mustCA(t, "global")
	server := NewReloadable(issueRole(t, ca, CertRoleServer, "global", ""))
	agent := NewReloadable(issueRole(t, ca, CertRoleClient, "global", nodeA))

	ln, err := tls.Listen("tcp", "127.0.0.1:0", at(server.HTTPSServerConfig()))
	if err != nil {
		t.Fatal(err)
	}
	// The accept loop reports the client certificate's serial of each
	// connection.
	seen := make(chan string, 4)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			serial := ""
			if err := tc.Handshake(); err == nil {
				if cs := tc.ConnectionState(); len(cs.PeerCertificates) > 0 {
					serial = cs.PeerCertificates[0].SerialNumber.String()
				}
				_, _ = tc.Write([]byte("x"))
			}
			seen <- serial
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})

	client := at(agent.HTTPSClientConfig())
	dial := func() (srvSerial, cliSerial string) {
		t.Helper()
		d := tls.Dialer{Config: client}
		c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		return c.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.String(), <-seen
	}
	serial := func(r *Reloadable) string { return r.Load().Cert.Leaf.SerialNumber.String() }

	if s, c := dial(); s != serial(server) || c != serial(agent) {
		t.Fatalf("first handshake: server %s client %s", s, c)
	}
	server.Store(issueRole(t, ca, CertRoleServer, "global", ""))
	agent.Store(issueRole(t, ca, CertRoleClient, "global", nodeA))
	if s, c := dial(); s != serial(server) || c != serial(agent) {
		t.Fatalf("after Store: server %s client %s, want the renewed %s and %s", s, c, serial(server), serial(agent))
	}
}
