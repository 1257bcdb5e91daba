package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
)

// TestACLReadOnlyTokenE2E: ACLs are on by default: the first server
// writes the management token (mode 0600) and says how to use it; a
// request without a token is refused with 401; a token of a read-only
// policy can `job status` but `job run` is refused with 403; a revoked
// token is refused at once.
func TestACLReadOnlyTokenE2E(t *testing.T) {
	s := startServer(t, "-log-level", "info")
	addr, mgmt := s.addr, s.token
	path := managementTokenFile(s.dataDir)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("management token file %s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	if !strings.Contains(s.out.String(), "export DROVER_TOKEN=$(cat "+path+")") {
		t.Errorf("the server did not say how to use the token:\n%s", s.out.String())
	}
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
      driver = "exec"
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
