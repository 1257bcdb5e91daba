// Package gittest builds real Git repositories with the git CLI for tests,
// and serves them over smart HTTP with git http-backend. Test code only.
package gittest

import (
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// Repo is a working repository on branch main.
type Repo struct {
	t   testing.TB
	Dir string
}

// RequireGit skips the test, loudly, when the git CLI is missing.
func RequireGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("SKIPPING: the git CLI is not installed; tests that build repositories with it did not run")
	}
}

// New makes an empty repository in a temporary folder.
func New(t testing.TB) *Repo {
	t.Helper()
	RequireGit(t)
	r := &Repo{t: t, Dir: t.TempDir()}
	r.Git("init", "-q", "-b", "main")
	return r
}

// Env is the environment every git command runs with: a fixed identity
// and no user or system config.
func Env() []string {
	return append(os.Environ(),
		"GIT_AUTHOR_NAME=Ada Author", "GIT_AUTHOR_EMAIL=ada@example.com",
		"GIT_COMMITTER_NAME=Cy Committer", "GIT_COMMITTER_EMAIL=cy@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
	)
}

// Git runs git in the repository and returns its trimmed output.
func (r *Repo) Git(args ...string) string {
	r.t.Helper()
	return Run(r.t, r.Dir, args...)
}

// Run runs git in dir.
func Run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Write writes files (slash paths relative to the root).
func (r *Repo) Write(files map[string]string) {
	r.t.Helper()
	for p, content := range files {
		name := filepath.Join(r.Dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

// Remove deletes files.
func (r *Repo) Remove(paths ...string) {
	r.t.Helper()
	for _, p := range paths {
		if err := os.RemoveAll(filepath.Join(r.Dir, filepath.FromSlash(p))); err != nil {
			r.t.Fatal(err)
		}
	}
}

// Commit writes files, stages everything and commits; it returns the SHA.
func (r *Repo) Commit(msg string, files map[string]string) string {
	r.t.Helper()
	r.Write(files)
	r.Git("add", "-A")
	r.Git("commit", "-q", "--allow-empty", "-m", msg)
	return r.Head()
}

// Head returns HEAD's SHA.
func (r *Repo) Head() string {
	r.t.Helper()
	return r.Git("rev-parse", "HEAD")
}

// Bare clones the repository into a bare one (a "remote" to push to) and
// adds it as origin.
func (r *Repo) Bare() string {
	r.t.Helper()
	dir := filepath.Join(r.t.TempDir(), "remote.git")
	Run(r.t, r.Dir, "clone", "-q", "--bare", r.Dir, dir)
	r.Git("remote", "add", "origin", dir)
	return dir
}

// Job returns a minimal exec service job file.
func Job(id string, count int) string {
	return fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  group "g" {
    count = %d
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`, id, count)
}

// HTTPServer serves every bare repository under root over Git's smart
// HTTP protocol with git http-backend, and counts requests: Lists (ref
// listings, info/refs) and Fetches (upload-pack POSTs).
type HTTPServer struct {
	URL     string
	Lists   atomic.Int64
	Fetches atomic.Int64
}

// ServeHTTP starts the server; the test is skipped, loudly, without git
// http-backend. With user set, requests need HTTP basic auth.
func ServeHTTP(t testing.TB, root, user, password string) *HTTPServer {
	t.Helper()
	RequireGit(t)
	execPath := strings.TrimSpace(Run(t, root, "--exec-path"))
	backend := filepath.Join(execPath, "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Skipf("SKIPPING: %s is missing; the smart-HTTP tests did not run", backend)
	}
	s := &HTTPServer{}
	h := &cgi.Handler{
		Path: backend,
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		switch {
		case strings.HasSuffix(r.URL.Path, "/info/refs"):
			s.Lists.Add(1)
		case strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
			s.Fetches.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}
