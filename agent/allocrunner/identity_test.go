package allocrunner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExposeIdentities: env = true sets NOMAD_TOKEN (default) or
// NOMAD_TOKEN_<name>; file = true writes secrets/nomad_token or
// secrets/nomad_<name>.jwt, never readable by others when the agent is
// not root; a name that is not a plain name is refused and writes
// nothing; a planted symlink does not lead the write outside.
func TestExposeIdentities(t *testing.T) {
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(dir, "outside")
	if err := os.Symlink(outside, filepath.Join(secrets, "nomad_evil.jwt")); err != nil {
		t.Fatal(err)
	}
	env, err := exposeIdentities(secrets, "", []SignedIdentity{
		{Task: "t", Name: "default", JWT: "tok-default", Env: true, File: true},
		{Task: "t", Name: "vault", JWT: "tok-vault", File: true},
		{Task: "t", Name: "db", JWT: "tok-db", Env: true},
		{Task: "t", Name: "evil", JWT: "tok-evil", File: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(env) != 2 || env["NOMAD_TOKEN"] != "tok-default" || env["NOMAD_TOKEN_db"] != "tok-db" {
		t.Fatalf("env %v", env)
	}
	for name, want := range map[string]string{"nomad_token": "tok-default", "nomad_vault.jwt": "tok-vault", "nomad_evil.jwt": "tok-evil"} {
		p := filepath.Join(secrets, name)
		b, err := os.ReadFile(p)
		if err != nil || string(b) != want {
			t.Fatalf("%s: %q %v", name, b, err)
		}
		fi, _ := os.Lstat(p)
		if fi.Mode()&os.ModeSymlink != 0 {
			t.Fatalf("%s is still a symlink", name)
		}
		if perm := fi.Mode().Perm(); os.Geteuid() != 0 && perm != 0o600 || perm&0o022 != 0 {
			t.Fatalf("%s has mode %v", name, perm)
		}
	}
	if _, err := os.Stat(outside); err == nil {
		t.Fatal("the write followed a symlink out of the secrets directory")
	}
	if _, err := os.Stat(filepath.Join(secrets, "nomad_db.jwt")); err == nil {
		t.Fatal("an env-only identity was written to a file")
	}
	for _, bad := range []string{"../x", "a/b", "", strings.Repeat("a", 129)} {
		if _, err := exposeIdentities(secrets, "", []SignedIdentity{{Name: bad, JWT: "x", File: true}}); err == nil {
			t.Errorf("identity name %q accepted", bad)
		}
	}
}
