package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// postClientJoin asks the server at addr for a client certificate for
// nodeID with token, over plain HTTP on loopback.
func postClientJoin(t *testing.T, addr, token, nodeID string) (int, string) {
	t.Helper()
	key, _ := pki.NewKey()
	csr, err := pki.NewClientCSR(key, "global", nodeID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"csr": string(csr), "token": token, "node_id": nodeID})
	resp, err := http.Post("http://"+addr+"/v1/operator/tls/join", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		api.Error
		Cert string `json:"cert"`
		KEK  string `json:"kek"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode == http.StatusOK && out.KEK != "" {
		t.Fatalf("a client join was answered with the keyring's key-encryption key")
	}
	return resp.StatusCode, out.Error.Error
}

// The CA key and the join tokens are replicated in Raft, sealed: with
// the server that created the CA gone, another server signs a joining
// server's and a joining agent's certificates, checks and rotates the
// tokens; and Raft holds neither the CA key nor a token in the clear.
func TestKeyringLetsAnyServerSign(t *testing.T) {
	servers := servertest.Cluster(t, 3, noHeartbeats, func(c *server.Config) { c.Token = "api-secret" })
	servertest.WaitFor(t, "the keyring in Raft on every server", func() bool {
		for _, s := range servers {
			if s.State().Store().Snapshot().TLSKeyring() == nil {
				return false
			}
		}
		return true
	})
	caKey, err := os.ReadFile(filepath.Join(servers[0].DataDir(), "tls", "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	serverTok, _ := server.ReadJoinToken(servers[0].DataDir(), pki.RoleServer)
	clientTok, _ := server.ReadJoinToken(servers[0].DataDir(), pki.RoleClient)
	kr := servers[2].State().Store().Snapshot().TLSKeyring()
	raw, _ := json.Marshal(kr)
	for _, secret := range []string{"PRIVATE KEY", strings.TrimSpace(string(caKey)), serverTok, clientTok} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("the replicated keyring holds %.40q in the clear", secret)
		}
	}
	for _, s := range servers[1:] {
		if _, err := os.Stat(filepath.Join(s.DataDir(), "tls", "ca-key.pem")); err == nil {
			t.Fatalf("%s has the CA key file; only the CA's creator should", s.Name())
		}
		if _, err := os.Stat(filepath.Join(s.DataDir(), "tls", "kek")); err != nil {
			t.Fatalf("%s did not receive the key-encryption key when it joined: %v", s.Name(), err)
		}
	}

	if err := servers[0].Stop(); err != nil {
		t.Fatal(err)
	}
	live := servers[1:]
	servertest.WaitFor(t, "a new leader", func() bool { return servertest.Leader(live) != nil })

	// An agent joins through each remaining server.
	for i, s := range live {
		if code, msg := postClientJoin(t, s.HTTPAddr(), clientTok, "node-"+string(rune('a'+i))); code != http.StatusOK {
			t.Fatalf("client join at %s without the CA's creator: %d %q", s.Name(), code, msg)
		}
	}
	// Rotation works without the creator, and the old token is refused.
	rotated, err := live[1].Client.Operator().RotateJoinToken(ctxT(t), "client")
	if err != nil {
		t.Fatalf("rotate the client join token without the CA's creator: %v", err)
	}
	for _, s := range live {
		if code, msg := postClientJoin(t, s.HTTPAddr(), clientTok, "node-z"); code != http.StatusForbidden {
			t.Fatalf("rotated-out client token at %s = %d %q, want 403", s.Name(), code, msg)
		}
	}
	if code, msg := postClientJoin(t, live[0].HTTPAddr(), rotated.Token, "node-y"); code != http.StatusOK {
		t.Fatalf("rotated client token = %d %q", code, msg)
	}

	// A server joins through a server that never held the CA key file.
	cfg := servertest.Config(t, "s3")
	cfg.Token = "api-secret"
	cfg.Join = []string{live[0].HTTPAddr()}
	cfg.JoinToken = serverTok
	joined := servertest.Start(t, cfg)
	servertest.WaitForPeers(t, append(live, joined), 4)
}
