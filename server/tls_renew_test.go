package server_test

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// testIdentity is a server identity signed by the CA that s created (a
// test stands in for a peer).
func testIdentity(t *testing.T, s *servertest.Server, lifetime time.Duration) *pki.ServerIdentity {
	t.Helper()
	dir := filepath.Join(s.DataDir(), "tls")
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	caKeyPEM, err := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadCA(caPEM, caKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.NewKey()
	csr, _ := pki.NewServerCSR(key, "global")
	certPEM, err := ca.SignServer(csr, "global", time.Now(), lifetime)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := pki.EncodeKey(key)
	id, err := pki.LoadServerIdentity("global", caPEM, certPEM, keyPEM, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// raftPeerSerial opens a new TLS connection to s's Raft port and returns
// the serial of the certificate s presents.
func raftPeerSerial(t *testing.T, s *servertest.Server, id *pki.ServerIdentity) string {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.RaftAddr(), id.TLSConfig())
	if err != nil {
		t.Fatalf("dial raft of %s: %v", s.Name(), err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// With a short certificate lifetime every server renews its certificate
// at two thirds of it, without a restart: the cluster keeps replicating
// past the first certificates' expiry, new Raft connections get the new
// certificate, and the files on disk are the new ones. The first server
// signs its own renewals; the others prove their current certificate to
// it (POST /v1/operator/tls/renew).
func TestCertificatesRenewWithoutRestart(t *testing.T) {
	const lifetime = 6 * time.Second
	servers := servertest.Cluster(t, 3, noHeartbeats, func(c *server.Config) { c.CertLifetime = lifetime })
	first := map[string]string{}
	for _, s := range servers {
		first[s.Name()] = s.ServerCertificate().SerialNumber.String()
	}
	if got := servers[0].ServerCertificate(); got.NotAfter.Sub(got.NotBefore) > lifetime+10*time.Minute {
		t.Fatalf("certificate lifetime %s, want about %s", got.NotAfter.Sub(got.NotBefore), lifetime)
	}
	// Past the first certificates' expiry, each server renewed (at least
	// twice, so that a renewed certificate renews too).
	renewed := map[string]map[string]bool{}
	deadline := time.Now().Add(lifetime + 4*time.Second)
	for time.Now().Before(deadline) {
		for _, s := range servers {
			if renewed[s.Name()] == nil {
				renewed[s.Name()] = map[string]bool{}
			}
			renewed[s.Name()][s.ServerCertificate().SerialNumber.String()] = true
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, s := range servers {
		if n := len(renewed[s.Name()]); n < 3 {
			t.Errorf("%s had %d certificates in %s, want at least 3 (renewals)", s.Name(), n, lifetime+4*time.Second)
		}
		if s.ServerCertificate().SerialNumber.String() == first[s.Name()] {
			t.Errorf("%s still has its first certificate", s.Name())
		}
	}

	// Raft still replicates, through connections opened before and after.
	leader := servertest.Leader(servers)
	if leader == nil {
		t.Fatal("no leader after renewals")
	}
	for i := range 3 {
		req := &api.JobRegisterRequest{Job: parseJob(t, webJob(fmt.Sprintf("web%d", i), 0, ""))}
		if _, err := servers[i].Client.Jobs().Register(ctxT(t), req); err != nil {
			t.Fatalf("register through %s after renewal: %v", servers[i].Name(), err)
		}
	}
	servertest.WaitFor(t, "every server to replicate", func() bool {
		for _, s := range servers {
			jobs, _, err := s.Client.Jobs().List(ctxT(t), &api.QueryOptions{Stale: true})
			if err != nil || len(jobs) != 3 {
				return false
			}
		}
		return true
	})

	// A new connection gets the current certificate, which is on disk.
	peer := testIdentity(t, servers[0], time.Minute)
	for _, s := range servers {
		cur := s.ServerCertificate()
		got := raftPeerSerial(t, s, peer)
		if got != cur.SerialNumber.String() && got != s.ServerCertificate().SerialNumber.String() {
			t.Errorf("%s presented certificate %s, its current is %s", s.Name(), got, cur.SerialNumber)
		}
		if got == first[s.Name()] {
			t.Errorf("%s presented its first certificate on a new connection", s.Name())
		}
		pemBytes, err := os.ReadFile(filepath.Join(s.DataDir(), "tls", "server.pem"))
		if err != nil {
			t.Fatal(err)
		}
		onDisk, err := pki.ParseCert(pemBytes)
		if err != nil {
			t.Fatal(err)
		}
		if onDisk.SerialNumber.String() == first[s.Name()] {
			t.Errorf("%s: server.pem is still the first certificate", s.Name())
		}
	}
}

// The renewal route signs only for a current server certificate of the
// cluster CA proving a CSR for the server name; everything else is
// refused with what is wrong (the route writes nothing to Raft).
func TestTLSRenewRefusesBadRequests(t *testing.T) {
	s := servertest.Single(t)
	good := testIdentity(t, s, time.Hour)
	key, _ := pki.NewKey()
	csr, _ := pki.NewServerCSR(key, "global")
	foreignCSR, _ := pki.NewServerCSR(key, "elsewhere")
	prove := func(id *pki.ServerIdentity, csr []byte, at time.Time) map[string]any {
		p, err := id.Prove(pki.ProofRenew, csr, at)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{"csr": string(csr), "proof": p}
	}
	tests := []struct {
		name     string
		body     map[string]any
		wantCode int
		want     string
	}{
		{"no proof", map[string]any{"csr": string(csr)}, http.StatusForbidden, "no server certificate proof"},
		{"another CA", prove(foreignIdentity(t), csr, time.Now()), http.StatusForbidden, "this cluster's CA"},
		{"expired certificate", prove(expiredIdentity(t, s), csr, time.Now()), http.StatusForbidden, "re-join with the server join token"},
		{"proof of another CSR", func() map[string]any {
			b := prove(good, foreignCSR, time.Now())
			b["csr"] = string(csr)
			return b
		}(), http.StatusForbidden, "does not verify"},
		{"foreign name", prove(good, foreignCSR, time.Now()), http.StatusBadRequest, "server.elsewhere.drover"},
		{"good", prove(good, csr, time.Now()), http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := json.Marshal(tt.body)
			resp, err := http.Post("http://"+s.HTTPAddr()+"/v1/operator/tls/renew", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct {
				Error string `json:"error"`
				Cert  string `json:"cert"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&out)
			if resp.StatusCode != tt.wantCode || !strings.Contains(out.Error, tt.want) {
				t.Fatalf("status %d %q, want %d containing %q", resp.StatusCode, out.Error, tt.wantCode, tt.want)
			}
			if tt.wantCode == http.StatusOK {
				cert, err := pki.ParseCert([]byte(out.Cert))
				if err != nil || !cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(&key.PublicKey) {
					t.Fatalf("renewed certificate is not for the CSR's key: %v", err)
				}
			}
		})
	}
	if peers, err := s.Client.Status().Peers(ctxT(t)); err != nil || len(peers) != 1 {
		t.Errorf("peers = %v, %v; want the server alone", peers, err)
	}
}

// A server that stopped between writing a renewed certificate and moving
// its key into place starts with the new pair.
func TestInterruptedRenewalCompletesAtStart(t *testing.T) {
	s := servertest.Single(t)
	cfg := s.Config
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cfg.DataDir, "tls")
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	caKeyPEM, _ := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	ca, err := pki.LoadCA(caPEM, caKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.NewKey()
	csr, _ := pki.NewServerCSR(key, "global")
	certPEM, err := ca.SignServer(csr, "global", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := pki.EncodeKey(key)
	if err := os.WriteFile(filepath.Join(dir, "server-key.pem.next"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server.pem"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := servertest.Start(t, cfg)
	want, _ := pki.ParseCert(certPEM)
	if got := s2.ServerCertificate(); got == nil || got.SerialNumber.Cmp(want.SerialNumber) != 0 {
		t.Fatalf("restarted with certificate %v, want the renewed one", got)
	}
	if onDisk, _ := os.ReadFile(filepath.Join(dir, "server-key.pem")); !bytes.Equal(onDisk, keyPEM) {
		t.Error("server-key.pem is not the renewed key")
	}
	if _, err := os.Stat(filepath.Join(dir, "server-key.pem.next")); !os.IsNotExist(err) {
		t.Errorf("server-key.pem.next left behind: %v", err)
	}
}
