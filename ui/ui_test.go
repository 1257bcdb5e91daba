package ui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

// TestServesPagesAndAssets: every page and asset is served from the
// embedded files with its content type; unknown paths are 404 and no
// directory is listed.
func TestServesPagesAndAssets(t *testing.T) {
	h := Handler()
	for _, c := range []struct {
		path, ctype string
		code        int
		body        string
	}{
		{"/ui/", "text/html", 200, `data-page="signin"`},
		{"/ui/sources", "text/html", 200, `data-page="sources"`},
		{"/ui/timeline", "text/html", 200, `data-page="timeline"`},
		{"/ui/jobs", "text/html", 200, `aria-current="page">Jobs`},
		{"/ui/job", "text/html", 200, `data-page="job"`},
		{"/ui/allocation", "text/html", 200, `data-page="allocation"`},
		{"/ui/nodes", "text/html", 200, `data-page="nodes"`},
		{"/ui/deployments", "text/html", 200, `data-page="deployments"`},
		{"/ui/assets/app.js", "text/javascript", 200, "sessionStorage"},
		{"/ui/assets/app.css", "text/css", 200, "system-ui"},
		{"/ui/nope", "text/plain", 404, "no such page"},
		{"/ui/assets/", "text/plain", 404, ""},
		{"/ui/assets/nope.js", "text/plain", 404, ""},
		{"/ui/templates/page.html", "text/plain", 404, ""},
	} {
		resp := get(t, h, http.MethodGet, c.path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) || !strings.Contains(string(body), c.body) {
			t.Errorf("GET %s: %d %q, want %d %s containing %q:\n%.300s", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.code, c.ctype, c.body, body)
		}
	}
	if resp := get(t, h, http.MethodPost, "/ui/jobs"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /ui/jobs: %d, want 405", resp.StatusCode)
	}
}

// TestSecurityHeaders: every response, 404s included, forbids inline
// script, foreign origins, framing and referrers.
func TestSecurityHeaders(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/ui/", "/ui/jobs", "/ui/assets/app.js", "/ui/assets/app.css", "/ui/nope"} {
		resp := get(t, h, http.MethodGet, path)
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q allows inline or eval", path, csp)
		}
		for k, v := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
	}
}

// TestNoExternalReferences greps every embedded file: nothing may load
// from another origin (no CDN, no font, no analytics), and no page may
// carry an inline script or handler, which the CSP would block anyway.
func TestNoExternalReferences(t *testing.T) {
	external := regexp.MustCompile(`(?i)(src|href|action)\s*=\s*["']?(https?:)?//|fetch\(\s*["'](https?:)?//|@import|url\(`)
	inline := regexp.MustCompile(`(?i)<script>|<script [^>]*>[^<]|\son[a-z]+=|javascript:|style=`)
	n := 0
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		data, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		// An SVG's namespace name is an identifier the browser never
		// fetches; nothing else may name a URL.
		s := strings.ReplaceAll(string(data), `xmlns="http://www.w3.org/2000/svg"`, "")
		if strings.Contains(s, "http://") || strings.Contains(s, "https://") {
			t.Errorf("%s references an external URL", path)
		}
		if m := external.FindString(s); m != "" {
			t.Errorf("%s references another origin or stylesheet: %q", path, m)
		}
		if strings.HasSuffix(path, ".html") {
			if m := inline.FindString(s); m != "" {
				t.Errorf("%s has inline script or style: %q", path, m)
			}
		}
		if strings.HasSuffix(path, ".js") && (strings.Contains(s, ".innerHTML") || strings.Contains(s, "insertAdjacentHTML") || strings.Contains(s, "document.write") || strings.Contains(s, "eval(")) {
			t.Errorf("%s writes HTML from strings: build nodes with textContent", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Fatalf("walked %d embedded files; the embed lost some", n)
	}
}
