package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
)

// startACLServer starts `drover server -acl` and returns its address and
// the management token it wrote to its data dir.
func startACLServer(t *testing.T) (addr, mgmt string) {
	t.Helper()
	dataDir := t.TempDir()
	httpAddr, exited, logs := runServerProc(t, dataDir, hermeticEnv(), "-acl", "-log-level", "info")
	path := filepath.Join(dataDir, "management.token")
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("drover server exited early: %v\n%s", err, logs.String())
		default:
		}
		if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			mgmt = strings.TrimSpace(string(b))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no management token in %s after 30s\n%s", path, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("management token file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if !strings.Contains(logs.String(), "export DROVER_TOKEN=$(cat "+path+")") {
		t.Errorf("the server did not say how to use the token:\n%s", logs.String())
	}
	addr = "http://" + httpAddr
	c, err := api.NewClient(api.Config{Address: addr, Token: mgmt})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _, err := c.Jobs().List(ctx, nil)
		cancel()
		if err == nil {
			return addr, mgmt
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not serving after 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestACLReadOnlyTokenE2E: with -acl, a token of a read-only policy can
// `job status` but `job run` is refused with 403; a revoked token is
// refused at once.
func TestACLReadOnlyTokenE2E(t *testing.T) {
	addr, mgmt := startACLServer(t)
	dir := t.TempDir()
	as := func(token string, args ...string) result {
		t.Helper()
		env := append(hermeticEnv(), "DROVER_ADDR="+addr)
		if token != "" {
			env = append(env, "DROVER_TOKEN="+token)
		}
		r := runDrover(t, dir, env, args...)
		t.Logf("$ drover %s\n%s", strings.Join(args, " "), r)
		return r
	}
	job := func(id string) string {
		return `job "` + id + `" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      resources {
        cpu    = 10
        memory = 16
      }
    }
  }
}
`
	}
	writeFile(t, filepath.Join(dir, "hello.nomad.hcl"), job("hello"))
	writeFile(t, filepath.Join(dir, "other.nomad.hcl"), job("other"))
	writeFile(t, filepath.Join(dir, "readonly.hcl"), `namespace "default" { policy = "read" }`+"\n")

	if r := as("", "job", "status"); r.code == 0 || !strings.Contains(r.stderr, "401") {
		t.Fatalf("no token: want a 401 refusal")
	}
	if r := as(mgmt, "job", "run", "-detach", "hello.nomad.hcl"); r.code != 0 {
		t.Fatal("management token cannot run a job")
	}
	if r := as(mgmt, "acl", "policy", "apply", "readonly", "readonly.hcl"); r.code != 0 {
		t.Fatal("policy apply failed")
	}
	r := as(mgmt, "acl", "token", "create", "-name", "ro", "-policy", "readonly", "-json")
	if r.code != 0 {
		t.Fatal("token create failed")
	}
	var tok api.ACLToken
	if err := json.Unmarshal([]byte(r.stdout), &tok); err != nil || tok.SecretID == "" || tok.AccessorID == "" {
		t.Fatalf("token create -json: %v, %+v", err, tok)
	}

	if r := as(tok.SecretID, "job", "status", "hello"); r.code != 0 {
		t.Fatal("read-only token cannot job status")
	}
	if r := as(tok.SecretID, "job", "run", "-detach", "other.nomad.hcl"); r.code == 0 || !strings.Contains(r.stderr, "403") ||
		!strings.Contains(r.stderr, "namespace:submit-job") {
		t.Fatal("read-only token: job run was not refused with 403 naming the capability")
	}
	if r := as(mgmt, "job", "status", "other"); r.code == 0 {
		t.Fatal("the refused job run stored a job")
	}
	if r := as(tok.SecretID, "acl", "token", "self"); r.code != 0 || !strings.Contains(r.stdout, "readonly") {
		t.Fatal("acl token self")
	}
	if r := as(mgmt, "acl", "token", "list"); r.code != 0 || !strings.Contains(r.stdout, tok.AccessorID) {
		t.Fatal("acl token list")
	}
	if r := as(mgmt, "acl", "token", "revoke", tok.AccessorID); r.code != 0 {
		t.Fatal("revoke failed")
	}
	if r := as(tok.SecretID, "job", "status", "hello"); r.code == 0 || !strings.Contains(r.stderr, "403") {
		t.Fatal("a revoked token still works")
	}
}
