package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/pki"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// postJoin sends a join request with token and a fresh server CSR and
// returns the status and error message.
func postJoin(t *testing.T, addr, token string) (int, string) {
	t.Helper()
	key, _ := pki.NewKey()
	csr, _ := pki.NewServerCSR(key, "global")
	body, _ := json.Marshal(map[string]string{"csr": string(csr), "token": token})
	resp, err := http.Post("http://"+addr+"/v1/operator/tls/join", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out api.Error
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Error
}

// Rotating the server join token, through any server, refuses the old
// one at once everywhere (every server forwards joins to the CA's
// holder), keeps the CA, rewrites the file, and the new token works: a
// server joins with it. Reading and rotating need the API token.
func TestJoinTokenRotation(t *testing.T) {
	servers := servertest.Cluster(t, 2, noHeartbeats, func(c *server.Config) { c.Token = "api-secret" })
	old, err := server.ReadServerJoinToken(servers[0].DataDir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := servers[1].Client.Operator().JoinToken(ctxT(t), "server")
	if err != nil || got.Token != old {
		t.Fatalf("join token through the second server = %+v, %v; want the file's", got, err)
	}
	if code, e := rawRequest(t, "GET", "http://"+servers[1].HTTPAddr()+"/v1/operator/join-token/server", "", nil); code != http.StatusUnauthorized {
		t.Fatalf("join token without the API token = %d %q, want 401", code, e.Error)
	}
	if code, e := rawRequest(t, "POST", "http://"+servers[0].HTTPAddr()+"/v1/operator/join-token/server/rotate", "wrong", []byte("{}")); code != http.StatusForbidden {
		t.Fatalf("rotate with a wrong API token = %d %q, want 403", code, e.Error)
	}
	clientFile, err := server.ReadJoinToken(servers[0].DataDir(), pki.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := servers[1].Client.Operator().JoinToken(ctxT(t), "client"); err != nil || got.Token != clientFile || !strings.HasPrefix(got.Token, "DRVTKN-1-client-") {
		t.Fatalf("client join token through the second server = %+v, %v; want the file's %s", got, err, clientFile)
	}
	if _, err := servers[1].Client.Operator().JoinToken(ctxT(t), "cli"); err == nil || !strings.Contains(err.Error(), "server and client join tokens") {
		t.Fatalf("cli join token = %v, want a refusal", err)
	}

	rotated, err := servers[1].Client.Operator().RotateJoinToken(ctxT(t), "server")
	if err != nil {
		t.Fatalf("rotate through the second server: %v", err)
	}
	oldTok, _ := pki.ParseJoinToken(old)
	newTok, err := pki.ParseJoinToken(rotated.Token)
	if err != nil {
		t.Fatal(err)
	}
	if newTok.Equal(oldTok) || newTok.Fingerprint != oldTok.Fingerprint {
		t.Fatalf("rotated token: same secret or another CA")
	}
	if f, _ := server.ReadServerJoinToken(servers[0].DataDir()); f != rotated.Token {
		t.Fatalf("server.join-token was not rewritten")
	}
	for _, s := range servers {
		code, msg := postJoin(t, s.HTTPAddr(), old)
		if code != http.StatusForbidden || !strings.Contains(msg, "rotated out") {
			t.Fatalf("old token at %s = %d %q, want 403 saying it may be rotated out", s.Name(), code, msg)
		}
	}
	if code, msg := postJoin(t, servers[1].HTTPAddr(), rotated.Token); code != http.StatusOK {
		t.Fatalf("new token = %d %q", code, msg)
	}

	// A server joins with the new token (the file now holds it).
	cfg := servertest.Config(t, "s2")
	cfg.Token = "api-secret"
	cfg.Join = []string{servers[1].HTTPAddr()}
	cfg.JoinTokenFile = servertest.JoinTokenFile(servers[0])
	servers = append(servers, servertest.Start(t, cfg))
	servertest.WaitForPeers(t, servers, 3)
}

// A join token of another CA, or of a role that cannot obtain a server
// certificate, is refused with what is wrong and how to fix it.
func TestTLSJoinRefusesForeignAndWrongRoleTokens(t *testing.T) {
	s := servertest.Single(t)
	other, err := pki.NewCA("global", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := pki.NewJoinToken(pki.RoleServer, other.Fingerprint())
	clientTok, err := server.ReadJoinToken(s.DataDir(), pki.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, token string
		code        int
		want        []string
	}{
		{"foreign CA", foreign.String(), http.StatusForbidden, []string{"another cluster's CA", "join-token server"}},
		// A client join token with a CSR for the server name: an agent's
		// token must not make its holder a Raft voter.
		{"client role, server CSR", clientTok, http.StatusBadRequest, []string{"client join token obtains only a client certificate"}},
	} {
		code, msg := postJoin(t, s.HTTPAddr(), tt.token)
		if code != tt.code {
			t.Errorf("%s: %d %q, want %d", tt.name, code, msg, tt.code)
		}
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q does not say %q", tt.name, msg, w)
			}
		}
	}
}
