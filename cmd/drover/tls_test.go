package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/pki"
)

// tlsRun runs `drover tls ARGS` in-process.
func tlsRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var c capture
	code = runTLS(context.Background(), args, c.stdio())
	return code, c.out.String(), c.err.String()
}

func tlsRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTLSCACreate: the CA files load back as a CA, the key is 0600, and a
// second run refuses to overwrite them.
func TestTLSCACreate(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := tlsRun(t, "ca", "create", "-out-dir", dir, "-days", "30", "-region", "eu")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	certPath, keyPath := filepath.Join(dir, "drover-agent-ca.pem"), filepath.Join(dir, "drover-agent-ca-key.pem")
	ca, err := pki.LoadCA(tlsRead(t, certPath), tlsRead(t, keyPath))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, certPath) || !strings.Contains(out, keyPath) || !strings.Contains(out, pki.FingerprintString(ca.Fingerprint())) {
		t.Errorf("output does not name the files and the fingerprint:\n%s", out)
	}
	if life := ca.Cert.NotAfter.Sub(ca.Cert.NotBefore); life < 30*24*time.Hour || life > 31*24*time.Hour {
		t.Errorf("CA valid for %s, want 30 days", life)
	}
	if fi, _ := os.Stat(keyPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", fi.Mode().Perm())
	}

	before := tlsRead(t, keyPath)
	code, _, stderr = tlsRun(t, "ca", "create", "-out-dir", dir)
	if code != exitError || !strings.Contains(stderr, "exists: remove it or pick another -out-dir") {
		t.Fatalf("second run: exit %d %s", code, stderr)
	}
	if string(tlsRead(t, keyPath)) != string(before) {
		t.Fatal("the CA key was overwritten")
	}
	// Only the key left over: still refused, and the certificate is not
	// written beside it.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "drover-agent-ca-key.pem"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := tlsRun(t, "ca", "create", "-out-dir", other); code != exitError {
		t.Fatalf("with a leftover key: exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(other, "drover-agent-ca.pem")); err == nil {
		t.Error("the certificate was written beside a leftover key")
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ca", "create", "-out-dir", t.TempDir(), "-days", "0"}, "-days 0"},
		{[]string{"ca", "create", "-out-dir", t.TempDir(), "-region", "EU!"}, "region"},
		{[]string{"ca", "create", "extra"}, "takes no arguments"},
		{[]string{"ca", "make"}, `unknown subcommand "make"`},
	} {
		if code, _, stderr := tlsRun(t, tc.args...); code != exitError || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d %q, want an error containing %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestTLSCertCreate: each role's files verify against the CA as that
// role, and only as that role.
func TestTLSCertCreate(t *testing.T) {
	caDir := t.TempDir()
	if code, _, stderr := tlsRun(t, "ca", "create", "-out-dir", caDir); code != exitOK {
		t.Fatalf("ca create: %s", stderr)
	}
	caPath, caKeyPath := filepath.Join(caDir, "drover-agent-ca.pem"), filepath.Join(caDir, "drover-agent-ca-key.pem")
	caPEM := tlsRead(t, caPath)

	for _, tc := range []struct {
		flag   string
		role   pki.CertRole
		extra  []string
		nodeID string // "" : any generated one
	}{
		{"-server", pki.CertRoleServer, nil, ""},
		{"-client", pki.CertRoleClient, []string{"-node-id", "node-7"}, "node-7"},
		{"-client", pki.CertRoleClient, nil, ""},
		{"-cli", pki.CertRoleCLI, []string{"-days", "7"}, ""},
	} {
		t.Run(strings.Join(append([]string{tc.flag}, tc.extra...), " "), func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"cert", "create", tc.flag, "-ca", caPath, "-key", caKeyPath, "-out-dir", dir}, tc.extra...)
			code, out, stderr := tlsRun(t, args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			certPath := filepath.Join(dir, "global-"+string(tc.role)+"-drover.pem")
			keyPath := filepath.Join(dir, "global-"+string(tc.role)+"-drover-key.pem")
			if !strings.Contains(out, certPath) || !strings.Contains(out, keyPath) {
				t.Errorf("output does not name the files:\n%s", out)
			}
			if fi, _ := os.Stat(keyPath); fi.Mode().Perm() != 0o600 {
				t.Errorf("key mode %v, want 0600", fi.Mode().Perm())
			}
			certPEM, keyPEM := tlsRead(t, certPath), tlsRead(t, keyPath)
			id, err := pki.LoadIdentity(tc.role, "global", caPEM, certPEM, keyPEM, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if tc.role == pki.CertRoleClient {
				if tc.nodeID != "" && id.NodeID != tc.nodeID {
					t.Errorf("node ID %q, want %q", id.NodeID, tc.nodeID)
				}
				if err := pki.ValidateNodeID(id.NodeID); err != nil || !strings.Contains(out, "node "+id.NodeID) {
					t.Errorf("node ID %q: %v; output:\n%s", id.NodeID, err, out)
				}
			}
			// The certificate is of its role only.
			for _, other := range []pki.CertRole{pki.CertRoleServer, pki.CertRoleClient, pki.CertRoleCLI} {
				if other == tc.role {
					continue
				}
				if _, err := pki.LoadIdentity(other, "global", caPEM, certPEM, keyPEM, time.Now()); err == nil {
					t.Errorf("the %s certificate loads as a %s identity", tc.role, other)
				}
			}
			if tc.role == pki.CertRoleCLI {
				if life := id.Cert.Leaf.NotAfter.Sub(id.Cert.Leaf.NotBefore); life > 8*24*time.Hour {
					t.Errorf("-days 7: valid for %s", life)
				}
			}
			// A second run refuses to overwrite.
			if code, _, stderr := tlsRun(t, args...); code != exitError || !strings.Contains(stderr, "exists") {
				t.Errorf("second run: exit %d %s", code, stderr)
			}
			if string(tlsRead(t, keyPath)) != string(keyPEM) {
				t.Error("the key was overwritten")
			}
		})
	}

	// The defaults -ca and -key name the files of 'tls ca create' in the
	// working directory.
	t.Run("defaults", func(t *testing.T) {
		t.Chdir(caDir)
		code, _, stderr := tlsRun(t, "cert", "create", "-server", "-region", "global")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if _, err := pki.LoadServerIdentity("global", caPEM, tlsRead(t, "global-server-drover.pem"), tlsRead(t, "global-server-drover-key.pem"), time.Now()); err != nil {
			t.Fatal(err)
		}
	})

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "exactly one of -server, -client and -cli"},
		{[]string{"-server", "-cli"}, "exactly one of -server, -client and -cli"},
		{[]string{"-cli", "-node-id", "n1"}, "-node-id goes with -client only"},
		{[]string{"-client", "-node-id", "a/b"}, "node ID"},
		{[]string{"-server", "-days", "-1"}, "-days -1"},
		{[]string{"-server", "-ca", filepath.Join(caDir, "missing.pem")}, "read the CA certificate"},
		{[]string{"-server", "-key", caPath}, "private key"},
		{[]string{"-server", "-region", "a.b"}, "region"},
		{[]string{"-server", "-out-dir", filepath.Join(caDir, "no", "such")}, "no such file"},
	} {
		args := append([]string{"cert", "create", "-ca", caPath, "-key", caKeyPath, "-out-dir", t.TempDir()}, tc.args...)
		if code, _, stderr := tlsRun(t, args...); code != exitError || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d %q, want an error containing %q", tc.args, code, stderr, tc.want)
		}
	}
	// A CA key that is not the certificate's.
	otherDir := t.TempDir()
	tlsRun(t, "ca", "create", "-out-dir", otherDir)
	if code, _, stderr := tlsRun(t, "cert", "create", "-cli", "-ca", caPath, "-key", filepath.Join(otherDir, "drover-agent-ca-key.pem"), "-out-dir", t.TempDir()); code != exitError || !strings.Contains(stderr, "does not belong") {
		t.Errorf("mismatched CA key: exit %d %s", code, stderr)
	}
}

// TestTLSKEKCreate: the file holds a KEK servers load, mode 0600, and a
// second run neither overwrites it nor prints the key.
func TestTLSKEKCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek")
	code, out, stderr := tlsRun(t, "kek", "create", "-out", path)
	if code != exitOK || !strings.Contains(out, path) {
		t.Fatalf("exit %d: %s%s", code, out, stderr)
	}
	key := tlsRead(t, path)
	if _, err := pki.ParseKEK(string(key)); err != nil {
		t.Fatalf("the file is not a KEK: %v", err)
	}
	if strings.Contains(out, strings.TrimSpace(string(key))) {
		t.Error("the key was printed")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	code, _, stderr = tlsRun(t, "kek", "create", "-out", path)
	if code != exitError || !strings.Contains(stderr, "exists") {
		t.Fatalf("second run: exit %d %s", code, stderr)
	}
	if string(tlsRead(t, path)) != string(key) {
		t.Fatal("the KEK was overwritten")
	}
}

// TestTLSHelp: every level answers --help with an example, on stdout.
func TestTLSHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, "drover tls cert create -cli"},
		{[]string{"cert", "--help"}, "drover tls ca create"},
		{[]string{"ca", "create", "--help"}, "drover tls ca create -region eu"},
		{[]string{"cert", "create", "-help"}, "drover tls cert create -client -node-id"},
		{[]string{"kek", "create", "--help"}, "kek_file = \"/etc/drover/kek\""},
	} {
		code, out, stderr := tlsRun(t, tc.args...)
		if code != exitOK || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, stdout lacks %q:\n%s%s", tc.args, code, tc.want, out, stderr)
		}
	}
	if code, _, stderr := tlsRun(t); code != exitError || !strings.Contains(stderr, "Usage: drover tls") {
		t.Errorf("no arguments: exit %d %s", code, stderr)
	}
}

func TestTLSNewNodeID(t *testing.T) {
	a, b := tlsNewNodeID(), tlsNewNodeID()
	if a == b || len(a) != 36 || a[14] != '4' || pki.ValidateNodeID(a) != nil {
		t.Errorf("tlsNewNodeID = %q, %q; want distinct UUIDv4s", a, b)
	}
}
