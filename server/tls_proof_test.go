package server_test

import (
	"crypto/tls"
	"errors"
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

// proveJoin signs req as a server with identity id would, at t
// (tls_proof.go's format: ID, Raft and HTTP addresses, NUL-separated).
func proveJoin(t *testing.T, id *pki.ServerIdentity, req *api.JoinRequest, at time.Time) {
	t.Helper()
	p, err := id.Prove(pki.ProofRaftJoin, []byte(req.ID+"\x00"+req.RaftAddr+"\x00"+req.HTTPAddr), at)
	if err != nil {
		t.Fatal(err)
	}
	req.Proof = &api.ServerProof{Cert: p.Cert, Time: p.Time, Signature: p.Signature}
}

// foreignIdentity is a server identity of another cluster's CA.
func foreignIdentity(t *testing.T) *pki.ServerIdentity {
	t.Helper()
	ca, err := pki.NewCA("global", time.Now())
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
	id, err := pki.LoadServerIdentity("global", ca.CertPEM(), certPEM, keyPEM, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// expiredIdentity is a server identity of s's CA that expired an hour
// ago.
func expiredIdentity(t *testing.T, s *servertest.Server) *pki.ServerIdentity {
	t.Helper()
	dir := filepath.Join(s.DataDir(), "tls")
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	caKeyPEM, _ := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	ca, err := pki.LoadCA(caPEM, caKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.NewKey()
	csr, _ := pki.NewServerCSR(key, "global")
	issued := time.Now().Add(-3 * time.Hour)
	certPEM, err := ca.SignServer(csr, "global", issued, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCert(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	// Built by hand: LoadServerIdentity refuses an expired certificate.
	return &pki.ServerIdentity{Region: "global", CA: ca.Cert,
		Cert: tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}}
}

// Adding a Raft voter needs a server certificate of the cluster CA: the
// holder of the API token cannot add one without it, nor with a
// certificate of another CA, an expired one, a stale proof, or a proof
// made for another server's ID. Nothing changes in Raft.
func TestRaftJoinNeedsAServerCertificate(t *testing.T) {
	s := servertest.Single(t, func(c *server.Config) { c.Token = "api-secret" })
	good := testIdentity(t, s, time.Hour)
	base := api.JoinRequest{ID: "intruder", RaftAddr: "127.0.0.1:1", HTTPAddr: "127.0.0.1:2"}
	tests := []struct {
		name string
		req  func() *api.JoinRequest
		want string
	}{
		{"API token only", func() *api.JoinRequest { r := base; return &r }, "needs the joining server's certificate"},
		{"another CA", func() *api.JoinRequest {
			r := base
			proveJoin(t, foreignIdentity(t), &r, time.Now())
			return &r
		}, "this cluster's CA"},
		{"expired certificate", func() *api.JoinRequest {
			r := base
			proveJoin(t, expiredIdentity(t, s), &r, time.Now())
			return &r
		}, "expired"},
		{"stale proof", func() *api.JoinRequest {
			r := base
			proveJoin(t, good, &r, time.Now().Add(-time.Hour))
			return &r
		}, "clock"},
		{"proof for another ID", func() *api.JoinRequest {
			r := base
			r.ID = "someone-else"
			proveJoin(t, good, &r, time.Now())
			r.ID = base.ID
			return &r
		}, "does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Client.Operator().RaftJoin(ctxT(t), tt.req())
			var se *api.StatusError
			if !errors.As(err, &se) || se.Code != http.StatusForbidden || !strings.Contains(se.Message, tt.want) {
				t.Fatalf("RaftJoin = %v, want 403 containing %q", err, tt.want)
			}
		})
	}
	peers, err := s.Client.Status().Peers(ctxT(t))
	if err != nil || len(peers) != 1 {
		t.Fatalf("peers after refused joins = %v, %v; want only the server itself", peers, err)
	}
}
