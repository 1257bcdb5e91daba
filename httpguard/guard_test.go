package httpguard

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const bound = "127.0.0.1:4646"

// guardCase is one request as a web page (or the CLI) makes a browser
// send it to an API bound on loopback.
type guardCase struct {
	name   string
	method string // "" is GET
	path   string // "" is /v1/jobs
	host   string // "" is the bound address
	header []string
	body   string
	code   int    // 0: let through
	msg    string // what the refusal says
}

func (tc guardCase) request() *http.Request {
	method, path := tc.method, tc.path
	if method == "" {
		method = http.MethodGet
	}
	if path == "" {
		path = "/v1/jobs"
	}
	var body io.Reader
	if tc.body != "" {
		body = strings.NewReader(tc.body)
	}
	r := httptest.NewRequest(method, path, body)
	r.Host = bound
	if tc.host != "" {
		r.Host = tc.host
	}
	for i := 0; i+1 < len(tc.header); i += 2 {
		r.Header.Add(tc.header[i], tc.header[i+1])
	}
	return r
}

// serve sends tc through a guard built from cfg and reports the answer
// and whether the handler behind the guard ran.
func (tc guardCase) serve(t *testing.T, cfg Config) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	reached := false
	h := New(cfg).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		w.WriteHeader(http.StatusNoContent)
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, tc.request())
	return w, reached
}

func (tc guardCase) check(t *testing.T, cfg Config) {
	t.Helper()
	w, reached := tc.serve(t, cfg)
	if w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("no X-Content-Type-Options: nosniff: %v", w.Header())
	}
	if tc.code == 0 {
		if !reached || w.Code != http.StatusNoContent {
			t.Fatalf("Host %q: %d %s, want it let through", tc.host, w.Code, w.Body)
		}
		return
	}
	if reached {
		t.Fatalf("Host %q: the handler ran, want %d", tc.host, tc.code)
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("the refusal is not a JSON error: %v %q %v", w.Header(), w.Body, err)
	}
	if w.Code != tc.code || !strings.Contains(e.Error, tc.msg) {
		t.Fatalf("= %d %q, want %d containing %q", w.Code, e.Error, tc.code, tc.msg)
	}
	if accept := w.Header().Get("Accept"); (w.Code == http.StatusUnsupportedMediaType) != (accept == "application/json") {
		t.Errorf("%d with Accept %q", w.Code, accept)
	}
}

func TestGuardRefuses(t *testing.T) {
	cfg := Config{Addr: bound, Hosts: []string{"drover.example.com"}}
	const (
		rebind      = "DNS rebinding protection"
		crossOrigin = "cross-origin request refused"
		sendJSON    = "send Content-Type: application/json"
	)
	for _, tc := range []guardCase{
		{name: "foreign Host", host: "evil.example:4646", code: 403,
			msg: `DNS rebinding protection: Host "evil.example:4646" is not this server; use http://127.0.0.1:4646`},
		{name: "foreign Host, same-origin to the browser", method: "POST", host: "evil.example:4646",
			header: []string{"Origin", "http://evil.example:4646", "Sec-Fetch-Site", "same-origin", "Content-Type", "application/json"}, body: "{}", code: 403, msg: rebind},
		{name: "name that spells a loopback IP", host: "127.0.0.1.evil.example", code: 403, msg: rebind},
		{name: "name that starts with localhost", host: "localhost.evil.example:4646", code: 403, msg: rebind},
		{name: "subdomain of localhost", host: "evil.localhost", code: 403, msg: rebind},
		{name: "name that starts with an allowed host", host: "drover.example.com.evil.example", code: 403, msg: rebind},
		{name: "unspecified IPv4", host: "0.0.0.0:4646", code: 403, msg: rebind},
		{name: "unspecified IPv6", host: "[::]:4646", code: 403, msg: rebind},
		{name: "another interface", host: "10.0.0.1:4646", code: 403, msg: rebind},
		{name: "empty Host", host: " ", code: 403, msg: rebind},
		{name: "foreign Origin on POST", method: "POST", header: []string{"Origin", "https://evil.example", "Content-Type", "application/json"}, body: "{}", code: 403, msg: crossOrigin},
		{name: "foreign Origin on DELETE", method: "DELETE", header: []string{"Origin", "https://evil.example"}, code: 403, msg: crossOrigin},
		{name: "Origin of another port", method: "POST", header: []string{"Origin", "http://127.0.0.1:3000", "Content-Type", "application/json"}, body: "{}", code: 403, msg: crossOrigin},
		{name: "Sec-Fetch-Site cross-site", method: "POST", header: []string{"Sec-Fetch-Site", "cross-site", "Content-Type", "application/json"}, body: "{}", code: 403, msg: crossOrigin},
		{name: "Sec-Fetch-Site same-site", method: "PUT", header: []string{"Sec-Fetch-Site", "same-site", "Content-Type", "application/json"}, body: "{}", code: 403, msg: crossOrigin},
		{name: "text/plain POST", method: "POST", header: []string{"Content-Type", "text/plain;charset=UTF-8"}, body: "{}", code: 415,
			msg: `a request body must be JSON: send Content-Type: application/json (got "text/plain;charset=UTF-8")`},
		{name: "form POST", method: "POST", header: []string{"Content-Type", "application/x-www-form-urlencoded"}, body: "a=b", code: 415, msg: sendJSON},
		{name: "POST without Content-Type", method: "POST", body: "{}", code: 415, msg: sendJSON},
		{name: "two Content-Types", method: "POST", header: []string{"Content-Type", "application/json", "Content-Type", "text/plain"}, body: "{}", code: 415, msg: sendJSON},
		{name: "JSON lookalike", method: "POST", header: []string{"Content-Type", "application/jsonp"}, body: "{}", code: 415, msg: sendJSON},
		{name: "malformed media type", method: "POST", header: []string{"Content-Type", "application/json; charset"}, body: "{}", code: 415, msg: sendJSON},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, cfg) })
	}
}

func TestGuardLetsThrough(t *testing.T) {
	cfg := Config{Addr: bound, Hosts: []string{"drover.example.com", "LB.example.com:443", "0.0.0.0:4646"}}
	for _, tc := range []guardCase{
		{name: "bound address"},
		{name: "IPv4 loopback without port", host: "127.0.0.1"},
		{name: "another 127/8 address", host: "127.9.9.9:80"},
		{name: "IPv6 loopback", host: "[::1]:4646"},
		{name: "IPv6 loopback without port", host: "[::1]"},
		{name: "bare IPv6 loopback", host: "::1"},
		{name: "IPv4-mapped loopback", host: "[::ffff:127.0.0.1]:4646"},
		{name: "localhost", host: "localhost:4646"},
		{name: "localhost in capitals with a trailing dot", host: "LocalHost.:4646"},
		{name: "allowed host", host: "drover.example.com"},
		{name: "allowed host on another port, any case", host: "Drover.Example.Com:8443"},
		{name: "allowed host given with a port", host: "lb.example.com"},
		{name: "JSON POST", method: "POST", header: []string{"Content-Type", "application/json; charset=utf-8"}, body: "{}"},
		{name: "JSON in capitals", method: "POST", header: []string{"Content-Type", "Application/JSON"}, body: "{}"},
		{name: "bodiless POST", method: "POST"},
		{name: "same-origin page", method: "POST", header: []string{"Origin", "http://" + bound, "Sec-Fetch-Site", "same-origin", "Content-Type", "application/json"}, body: "{}"},
		{name: "typed into the address bar", method: "POST", header: []string{"Sec-Fetch-Site", "none", "Content-Type", "application/json"}, body: "{}"},
		// A page may make the browser send a GET; it cannot read the
		// answer (no CORS headers), and a GET changes nothing.
		{name: "cross-site GET", header: []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, cfg) })
	}
}

func TestGuardAnyHost(t *testing.T) {
	cfg := Config{Addr: "0.0.0.0:4646", Hosts: []string{"drover.example.com", AnyHost}}
	for _, tc := range []guardCase{
		{name: "foreign Host", host: "evil.example"},
		{name: "unspecified IP", host: "0.0.0.0:4646"},
		{name: "cross-site POST still refused", method: "POST", host: "evil.example",
			header: []string{"Sec-Fetch-Site", "cross-site", "Content-Type", "application/json"}, body: "{}", code: 403, msg: "cross-origin"},
		{name: "text/plain still refused", method: "POST", host: "evil.example", header: []string{"Content-Type", "text/plain"}, body: "{}", code: 415, msg: "JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, cfg) })
	}
}

// TestGuardExempt: an exempt request (a signed webhook) skips the Host
// and content-type rules, never the cross-origin one.
func TestGuardExempt(t *testing.T) {
	cfg := Config{Addr: bound, Exempt: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/hook") }}
	for _, tc := range []guardCase{
		{name: "tunnel Host, form body", method: "POST", path: "/hook", host: "abc.tunnel.example",
			header: []string{"Content-Type", "application/x-www-form-urlencoded"}, body: "payload=x"},
		{name: "cross-site page", method: "POST", path: "/hook",
			header: []string{"Content-Type", "text/plain", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, body: "x", code: 403, msg: "cross-origin"},
		{name: "not exempt", method: "POST", path: "/v1/jobs", host: "abc.tunnel.example", header: []string{"Content-Type", "application/json"}, body: "{}", code: 403, msg: "DNS rebinding"},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, cfg) })
	}
}

// TestGuardRefusal: the message names the setting that lists hosts, and
// Refuse writes in the API's own error shape.
func TestGuardRefusal(t *testing.T) {
	var got *Error
	cfg := Config{Addr: bound, HostsSetting: "http_allowed_hosts", Refuse: func(w http.ResponseWriter, r *http.Request, err *Error) {
		got = err
		w.WriteHeader(499)
	}}
	w, reached := guardCase{host: "evil.example"}.serve(t, cfg)
	want := `DNS rebinding protection: Host "evil.example" is not this server; use http://127.0.0.1:4646 (or add the name to http_allowed_hosts)`
	if reached || w.Code != 499 || got == nil || got.Code != http.StatusForbidden || got.Msg != want || got.Error() != want {
		t.Fatalf("reached %v, %d, refusal %+v, want 403 %q", reached, w.Code, got, want)
	}

	g := New(Config{Addr: bound})
	if err := g.Check(guardCase{}.request()); err != nil {
		t.Fatalf("Check(allowed) = %#v, want a nil error", err)
	}
	err := g.Check(guardCase{method: "POST", body: "x"}.request())
	if e, ok := err.(*Error); !ok || e.Code != http.StatusUnsupportedMediaType {
		t.Fatalf("Check(text POST) = %#v, want *Error 415", err)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:0": true, "127.1.2.3:80": true, "[::1]:4646": true, "localhost:4646": true,
		"0.0.0.0:4646": false, "[::]:4646": false, ":4646": false, "10.0.0.1:4646": false,
		"drover.example.com:4646": false, "127.0.0.1": false, "": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestValidateHosts(t *testing.T) {
	if errs := ValidateHosts("allowed", []string{"drover.example.com", "10.0.0.5", "LB.example.com:443", "[::1]", "*"}); len(errs) != 0 {
		t.Fatalf("valid hosts: %v", errs)
	}
	for _, bad := range []string{"https://drover.example.com/", "*.example.com", "", " ", "drover.example.com/ui", "a b", "user@host"} {
		errs := ValidateHosts("allowed", []string{"ok.example.com", bad})
		if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "allowed") {
			t.Errorf("%q: %v, want one error naming the setting", bad, errs)
		}
	}
}

// FuzzHostRule: whatever the Host, the guard lets a request through only
// when the Host names localhost, a loopback IP, the bound address or an
// allowed host (oracleHost, written for the test), and never panics.
func FuzzHostRule(f *testing.F) {
	for _, h := range []string{bound, "localhost", "LocalHost.:1", "[::1]", "::1", "[::ffff:127.0.0.1]:1", "evil.example",
		"127.0.0.1.evil.example", "drover.example.com", "DROVER.example.com.:443", "[drover.example.com]", "0.0.0.0", "[::]:1", "", "[", "]:", "::"} {
		f.Add(h)
	}
	g := New(Config{Addr: bound, Hosts: []string{"drover.example.com", "0.0.0.0:4646"}})
	f.Fuzz(func(t *testing.T, host string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Host = host
		allowed := g.Check(r) == nil
		if allowed != g.allowsHost(host) {
			t.Fatalf("Host %q: Check and allowsHost disagree", host)
		}
		if allowed && !oracleHost(host) {
			t.Fatalf("Host %q let through", host)
		}
	})
}

func oracleHost(host string) bool {
	h := strings.ToLower(strings.TrimSpace(host))
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(h, "["), "."), "]")
	h = strings.TrimSuffix(h, ".")
	if h == "localhost" || h == "drover.example.com" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
