package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

func clientFor(t *testing.T, s *servertest.Server, token string) *api.Client {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: s.HTTPAddr(), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func statusCode(err error) int {
	var se *api.StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func TestACLReadOnlyTokenAndDeletedPolicy(t *testing.T) {
	s := aclServer(t)
	ctx := context.Background()
	secret := mustToken(t, s.Client, "readonly", `namespace "default" { policy = "read" }`)
	ro := clientFor(t, s, secret)
	if _, _, err := ro.Jobs().List(ctx, nil); err != nil {
		t.Fatalf("read-only token cannot list jobs: %v", err)
	}
	if _, _, err := ro.Nodes().List(ctx, nil); statusCode(err) != http.StatusForbidden {
		t.Fatalf("read-only token listing nodes: %v, want 403", err)
	}
	// Nomad's header works as well as the bearer.
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.HTTPAddr()+"/v1/jobs", nil)
	req.Header.Set("X-Nomad-Token", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("X-Nomad-Token: %d, want 200", resp.StatusCode)
	}

	// A deleted policy grants nothing, and token info says it is missing.
	if err := s.Client.ACL().DeletePolicy(ctx, "readonly"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ro.Jobs().List(ctx, nil); statusCode(err) != http.StatusForbidden {
		t.Fatalf("token of a deleted policy: %v, want 403", err)
	}
	self, err := ro.ACL().Self(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(self.MissingPolicies) != 1 || self.MissingPolicies[0] != "readonly" {
		t.Fatalf("token self = %+v, want readonly missing", self)
	}
}

func TestACLExpiredTokenRefused(t *testing.T) {
	s := aclServer(t)
	ctx := context.Background()
	if err := s.Client.ACL().ApplyPolicy(ctx, &api.ACLPolicy{Name: "r", Rules: `namespace "default" { policy = "read" }`}); err != nil {
		t.Fatal(err)
	}
	tok, err := s.Client.ACL().CreateToken(ctx, &api.ACLTokenCreateRequest{Name: "short", Policies: []string{"r"}, TTL: "1ms"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	_, _, err = clientFor(t, s, tok.SecretID).Jobs().List(ctx, nil)
	if statusCode(err) != http.StatusForbidden || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: %v, want 403 saying expired", err)
	}
}

func TestACLPolicyErrorsHavePositions(t *testing.T) {
	s := aclServer(t)
	err := s.Client.ACL().ApplyPolicy(context.Background(), &api.ACLPolicy{Name: "bad", Rules: "namespace \"default\" {\n  policy = \"admin\"\n}\n"})
	if statusCode(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "bad.hcl:1,") {
		t.Fatalf("bad policy: %v, want 400 with a position", err)
	}
	big := strings.Repeat("# padding\n", server.MaxACLPolicyBytes/10+1)
	if err := s.Client.ACL().ApplyPolicy(context.Background(), &api.ACLPolicy{Name: "big", Rules: big}); statusCode(err) != http.StatusBadRequest {
		t.Fatalf("oversized policy: %v, want 400", err)
	}
}

func TestACLBootstrapWritesManagementToken(t *testing.T) {
	s := startTokenless(t, func(c *server.Config) { c.ACL = true })
	var secret string
	servertest.WaitFor(t, "the management token file", func() bool {
		b, err := readFileMode(server.ManagementTokenFile(s.DataDir()), 0o600)
		secret = strings.TrimSpace(b)
		return err == nil && secret != ""
	})
	c := clientFor(t, s, secret)
	self, err := c.ACL().Self(context.Background())
	if err != nil || self.Type != "management" {
		t.Fatalf("token self = %+v, %v", self, err)
	}
	// Once is all: a second bootstrap is refused.
	if _, err := c.ACL().Bootstrap(context.Background()); statusCode(err) != http.StatusConflict {
		t.Fatalf("second bootstrap: %v, want 409", err)
	}
}

func TestACLManualBootstrap(t *testing.T) {
	s := startTokenless(t, func(c *server.Config) { c.ACL = true; c.ACLBootstrap = server.ACLBootstrapManual })
	anon := clientFor(t, s, "")
	if _, _, err := anon.Jobs().List(context.Background(), nil); statusCode(err) != http.StatusUnauthorized {
		t.Fatalf("no token: %v, want 401", err)
	}
	tok, err := anon.ACL().Bootstrap(context.Background())
	if err != nil || tok.SecretID == "" {
		t.Fatalf("bootstrap: %+v, %v", tok, err)
	}
	if _, _, err := clientFor(t, s, tok.SecretID).Jobs().List(context.Background(), nil); err != nil {
		t.Fatalf("bootstrap token: %v", err)
	}
	if _, err := anon.ACL().Bootstrap(context.Background()); statusCode(err) != http.StatusConflict {
		t.Fatalf("second bootstrap: %v, want 409", err)
	}
}

// TestACLRevokeIsRefusedOnEveryServer: a revoke is a Raft write, and
// every server resolves tokens from its own replicated state, so the
// token fails on all of them within a second.
func TestACLRevokeIsRefusedOnEveryServer(t *testing.T) {
	servers := servertest.Cluster(t, 3, func(c *server.Config) {
		c.ACL = true
		c.Token = testMgmtToken
	})
	leader := servertest.Leader(servers)
	ctx := context.Background()
	secret := mustToken(t, leader.Client, "reader", `namespace "default" { policy = "read" }`)
	self, err := clientFor(t, leader, secret).ACL().Self(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		servertest.WaitFor(t, "the token to work on "+s.Name(), func() bool {
			_, err := clientFor(t, s, secret).ACL().Self(ctx)
			return err == nil
		})
	}
	if err := leader.Client.ACL().RevokeToken(ctx, self.AccessorID); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	for _, s := range servers {
		c := clientFor(t, s, secret)
		for {
			_, err := c.ACL().Self(ctx)
			if statusCode(err) == http.StatusForbidden {
				break
			}
			if time.Since(revoked) > time.Second {
				t.Fatalf("%s still accepts the revoked token %s after a second: %v", s.Name(), time.Since(revoked), err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		// Stale reads are served locally: refused there too.
		if _, _, err := c.Jobs().List(ctx, &api.QueryOptions{Stale: true}); statusCode(err) != http.StatusForbidden {
			t.Fatalf("%s: stale read with a revoked token: %v, want 403", s.Name(), err)
		}
	}
}

// startTokenless starts a lone server that the servertest client cannot
// read without a token, and waits until it leads.
func startTokenless(t *testing.T, opt func(*server.Config)) *servertest.Server {
	t.Helper()
	cfg := servertest.Config(t, "s0")
	cfg.BootstrapExpect = 1
	opt(&cfg)
	s := servertest.Start(t, cfg)
	servertest.WaitFor(t, "the server to lead", func() bool {
		_, err := clientFor(t, s, "").Status().Leader(context.Background())
		return s.State().IsLeader() && statusCode(err) == http.StatusUnauthorized
	})
	return s
}
