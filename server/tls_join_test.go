package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// A server joins through one that does not hold the CA key: that one
// forwards the request to the CA's holder. Only the first server keeps
// the CA key and the join token, both mode 0600.
func TestJoinThroughAServerWithoutTheCAKey(t *testing.T) {
	servers := servertest.Cluster(t, 2)
	cfg := servertest.Config(t, "s2")
	cfg.Join = []string{servers[1].HTTPAddr()}
	cfg.JoinTokenFile = servertest.JoinTokenFile(servers[0])
	servers = append(servers, servertest.Start(t, cfg))
	servertest.WaitForPeers(t, servers, 3)

	for _, f := range []string{"tls/ca-key.pem", "tls/server-key.pem", "server.join-token"} {
		fi, err := os.Stat(filepath.Join(servers[0].DataDir(), f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	for _, s := range servers[1:] {
		if _, err := os.Stat(filepath.Join(s.DataDir(), "tls", "ca-key.pem")); !os.IsNotExist(err) {
			t.Errorf("%s holds the CA key (%v)", s.Name(), err)
		}
		if _, err := os.Stat(filepath.Join(s.DataDir(), "tls", "server.pem")); err != nil {
			t.Errorf("%s has no certificate: %v", s.Name(), err)
		}
	}
}

// The join route signs only for this cluster's server join token, and
// only server names.
func TestTLSJoinRefusesBadRequests(t *testing.T) {
	s := servertest.Single(t, func(c *server.Config) { c.Token = "api-secret" })
	good, err := server.ReadServerJoinToken(s.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := pki.ParseJoinToken(good)
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := pki.NewJoinToken(pki.RoleServer, tok.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.NewKey()
	csr, _ := pki.NewServerCSR(key, "global")
	otherCSR, _ := pki.NewServerCSR(key, "elsewhere")

	tests := []struct {
		name     string
		token    string
		csr      []byte
		wantCode int
		wantMsg  string
	}{
		{"wrong secret", wrong.String(), csr, http.StatusForbidden, "not this cluster's"},
		{"not a token", "hello", csr, http.StatusForbidden, "join token"},
		{"foreign name", good, otherCSR, http.StatusBadRequest, "server.elsewhere.drover"},
		{"good, without the API token", good, csr, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"csr": string(tt.csr), "token": tt.token})
			resp, err := http.Post("http://"+s.HTTPAddr()+"/v1/operator/tls/join", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct {
				Error string `json:"error"`
				CA    string `json:"ca"`
				Cert  string `json:"cert"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&out)
			if resp.StatusCode != tt.wantCode || !strings.Contains(out.Error, tt.wantMsg) {
				t.Fatalf("status %d %q, want %d containing %q", resp.StatusCode, out.Error, tt.wantCode, tt.wantMsg)
			}
			if tt.wantCode == http.StatusOK {
				ca, err := pki.ParseCACert([]byte(out.CA))
				if err != nil || pki.Fingerprint(ca) != tok.Fingerprint {
					t.Fatalf("CA does not match the token's fingerprint: %v", err)
				}
				cert, err := pki.ParseCert([]byte(out.Cert))
				if err != nil {
					t.Fatal(err)
				}
				if err := pki.VerifyServer(cert, ca, "global", cert.NotBefore.Add(pki.DefaultCertLifetime/2)); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// A server that lost its certificate refuses to start and says how to
// re-join; so does a joining server without a token.
func TestServerWithoutCertificateRefusesToStart(t *testing.T) {
	cfg := servertest.Config(t, "lost")
	cfg.BootstrapExpect = 1
	s := servertest.Start(t, cfg)
	servertest.WaitFor(t, "leader", func() bool { return servertest.Leader([]*servertest.Server{s}) != nil })
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(cfg.DataDir, "tls", "server.pem")); err != nil {
		t.Fatal(err)
	}
	_, err := server.New(cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "lost its TLS identity") || !strings.Contains(err.Error(), "-join-token") {
		t.Fatalf("New without certificate = %v, want a refusal that says how to re-join", err)
	}

	cfg = servertest.Config(t, "tokenless")
	cfg.Join = []string{"127.0.0.1:1"}
	if _, err := server.New(cfg, nil); err == nil || !strings.Contains(err.Error(), "join token") {
		t.Fatalf("New joining without a token = %v, want a refusal naming the join token", err)
	}
}
