package server_test

import (
	"context"
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

// writeKEK writes a KEK file as `drover tls kek create` does.
func writeKEK(t *testing.T, mode os.FileMode) string {
	t.Helper()
	kek, err := pki.NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(path, []byte(pki.EncodeKEK(kek)+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

// A server with its own PKI stores variables once it has the operator's
// KEK (tls { kek_file }), keeps them across a restart with the same
// file, and without a KEK says what to set instead of storing them.
func TestOwnPKIWithKEKFileStoresVariables(t *testing.T) {
	ctx := context.Background()
	caFile, certFile, keyFile, _ := writeOwnPKI(t)

	// Without kek_file: refused, naming the setting.
	bare := servertest.Single(t, func(c *server.Config) {
		c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile = caFile, certFile, keyFile
	})
	_, err := bare.Client.Variables().Put(ctx, &api.Variable{Path: "app/db", Items: map[string]string{"password": "hunter2"}}, nil)
	if statusCode(err) != http.StatusNotImplemented || !strings.Contains(err.Error(), "kek_file") {
		t.Fatalf("variable write on an own-PKI server without a KEK: %v, want 501 naming kek_file", err)
	}

	kekPath := writeKEK(t, 0o600)
	cfg := servertest.Config(t, "s0")
	cfg.BootstrapExpect = 1
	cfg.TLSCAFile, cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSKEKFile = caFile, certFile, keyFile, kekPath
	s := servertest.Start(t, cfg)
	servertest.WaitFor(t, "the server to lead", func() bool { return servertest.Leader([]*servertest.Server{s}) != nil })
	if _, err := s.Client.Variables().Put(ctx, &api.Variable{Path: "app/db", Items: map[string]string{"password": "hunter2"}}, nil); err != nil {
		t.Fatalf("variable write with kek_file: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	raftDB, err := os.ReadFile(filepath.Join(cfg.DataDir, "raft", "raft.db"))
	if err == nil && strings.Contains(string(raftDB), "hunter2") {
		t.Fatal("the variable's value is in raft.db in the clear")
	}

	// The same data dir and KEK: the variable reads back.
	s2 := servertest.Start(t, cfg)
	servertest.WaitFor(t, "the restarted server to lead", func() bool { return servertest.Leader([]*servertest.Server{s2}) != nil })
	v, _, err := s2.Client.Variables().Get(ctx, "", "app/db", nil)
	if err != nil || v.Items["password"] != "hunter2" {
		t.Fatalf("after a restart with the same kek_file: %+v, %v", v, err)
	}
	if err := s2.Stop(); err != nil {
		t.Fatal(err)
	}

	// Another KEK cannot open the keyring: a clear error, not garbage.
	cfg.TLSKEKFile = writeKEK(t, 0o600)
	s3 := servertest.Start(t, cfg)
	servertest.WaitFor(t, "the server with another KEK to lead", func() bool { return servertest.Leader([]*servertest.Server{s3}) != nil })
	if _, _, err := s3.Client.Variables().Get(ctx, "", "app/db", nil); err == nil || !strings.Contains(err.Error(), "KEK") {
		t.Fatalf("reading with another KEK: %v, want an error naming the KEK", err)
	}
}

// The KEK file is refused when others may read it, when it is not a KEK,
// and when it comes without an own PKI; no message repeats its content.
func TestKEKFileRefused(t *testing.T) {
	caFile, certFile, keyFile, _ := writeOwnPKI(t)
	garbage := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(garbage, []byte("drover-kek-1:c2VjcmV0LXNob3J0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(big, []byte(strings.Repeat("x", 8<<10)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"group-readable", writeKEK(t, 0o640), "chmod 600"},
		{"world-readable", writeKEK(t, 0o644), "chmod 600"},
		{"not a KEK", garbage, "drover tls kek create"},
		{"too large", big, "larger than"},
		{"missing", filepath.Join(t.TempDir(), "nope"), "no such file"},
		{"a directory", t.TempDir(), "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := servertest.Config(t, "s0")
			cfg.BootstrapExpect = 1
			cfg.TLSCAFile, cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSKEKFile = caFile, certFile, keyFile, tc.path
			if _, err := server.New(cfg, nil); err == nil {
				t.Fatalf("server started with kek_file %s", tc.name)
			} else if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "c2VjcmV0") {
				t.Fatalf("kek_file %s: %v, want it to say %q and not repeat the file", tc.name, err, tc.want)
			}
		})
	}

	cfg := servertest.Config(t, "s0")
	cfg.BootstrapExpect = 1
	cfg.TLSKEKFile = writeKEK(t, 0o600)
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "own PKI") {
		t.Fatalf("kek_file with the built-in CA: %v, want a refusal", err)
	}
	file := servertest.Config(t, "s0")
	if err := server.ParseConfigFile(&file, "server.hcl", []byte("tls {\n  ca_file = \"a\"\n  cert_file = \"b\"\n  key_file = \"c\"\n  kek_file = \"/etc/drover/kek\"\n}\n")); err != nil || file.TLSKEKFile != "/etc/drover/kek" {
		t.Fatalf("tls { kek_file } in a config file: %q, %v", file.TLSKEKFile, err)
	}
}
