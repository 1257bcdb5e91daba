// Package ui serves Drover's web UI under /ui/: sign-in, sources, the
// commit timeline, jobs, allocations, nodes and deployments.
//
// The stack is server-rendered html/template pages plus one small
// vanilla JavaScript file, all embedded in the binary with go:embed. Why:
//
//   - No build step and no npm: the assets are plain files in the tree,
//     reviewed like Go code, and `go build` is the only tool. A framework
//     (or a vendored htmx) would add a supply chain and a second language
//     toolchain for a handful of tables.
//   - Works offline and leaks nothing: no CDN, no external font, no
//     third-party script; a test greps every embedded file for http:// and
//     https:// references.
//   - No capability of its own: the templates render only the page shell
//     (navigation, title); every datum is fetched by app.js from the
//     existing JSON API with the operator's token (kept in the browser's
//     sessionStorage), so each read and each button passes the same ACL
//     checks as the CLI. This package needs nothing from the server but
//     to be mounted as a public route serving static files.
//   - Escaping by construction: html/template escapes the shell, and
//     app.js builds the DOM with createElement and textContent, never
//     innerHTML, so attacker-written job files (a name or meta holding
//     <script>) render as text. The Content-Security-Policy forbids inline
//     script and any foreign origin besides.
package ui

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed assets templates
var files embed.FS

// Prefix is the path the UI is mounted at.
const Prefix = "/ui/"

// CSP is the Content-Security-Policy of every response: the page loads
// scripts, styles, images and API calls from its own origin only, runs
// no inline script, and no other site may frame it.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// page is one screen of the UI; the shell is the same for all, app.js
// picks what to fetch by Name.
type page struct {
	Name  string
	Title string
	// Nav pages are listed in the navigation bar.
	Nav bool
}

var pages = []page{
	{"signin", "Sign in", false},
	{"sources", "Sources", true},
	{"timeline", "Timeline", true},
	{"jobs", "Jobs", true},
	{"job", "Job", false},
	{"allocation", "Allocation", false},
	{"nodes", "Nodes", true},
	{"deployments", "Deployments", true},
}

type shell struct {
	Page  page
	Pages []page
}

// Handler serves the UI. Mount it at Prefix; it answers GET and HEAD.
func Handler() http.Handler {
	tmpl := template.Must(template.ParseFS(files, "templates/page.html"))
	assets, err := fs.Sub(files, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	static := http.StripPrefix(Prefix+"assets/", http.FileServerFS(assets))
	byName := map[string]page{}
	for _, p := range pages {
		byName[p.Name] = p
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the UI only answers GET", http.StatusMethodNotAllowed)
			return
		}
		rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
		if !ok {
			http.Redirect(w, r, Prefix, http.StatusFound)
			return
		}
		if strings.HasPrefix(rest, "assets/") {
			if path.Base(rest) == "assets" || strings.HasSuffix(rest, "/") {
				http.NotFound(w, r) // no directory listings
				return
			}
			static.ServeHTTP(w, r)
			return
		}
		name := rest
		if name == "" {
			name = "signin"
		}
		p, ok := byName[name]
		if !ok {
			http.Error(w, "no such page: "+Prefix+rest+"; start at "+Prefix, http.StatusNotFound)
			return
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, shell{Page: p, Pages: pages}); err != nil {
			http.Error(w, "rendering the page: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(buf.Bytes())
	})
}

// setSecurityHeaders sets the headers every UI response carries.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	// The shell holds no data, but a stale app.js after an upgrade
	// would call the API wrongly: revalidate every time.
	h.Set("Cache-Control", "no-cache")
}
