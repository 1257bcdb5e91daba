package gitsource_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/gitsource/gittest"
)

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"user and password", "https://deploy:hunter2@github.com/acme/deploy.git", "https://github.com/acme/deploy.git"},
		{"token as user", "https://ghp_SECRET@github.com/acme/deploy.git", "https://github.com/acme/deploy.git"},
		{"user only", "https://deploy@gitlab.example.com/acme/deploy.git", "https://gitlab.example.com/acme/deploy.git"},
		{"token as password", "https://x-access-token:ghp_SECRET@github.com/acme/deploy.git", "https://github.com/acme/deploy.git"},
		{"empty password", "https://ghp_SECRET:@github.com/a/b", "https://github.com/a/b"},
		{"port kept", "http://tok@127.0.0.1:8080/remote.git", "http://127.0.0.1:8080/remote.git"},
		{"password url.Parse refuses", "https://u:p%zz@host/r.git", "https://host/r.git"},
		{"@ in the password", "https://u:p@ss@host/r.git", "https://host/r.git"},
		{"@ in the path stays", "https://host/org/repo@v1.git", "https://host/org/repo@v1.git"},
		{"no credentials", "https://github.com/acme/deploy.git", "https://github.com/acme/deploy.git"},
		{"no path", "https://tok@host", "https://host"},
		{"query kept", "https://tok@host?x=1", "https://host?x=1"},
		// The SSH forms keep the user "git": every forge's SSH account,
		// not a secret.
		{"ssh git user", "ssh://git@github.com/acme/deploy.git", "ssh://git@github.com/acme/deploy.git"},
		{"scp-like git user", "git@github.com:acme/deploy.git", "git@github.com:acme/deploy.git"},
		{"ssh git with password", "ssh://git:pw@host/r.git", "ssh://host/r.git"},
		{"ssh other user", "ssh://deploy@host:2222/r.git", "ssh://host:2222/r.git"},
		{"scp-like token user", "ghp_SECRET@github.com:acme/deploy.git", "github.com:acme/deploy.git"},
		{"scp-like user and password", "u:pw@host:acme/deploy.git", "host:acme/deploy.git"},
		{"scp-like without user", "github.com:acme/deploy.git", "github.com:acme/deploy.git"},
		// Paths are not URLs: an '@' in a folder name is not a credential.
		{"absolute path", "/srv/git/deploy", "/srv/git/deploy"},
		{"path with @", "/srv/me@host/deploy", "/srv/me@host/deploy"},
		{"relative path", "./deploy", "./deploy"},
		{"file URL", "file:///srv/git/deploy.git", "file:///srv/git/deploy.git"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := gitsource.RedactURL(tc.in); got != tc.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestScrubStringURLs(t *testing.T) {
	for in, want := range map[string]string{
		`fetch https://ghp_SECRET@github.com/a/b.git: authentication required`: `fetch https://github.com/a/b.git: authentication required`,
		`Get "https://u:hunter2@h/r.git/info/refs": EOF`:                       `Get "https://h/r.git/info/refs": EOF`,
		`list refs of ssh://git@h/r.git: refused`:                              `list refs of ssh://git@h/r.git: refused`,
		`two: http://a@h1/x and http://b:c@h2/y`:                               `two: http://h1/x and http://h2/y`,
		`no url: mail ops@example.com`:                                         `no url: mail ops@example.com`,
	} {
		if got := gitsource.ScrubString(in); got != want {
			t.Errorf("ScrubString(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMirrorKeepsTokenUserOutOfErrorsAndDisk: a token written as the
// URL's user name authenticates the fetch, and appears neither in the
// mirror's .git/config nor in an error.
func TestMirrorKeepsTokenUserOutOfErrorsAndDisk(t *testing.T) {
	const token = "ghp_SECRETtoken123"
	w := gittest.New(t)
	head := w.Commit("Add web", map[string]string{"jobs/web.hcl": gittest.Job("web", 1)})
	bare := w.Bare()
	hs := gittest.ServeHTTP(t, filepath.Dir(bare), token, "")
	rawURL := strings.Replace(hs.URL, "http://", "http://"+token+"@", 1) + "/remote.git"
	ctx := context.Background()

	dir := filepath.Join(t.TempDir(), "apps.git")
	m := gitsource.NewMirror(rawURL, "main", dir, gitsource.Auth{})
	res, err := m.Sync(ctx)
	if err != nil {
		t.Fatalf("sync with the token as user name: %v", err)
	}
	if res.Head != head {
		t.Fatalf("head = %s, want %s", res.Head, head)
	}
	if _, err := m.FetchRef(ctx, "refs/heads/main"); err != nil {
		t.Fatalf("fetch ref: %v", err)
	}
	assertNoSecretOnDisk(t, dir, token)

	// A mirror made before credentials were kept off the disk is
	// cleaned when next opened.
	cfgPath := filepath.Join(dir, ".git", "config")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	clean := gitsource.RedactURL(rawURL)
	if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(string(b), clean, rawURL)), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(cfgPath); !strings.Contains(string(b), token) {
		t.Fatal("the test did not plant the token")
	}
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	assertNoSecretOnDisk(t, dir, token)

	// Wrong token: the error says where, not with what.
	const wrong = "ghp_WRONGtoken456"
	bad := gitsource.NewMirror(strings.Replace(rawURL, token, wrong, 1), "main", filepath.Join(t.TempDir(), "bad.git"), gitsource.Auth{})
	_, err = bad.Sync(ctx)
	if !errors.Is(err, gitsource.ErrAuth) {
		t.Fatalf("wrong token: err = %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), clean) {
		t.Errorf("wrong token: error %q leaks the token or does not name %s", err, clean)
	}
	// A branch that does not exist names the remote too.
	_, err = gitsource.NewMirror(rawURL, "nope", filepath.Join(t.TempDir(), "nope.git"), gitsource.Auth{}).Sync(ctx)
	if !errors.Is(err, gitsource.ErrBranchNotFound) || strings.Contains(err.Error(), token) {
		t.Errorf("missing branch: %v", err)
	}
}

// assertNoSecretOnDisk fails if any file under dir holds secret.
func assertNoSecretOnDisk(t *testing.T, dir, secret string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("%s holds the secret", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
