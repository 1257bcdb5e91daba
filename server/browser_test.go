package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// The attacks a web page can make a browser send to the token-less
// loopback API (drover dev, make run, a plain server), and what must
// still work: the CLI, the agents, forwarding, webhooks, a same-origin
// page. See browser.go.

// rawHTTP sends one HTTP/1.1 request byte for byte over TCP, so that the
// Host header is exactly host (the Go client would fill or refuse it),
// and returns the status, the headers and the body of the answer.
func rawHTTP(t testing.TB, addr, method, path, host string, header http.Header, body []byte) (int, http.Header, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(servertest.Timeout))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, path, host)
	for k, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	if body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	if _, err := conn.Write(b.Bytes()); err != nil {
		t.Fatalf("%s %s: write: %v", method, path, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s (Host %q): %v (did the handler panic?)", method, path, host, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

// browserCase is one request as a web page (or the CLI) makes a browser
// send it.
type browserCase struct {
	name, method, path string
	host               string // "" is the server's address
	header             http.Header
	body               []byte
	chunked            bool // a body of unknown length
	code               int
	msg                string
}

func (tc browserCase) send(t *testing.T, addr string) (int, api.Error, http.Header) {
	t.Helper()
	var body io.Reader = bytes.NewReader(tc.body)
	if tc.chunked {
		body = io.MultiReader(bytes.NewReader(tc.body))
	}
	req, err := http.NewRequest(tc.method, "http://"+addr+tc.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if tc.chunked {
		req.ContentLength = -1 // unknown: sent chunked
	}
	if tc.host != "" {
		req.Host = tc.host
	}
	for k, vs := range tc.header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", tc.name, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e api.Error
	if err := json.Unmarshal(data, &e); err != nil && resp.StatusCode >= 400 {
		t.Errorf("%s: the answer %d is not a JSON error: %q", tc.name, resp.StatusCode, data)
	}
	return resp.StatusCode, e, resp.Header
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func jobIDs(t *testing.T, c *api.Client) []string {
	t.Helper()
	jobs, _, err := c.Jobs().List(ctxT(t), nil)
	if err != nil {
		t.Fatalf("job list: %v", err)
	}
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestBrowserAttacksAreRefused sends what a web page can make a browser
// send to a token-less loopback server: each is refused before any
// handler runs, and nothing is stored or stopped.
func TestBrowserAttacksAreRefused(t *testing.T) {
	s := servertest.Single(t)
	addr := s.HTTPAddr()
	_, port, _ := net.SplitHostPort(addr)
	if _, err := s.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("keep", 1, ""))}); err != nil {
		t.Fatal(err)
	}
	keep, _, err := s.Client.Jobs().Info(ctxT(t), "keep", nil)
	if err != nil {
		t.Fatal(err)
	}

	evil := mustJSON(t, api.JobRegisterRequest{Job: parseJob(t, webJob("evil", 1, ""))})
	const foreign = "https://evil.example"
	rebound := "evil.example:" + port // a name the attacker re-resolved to 127.0.0.1
	crossSite := func(ct string) http.Header {
		h := hdr("Origin", foreign, "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "no-cors")
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		return h
	}
	rebinding := hdr("Origin", "http://"+rebound, "Sec-Fetch-Site", "same-origin", "Content-Type", "text/plain;charset=UTF-8")
	const (
		crossOrigin = "cross-origin request refused"
		sendJSON    = "send Content-Type: application/json"
	)
	rebindMsg := fmt.Sprintf("DNS rebinding protection: Host %q is not this server; use http://%s", rebound, addr)

	for _, tc := range []browserCase{
		// Cross-site requests a page sends without a preflight.
		{name: "cross-site text/plain POST", method: "POST", path: "/v1/jobs", header: crossSite("text/plain;charset=UTF-8"), body: evil, code: 403, msg: crossOrigin},
		{name: "cross-site text/plain PUT", method: "PUT", path: "/v1/jobs", header: crossSite("text/plain"), body: evil, code: 403, msg: crossOrigin},
		{name: "cross-site form POST", method: "POST", path: "/v1/jobs", header: crossSite("application/x-www-form-urlencoded"), body: evil, code: 403, msg: crossOrigin},
		{name: "cross-site Blob without a type", method: "POST", path: "/v1/jobs", header: crossSite(""), body: evil, code: 403, msg: crossOrigin},
		{name: "cross-site JSON POST", method: "POST", path: "/v1/jobs", header: crossSite("application/json"), body: evil, code: 403, msg: crossOrigin},
		{name: "cross-site job stop", method: "DELETE", path: "/v1/job/keep", header: crossSite(""), code: 403, msg: crossOrigin},
		{name: "cross-site deregister", method: "POST", path: "/v1/job/keep/deregister", header: crossSite("text/plain"), body: []byte(`{}`), code: 403, msg: crossOrigin},
		{name: "cross-site node drain", method: "POST", path: "/v1/node/x/drain", header: crossSite("text/plain"), body: []byte(`{}`), code: 403, msg: crossOrigin},
		// A browser too old for Sec-Fetch-Site still sends Origin.
		{name: "foreign Origin from an old browser", method: "POST", path: "/v1/jobs", header: hdr("Origin", foreign, "Content-Type", "text/plain"), body: evil, code: 403, msg: crossOrigin},
		// Another local web app (a dev server on another port) is same-site, not same-origin.
		{name: "same-site page on another port", method: "POST", path: "/v1/jobs",
			header: hdr("Origin", "http://localhost:3000", "Sec-Fetch-Site", "same-site", "Content-Type", "text/plain"), body: evil, code: 403, msg: crossOrigin},
		{name: "Origin of another port without Sec-Fetch-Site", method: "POST", path: "/v1/jobs",
			header: hdr("Origin", "http://127.0.0.1:3000", "Content-Type", "application/json"), body: evil, code: 403, msg: crossOrigin},
		// DNS rebinding: same-origin to the browser, but the Host is not ours.
		{name: "DNS rebinding POST", method: "POST", path: "/v1/jobs", host: rebound, header: rebinding, body: evil, code: 403, msg: rebindMsg},
		{name: "DNS rebinding JSON POST", method: "POST", path: "/v1/jobs", host: rebound,
			header: hdr("Origin", "http://"+rebound, "Sec-Fetch-Site", "same-origin", "Content-Type", "application/json"), body: evil, code: 403, msg: rebindMsg},
		{name: "DNS rebinding read", method: "GET", path: "/v1/jobs", host: rebound, header: hdr("Sec-Fetch-Site", "same-origin"), code: 403, msg: rebindMsg},
		{name: "DNS rebinding health", method: "GET", path: "/v1/agent/health", host: rebound, code: 403, msg: "DNS rebinding protection"},
		{name: "rebinding name that spells a loopback IP", method: "GET", path: "/v1/jobs", host: "127.0.0.1.evil.example:" + port, code: 403, msg: "DNS rebinding protection"},
		{name: "rebinding name that starts with localhost", method: "GET", path: "/v1/jobs", host: "localhost.evil.example", code: 403, msg: "DNS rebinding protection"},
		// Writes whose body is not declared JSON, whoever sends them.
		{name: "text/plain without Origin", method: "POST", path: "/v1/jobs", header: hdr("Content-Type", "text/plain"), body: evil, code: 415, msg: sendJSON},
		{name: "form without Origin", method: "POST", path: "/v1/jobs", header: hdr("Content-Type", "application/x-www-form-urlencoded"), body: evil, code: 415, msg: sendJSON},
		{name: "multipart", method: "POST", path: "/v1/jobs", header: hdr("Content-Type", "multipart/form-data; boundary=x"), body: evil, code: 415, msg: sendJSON},
		{name: "no Content-Type", method: "POST", path: "/v1/jobs", body: evil, code: 415, msg: sendJSON},
		{name: "chunked body without Content-Type", method: "POST", path: "/v1/jobs", body: evil, chunked: true, code: 415, msg: sendJSON},
		{name: "two Content-Types", method: "POST", path: "/v1/jobs", header: hdr("Content-Type", "application/json", "Content-Type", "text/plain"), body: evil, code: 415, msg: sendJSON},
		{name: "JSON lookalike", method: "POST", path: "/v1/jobs", header: hdr("Content-Type", "application/jsonp"), body: evil, code: 415, msg: sendJSON},
		{name: "malformed media type", method: "POST", path: "/v1/jobs", header: hdr("Content-Type", "application/json; charset"), body: evil, code: 415, msg: sendJSON},
		{name: "empty text/plain form", method: "POST", path: "/v1/job/keep/deregister", header: hdr("Content-Type", "text/plain"), code: 415, msg: sendJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, e, h := tc.send(t, addr)
			if code != tc.code || !strings.Contains(e.Error, tc.msg) {
				t.Fatalf("%s %s = %d %q, want %d containing %q", tc.method, tc.path, code, e.Error, tc.code, tc.msg)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("no X-Content-Type-Options: nosniff")
			}
			if code == http.StatusUnsupportedMediaType && h.Get("Accept") != "application/json" {
				t.Errorf("415 without Accept: application/json: %v", h)
			}
		})
	}

	// Nothing was stored, and the job the attacks tried to stop runs on.
	if got := jobIDs(t, s.Client); !slices.Equal(got, []string{"keep"}) {
		t.Fatalf("jobs after the attacks = %v, want [keep]", got)
	}
	after, _, err := s.Client.Jobs().Info(ctxT(t), "keep", nil)
	if err != nil {
		t.Fatal(err)
	}
	if after.Stop || after.JobModifyIndex != keep.JobModifyIndex || after.Version != keep.Version {
		t.Fatalf("job keep changed: stop=%v modify index %d→%d version %d→%d", after.Stop, keep.JobModifyIndex, after.JobModifyIndex, keep.Version, after.Version)
	}
}

// TestBrowserGuardLetsClientsThrough: the CLI (the api client), a
// same-origin page (the web UI to come), a bookmark, and every loopback
// name still work.
func TestBrowserGuardLetsClientsThrough(t *testing.T) {
	s := servertest.Single(t)
	addr := s.HTTPAddr()
	_, port, _ := net.SplitHostPort(addr)
	job := func(id string) []byte {
		return mustJSON(t, api.JobRegisterRequest{Job: parseJob(t, webJob(id, 1, ""))})
	}

	// The CLI: JSON writes, bodiless stops.
	if _, err := s.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("cli", 1, ""))}); err != nil {
		t.Fatalf("register through the client: %v", err)
	}
	if _, err := s.Client.Jobs().Deregister(ctxT(t), "cli", false); err != nil {
		t.Fatalf("stop through the client: %v", err)
	}

	for _, tc := range []browserCase{
		{name: "same-origin page", method: "POST", path: "/v1/jobs",
			header: hdr("Origin", "http://"+addr, "Sec-Fetch-Site", "same-origin", "Content-Type", "application/json; charset=utf-8"), body: job("ui"), code: 200},
		{name: "same-origin page of an old browser", method: "POST", path: "/v1/jobs",
			header: hdr("Origin", "http://"+addr, "Content-Type", "application/json"), body: job("ui2"), code: 200},
		{name: "same-origin on localhost", method: "POST", path: "/v1/jobs", host: "localhost:" + port,
			header: hdr("Origin", "http://localhost:"+port, "Sec-Fetch-Site", "same-origin", "Content-Type", "application/json"), body: job("local"), code: 200},
		{name: "typed into the address bar", method: "POST", path: "/v1/jobs",
			header: hdr("Sec-Fetch-Site", "none", "Content-Type", "Application/JSON"), body: job("typed"), code: 200},
		{name: "curl with JSON", method: "POST", path: "/v1/jobs", header: hdr("Content-Type", "application/json"), body: job("curl"), code: 200},
		{name: "chunked JSON", method: "POST", path: "/v1/jobs", header: hdr("Content-Type", "application/json"), body: job("chunked"), chunked: true, code: 200},
		{name: "bodiless write", method: "PUT", path: "/v1/job/curl/plan", code: 400, msg: "request body is empty"},
		{name: "IPv6 loopback", method: "GET", path: "/v1/jobs", host: "[::1]:" + port, code: 200},
		{name: "IPv6 loopback without port", method: "GET", path: "/v1/jobs", host: "[::1]", code: 200},
		{name: "another 127/8 address", method: "GET", path: "/v1/jobs", host: "127.1.2.3", code: 200},
		{name: "localhost in capitals with a trailing dot", method: "GET", path: "/v1/jobs", host: "LocalHost.:" + port, code: 200},
		// A page may make the browser send a GET; it cannot read the answer
		// (no CORS headers), and a GET changes nothing.
		{name: "cross-site GET", method: "GET", path: "/v1/jobs", header: hdr("Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"), code: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, e, _ := tc.send(t, addr)
			if code != tc.code || !strings.Contains(e.Error, tc.msg) {
				t.Fatalf("%s %s = %d %q, want %d", tc.method, tc.path, code, e.Error, tc.code)
			}
		})
	}
	if got, want := jobIDs(t, s.Client), []string{"chunked", "cli", "curl", "local", "typed", "ui", "ui2"}; !slices.Equal(got, want) {
		t.Fatalf("jobs = %v, want %v", got, want)
	}
}

// TestHostRule walks the Host rule over the ways a server is bound: on
// loopback only localhost, loopback IPs and the names it is told are
// accepted; bound to all interfaces (which needs a token) any Host is,
// unless http_allowed_hosts lists them.
func TestHostRule(t *testing.T) {
	type bind struct {
		name string
		cfg  func(c *server.Config, port string)
	}
	binds := []bind{
		{"loopback", func(c *server.Config, port string) {}},
		{"loopback+allowed", func(c *server.Config, port string) {
			c.HTTPAllowedHosts = []string{"drover.example.com", "LB.example.com:443"}
		}},
		{"loopback+*", func(c *server.Config, port string) { c.HTTPAllowedHosts = []string{"*"} }},
		// Beyond loopback the API speaks HTTPS only unless told otherwise;
		// rawHTTP speaks plain HTTP, and the Host rule is the same either way.
		{"0.0.0.0", func(c *server.Config, port string) {
			c.HTTPAddr, c.AdvertiseHTTP, c.Token = "0.0.0.0:"+port, "192.0.2.10:4747", "tok"
			c.InsecurePlaintextHTTP = true
		}},
		{"0.0.0.0+allowed", func(c *server.Config, port string) {
			c.HTTPAddr, c.AdvertiseHTTP, c.Token = "0.0.0.0:"+port, "192.0.2.10:4747", "tok"
			c.InsecurePlaintextHTTP = true
			c.HTTPAllowedHosts = []string{"drover.example.com"}
		}},
	}
	// want has one letter per bind above: y allowed, n refused.
	hosts := []struct{ host, want string }{
		{"127.0.0.1:{port}", "yyyyy"},
		{"127.0.0.1", "yyyyy"},
		{"127.9.9.9:80", "yyyyy"},
		{"localhost", "yyyyy"},
		{"localhost:{port}", "yyyyy"},
		{"LOCALHOST:{port}", "yyyyy"},
		{"localhost.", "yyyyy"},
		{"[::1]:{port}", "yyyyy"},
		{"[::1]", "yyyyy"},
		{"::1", "yyyyy"},
		{"[::ffff:127.0.0.1]:{port}", "yyyyy"},
		{"evil.example", "nnyyn"},
		{"evil.example:{port}", "nnyyn"},
		{"127.0.0.1.evil.example", "nnyyn"},
		{"localhost.evil.example:{port}", "nnyyn"},
		{"evil.localhost", "nnyyn"},
		{"0.0.0.0:{port}", "nnyyn"},
		{"10.0.0.1:{port}", "nnyyn"},
		{"192.0.2.10:4747", "nnyyy"},
		{"192.0.2.10", "nnyyy"},
		{"drover.example.com", "nyyyy"},
		{"Drover.Example.Com:8443", "nyyyy"},
		{"lb.example.com", "nyyyn"},
		{"drover.example.com.evil.example", "nnyyn"},
		{"", "nnyyn"},
	}
	for i, b := range binds {
		t.Run(b.name, func(t *testing.T) {
			_, port, _ := net.SplitHostPort(freeAddr(t))
			cfg := servertest.Config(t, "s0")
			cfg.BootstrapExpect = 1
			cfg.HTTPAddr = "127.0.0.1:" + port
			b.cfg(&cfg, port)
			servertest.Start(t, cfg)
			for _, h := range hosts {
				host := strings.ReplaceAll(h.host, "{port}", port)
				// Health needs no token and no leader: only the guard answers 403.
				code, _, body := rawHTTP(t, "127.0.0.1:"+port, "GET", "/v1/agent/health", host, nil, nil)
				allowed := code != http.StatusForbidden
				if want := h.want[i] == 'y'; allowed != want {
					t.Errorf("Host %q: %d %s, want allowed=%v", host, code, body, want)
				}
				if !allowed && !strings.Contains(string(body), "DNS rebinding protection") {
					t.Errorf("Host %q: refusal does not say why: %s", host, body)
				}
			}
		})
	}
}

func TestAllowedHostsConfig(t *testing.T) {
	cfg := servertest.Config(t, "s0")
	cfg.BootstrapExpect = 1
	if err := server.ParseConfigFile(&cfg, "server.hcl", []byte(`http_allowed_hosts = ["drover.example.com", "10.0.0.5"]`)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"drover.example.com", "10.0.0.5"}; !slices.Equal(cfg.HTTPAllowedHosts, want) {
		t.Fatalf("HTTPAllowedHosts = %q, want %q", cfg.HTTPAllowedHosts, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid allowed hosts: %v", err)
	}
	for _, bad := range []string{"https://drover.example.com/", "*.example.com", "", "drover.example.com/ui", "a b"} {
		cfg.HTTPAllowedHosts = []string{"ok.example.com", bad}
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "http_allowed_hosts") {
			t.Errorf("http_allowed_hosts %q: Validate = %v, want an error naming http_allowed_hosts", bad, err)
		}
	}
}

// TestBrowserGuardAndWebhooks: forges send webhooks with their own
// content types and through proxies that keep the public Host; the
// signature, not the guard, decides. A cross-site page still cannot post
// one.
func TestBrowserGuardAndWebhooks(t *testing.T) {
	const secret = "k"
	r := gittest.New(t)
	first := r.Commit("Add web", map[string]string{"jobs/web.hcl": gittest.Job("web", 1)})
	s := servertest.Single(t, withSource("apps", r.Dir, secretFile(t, secret)))
	waitSync(t, s.Client, "apps", "the first commit", applied(first))
	addr := s.HTTPAddr()
	ping := []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`)
	form := []byte("payload=" + url.QueryEscape(string(ping)))
	signed := func(body []byte, kv ...string) http.Header {
		return hdr(append([]string{gitsource.HeaderGitHubSignature, gitsource.SignatureHeader([]byte(secret), body)}, kv...)...)
	}
	var delivery atomic.Int64
	github := func(body []byte, kv ...string) http.Header {
		h := signed(body, kv...)
		h.Set(gitsource.HeaderGitHubEvent, "ping")
		h.Set(gitsource.HeaderGitHubDelivery, fmt.Sprint("d-", delivery.Add(1)))
		return h
	}
	for _, tc := range []browserCase{
		{name: "GitHub, JSON", method: "POST", path: "/v1/webhooks/github", header: github(ping, "Content-Type", "application/json"), body: ping, code: 200},
		{name: "GitHub, form-encoded", method: "POST", path: "/v1/webhooks/github", header: github(form, "Content-Type", "application/x-www-form-urlencoded"), body: form, code: 200},
		{name: "GitHub through a tunnel that keeps its Host", method: "POST", path: "/v1/webhooks/github", host: "abc123.tunnel.example",
			header: github(ping, "Content-Type", "application/json"), body: ping, code: 200},
		{name: "generic, no Content-Type", method: "POST", path: "/v1/webhooks/apps", header: signed([]byte(`{}`)), body: []byte(`{}`), code: 202},
		{name: "generic, text/plain", method: "POST", path: "/v1/webhooks/apps", header: signed([]byte(`{}`), "Content-Type", "text/plain"), body: []byte(`{}`), code: 202},
		{name: "unsigned, text/plain: the signature refuses it", method: "POST", path: "/v1/webhooks/apps", header: hdr("Content-Type", "text/plain"), body: []byte(`{}`), code: 401},
		{name: "from a cross-site page", method: "POST", path: "/v1/webhooks/apps",
			header: signed([]byte(`{}`), "Content-Type", "text/plain", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"), body: []byte(`{}`), code: 403, msg: "cross-origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, e, _ := tc.send(t, addr)
			if code != tc.code || !strings.Contains(e.Error, tc.msg) {
				t.Fatalf("%s %s = %d %q, want %d", tc.method, tc.path, code, e.Error, tc.code)
			}
		})
	}
}

// TestForwardedWritesPassTheGuard: a follower forwards the CLI's writes
// to the leader, whose guard lets them through; the attacks are refused
// by the follower already.
func TestForwardedWritesPassTheGuard(t *testing.T) {
	servers := servertest.Cluster(t, 2)
	var follower *servertest.Server
	for _, s := range servers {
		if !s.State().IsLeader() {
			follower = s
		}
	}
	if follower == nil {
		t.Fatal("no follower")
	}
	if _, err := follower.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("fwd", 1, ""))}); err != nil {
		t.Fatalf("register through a follower: %v", err)
	}
	addr := follower.HTTPAddr()
	_, port, _ := net.SplitHostPort(addr)
	evil := mustJSON(t, api.JobRegisterRequest{Job: parseJob(t, webJob("evil", 1, ""))})
	for _, tc := range []browserCase{
		{name: "cross-site text/plain POST", method: "POST", path: "/v1/jobs",
			header: hdr("Content-Type", "text/plain", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"), body: evil, code: 403},
		{name: "DNS rebinding", method: "POST", path: "/v1/jobs", host: "evil.example:" + port,
			header: hdr("Content-Type", "application/json", "Origin", "http://evil.example:"+port, "Sec-Fetch-Site", "same-origin"), body: evil, code: 403},
		{name: "text/plain", method: "POST", path: "/v1/jobs", header: hdr("Content-Type", "text/plain"), body: evil, code: 415},
	} {
		if code, e, _ := tc.send(t, addr); code != tc.code {
			t.Errorf("%s to the follower = %d %q, want %d", tc.name, code, e.Error, tc.code)
		}
	}
	if got := jobIDs(t, servers[0].Client); !slices.Equal(got, []string{"fwd"}) {
		t.Fatalf("jobs = %v, want [fwd]", got)
	}
}

// FuzzBrowserGuard sends POST /v1/jobs with arbitrary Host, Origin,
// Sec-Fetch-Site and Content-Type to a real server. Whatever they are,
// the answer is never a 5xx or a dropped connection; a job is stored only
// when the server answered 200; and it answers 200 only to a loopback
// Host, a same-origin (or no) Origin and a JSON body.
func FuzzBrowserGuard(f *testing.F) {
	s := servertest.Single(f)
	addr := s.HTTPAddr()
	_, port, _ := net.SplitHostPort(addr)
	f.Add(false, addr, "", "", "application/json")
	f.Add(true, addr, "http://"+addr, "same-origin", "application/json; charset=utf-8")
	f.Add(false, "localhost:"+port, "http://localhost:"+port, "", "application/json")
	f.Add(false, "[::1]:"+port, "", "none", "APPLICATION/JSON")
	f.Add(false, addr, "https://evil.example", "cross-site", "text/plain;charset=UTF-8")
	f.Add(false, "evil.example:"+port, "http://evil.example:"+port, "same-origin", "application/json")
	f.Add(false, addr, "null", "", "application/json")
	f.Add(true, addr, "", "same-site", "application/json")
	f.Add(false, addr, "", "", "application/x-www-form-urlencoded")
	f.Add(false, "", "", "", "application/json")
	f.Add(false, "127.0.0.1.nip.io:"+port, "", "", "application/json")
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, put bool, host, origin, fetchSite, ct string) {
		for _, v := range []string{host, origin, fetchSite, ct} {
			if strings.ContainsAny(v, "\r\n") {
				t.Skip("a line break would change the request, not a header")
			}
		}
		id := fmt.Sprintf("fuzz-%d", n.Add(1))
		method := "POST"
		if put {
			method = "PUT"
		}
		h := http.Header{}
		for k, v := range map[string]string{"Origin": origin, "Sec-Fetch-Site": fetchSite, "Content-Type": ct} {
			if v != "" {
				h.Set(k, v)
			}
		}
		body := mustJSON(t, api.JobRegisterRequest{Job: parseJob(t, webJob(id, 1, ""))})
		code, _, data := rawHTTP(t, addr, method, "/v1/jobs", host, h, body)
		if code >= 500 {
			t.Fatalf("Host %q Origin %q Sec-Fetch-Site %q Content-Type %q = %d %s", host, origin, fetchSite, ct, code, data)
		}
		_, _, err := s.Client.Jobs().Info(t.Context(), id, nil)
		stored := err == nil
		if err != nil && !api.IsNotFound(err) {
			t.Fatalf("job info: %v", err)
		}
		if stored != (code == http.StatusOK) {
			t.Fatalf("answered %d %s but stored = %v", code, data, stored)
		}
		if !stored {
			return
		}
		if !oracleLoopbackHost(host) {
			t.Errorf("stored with Host %q", host)
		}
		fs := strings.TrimSpace(fetchSite)
		o := strings.TrimSpace(origin)
		if fs != "" && fs != "same-origin" && fs != "none" {
			t.Errorf("stored with Sec-Fetch-Site %q", fetchSite)
		}
		if u, err := url.Parse(o); fs == "" && o != "" && (err != nil || u.Host != strings.TrimSpace(host)) {
			t.Errorf("stored with Origin %q for Host %q", origin, host)
		}
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			t.Errorf("stored with Content-Type %q", ct)
		}
	})
}

// oracleLoopbackHost is the Host rule of a loopback bind, written for the
// test: localhost or a loopback IP, any port.
func oracleLoopbackHost(host string) bool {
	h := strings.ToLower(strings.TrimSpace(host))
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(h, "["), "."), "]")
	ip := net.ParseIP(h)
	return h == "localhost" || ip != nil && ip.IsLoopback()
}
