package server_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// writeOwnPKI makes a CA of the operator's own and a server certificate
// from it, as `drover tls ca create` and `drover tls cert create
// -server` would, and returns the three files.
func writeOwnPKI(t *testing.T) (caFile, certFile, keyFile string, ca *pki.CA) {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.NewCA("global", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueCert(pki.CertRoleServer, "global", "", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	for path, data := range map[string][]byte{caFile: ca.CertPEM(), certFile: certPEM, keyFile: keyPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return caFile, certFile, keyFile, ca
}

// With tls { ca_file cert_file key_file } a server uses the operator's
// certificate for Raft and HTTPS instead of creating a CA: nothing of the
// built-in CA appears in its data dir, and its HTTPS API presents that
// certificate.
func TestServerWithOwnPKI(t *testing.T) {
	caFile, certFile, keyFile, ca := writeOwnPKI(t)
	s := servertest.Single(t, func(c *server.Config) {
		c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile = caFile, certFile, keyFile
	})
	for _, f := range []string{"tls/ca-key.pem", "tls/kek", "server.join-token", "client.join-token"} {
		if _, err := os.Stat(filepath.Join(s.DataDir(), f)); err == nil {
			t.Errorf("%s was created although the operator brought a PKI", f)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	conn, err := tls.Dial("tcp", s.HTTPAddr(), &tls.Config{RootCAs: pool, ServerName: pki.ServerName("global")})
	if err != nil {
		t.Fatalf("HTTPS with the operator's CA: %v", err)
	}
	got := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	want, _ := os.ReadFile(certFile)
	if w, _ := pki.ParseCert(want); w == nil || !got.Equal(w) {
		t.Fatalf("the server presented another certificate than %s", certFile)
	}
}

// A certificate that is not a server certificate (an agent's) is
// refused at start, saying what a server certificate must name.
func TestServerOwnPKIRefusesClientCertificate(t *testing.T) {
	caFile, _, _, ca := writeOwnPKI(t)
	certPEM, keyPEM, err := ca.IssueCert(pki.CertRoleClient, "global", "node-1", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "c-key.pem")
	_ = os.WriteFile(certFile, certPEM, 0o600)
	_ = os.WriteFile(keyFile, keyPEM, 0o600)
	cfg := servertest.Config(t, "s0")
	cfg.BootstrapExpect = 1
	cfg.TLSCAFile, cfg.TLSCertFile, cfg.TLSKeyFile = caFile, certFile, keyFile
	_, err = server.New(cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "server.global.drover") {
		t.Fatalf("a client certificate as the server's: %v, want a refusal naming server.global.drover", err)
	}
}

// verify_server_hostname cannot be turned off, and the three files go
// together.
func TestOwnPKIConfig(t *testing.T) {
	cfg := server.DefaultConfig()
	err := server.ParseConfigFile(&cfg, "server.hcl", []byte("tls {\n  verify_server_hostname = false\n}\n"))
	if err == nil || !strings.Contains(err.Error(), "server.hcl:1") || !strings.Contains(err.Error(), "cannot be turned off") {
		t.Fatalf("verify_server_hostname = false: %v", err)
	}
	cfg = servertest.Config(t, "s0")
	cfg.BootstrapExpect = 1
	cfg.TLSCertFile = "/x/server.pem"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "go together") {
		t.Fatalf("cert_file alone: %v", err)
	}
}
