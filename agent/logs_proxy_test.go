package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// logLoopJob prints a numbered line every 200 ms, on stdout and stderr.
const logLoopJob = `
job "proxylog" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo first-line; echo err-line >&2; i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}`

// proxyGet asks a server for task logs (server/alloc_logs.go).
func proxyGet(t *testing.T, ctx context.Context, srv *servertest.Server, path, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+srv.HTTPAddr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readUntil(t *testing.T, resp *http.Response, want func(string) bool) []string {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%d %s, want the logs", resp.StatusCode, b)
	}
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if want(sc.Text()) {
			return lines
		}
	}
	t.Fatalf("the log ended (%v) before the expected line; got %q", sc.Err(), lines)
	return nil
}

// TestServerProxiesTaskLogs: a server serves a task's logs from the
// agent that runs it (Nomad's /v1/client/fs/logs/{alloc}), whole or
// followed, stdout or stderr, and refuses bad parameters itself.
func TestServerProxiesTaskLogs(t *testing.T) {
	srv := servertest.Single(t)
	startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	cleanupTasks(t, srv, "proxylog")
	submit(t, srv.Client, logLoopJob)
	alloc := waitAllocs(t, srv.Client, "proxylog", "the allocation to run", allStatus(cluster.AllocClientRunning, 1))[0]
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	base := "/v1/client/fs/logs/" + url.PathEscape(alloc.ID)

	// The whole log, through the server; the task is named by ?task= or
	// left out (the group has one task), or in the path as on the agent.
	for _, path := range []string{base + "?task=t&plain=true&origin=start&offset=0", base, base + "/t?type=stdout"} {
		resp := proxyGet(t, ctx, srv, path, "")
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("%s: Content-Type %q, want text/plain", path, ct)
		}
		readUntil(t, resp, func(l string) bool { return l == "first-line" })
	}
	readUntil(t, proxyGet(t, ctx, srv, base+"?task=t&type=stderr", ""), func(l string) bool { return l == "err-line" })

	// Followed from the end: lines the task prints later arrive while the
	// response is open.
	fctx, fcancel := context.WithCancel(ctx)
	resp := proxyGet(t, fctx, srv, base+"?task=t&follow=true&origin=end&offset=0", "")
	var first int
	lines := readUntil(t, resp, func(l string) bool {
		var n int
		if _, err := fmt.Sscanf(l, "tick-%d", &n); err != nil {
			return false
		}
		if first == 0 {
			first = n
		}
		return n >= first+3
	})
	fcancel()
	if first == 0 || strings.Contains(strings.Join(lines, "\n"), "first-line") {
		t.Errorf("origin=end followed %q, want only new tick lines", lines)
	}

	for _, tc := range []struct{ path, want string }{
		{base + "?task=t&type=stdin", "want stdout or stderr"},
		{base + "?task=t&origin=end&offset=100", "lines=N"},
		{base + "?task=t&lines=-1", "want a number"},
		{base + "?task=nope", `no task "nope"`},
		{"/v1/client/fs/logs/00000000-0000-0000-0000-000000000000?task=t", "not found"},
	} {
		resp := proxyGet(t, ctx, srv, tc.path, "")
		var e api.Error
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode < 400 || json.Unmarshal(b, &e) != nil || !strings.Contains(e.Error, tc.want) {
			t.Errorf("%s: %d %s, want an error saying %q", tc.path, resp.StatusCode, b, tc.want)
		}
	}
}

// TestServerLogsProxyACL: with ACLs and an agent joined by the client
// join token (HTTPS with its client certificate, no API token), the
// server reaches the agent with its own certificate but the caller's
// token decides: without read-logs the server refuses (403), and with it
// the agent, asking the servers with that same token, serves the log.
func TestServerLogsProxyACL(t *testing.T) {
	const mgmt = "b1946ac9-2f0e-4fd6-9d3b-7c0d5e6e7f01"
	srv := servertest.Single(t, func(c *server.Config) {
		c.ACL = true
		c.Token = mgmt
	})
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	jt, err := srv.Client.Operator().JoinToken(ctx, "client")
	if err != nil {
		t.Fatalf("client join token: %v", err)
	}
	cfg := agentConfig(t, srv, t.TempDir(), "n1")
	cfg.JoinToken = jt.Token
	ta := startAgent(t, cfg)
	cleanupTasks(t, srv, "proxylog")
	submit(t, srv.Client, logLoopJob)
	alloc := waitAllocs(t, srv.Client, "proxylog", "the allocation to run", allStatus(cluster.AllocClientRunning, 1))[0]
	node, _, err := srv.Client.Nodes().Info(ctx, ta.NodeID(), nil)
	if err != nil || !strings.HasPrefix(node.HTTPAddr, "https://") {
		t.Fatalf("node %+v, %v: want an agent serving HTTPS", node, err)
	}
	token := func(name string, caps ...string) string {
		rules := fmt.Sprintf("namespace \"default\" {\n  capabilities = [\"%s\"]\n}\n", strings.Join(caps, `", "`))
		if err := srv.Client.ACL().ApplyPolicy(ctx, &api.ACLPolicy{Name: name, Rules: rules}); err != nil {
			t.Fatalf("policy %s: %v", name, err)
		}
		tok, err := srv.Client.ACL().CreateToken(ctx, &api.ACLTokenCreateRequest{Name: name, Policies: []string{name}})
		if err != nil {
			t.Fatalf("token %s: %v", name, err)
		}
		return tok.SecretID
	}
	reader, logReader := token("reader", "read-job"), token("log-reader", "read-job", "read-logs")
	// read-logs alone passes the server's check; the agent then asks the
	// servers whether this token may read the allocation (read-job): it
	// may not, so the agent refuses. The server lent it nothing.
	logsOnly := token("logs-only", "read-logs")
	path := "/v1/client/fs/logs/" + url.PathEscape(alloc.ID) + "?task=t"

	readUntil(t, proxyGet(t, ctx, srv, path, logReader), func(l string) bool { return l == "first-line" })
	for _, tc := range []struct {
		name, token string
		code        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"token without read-logs", reader, http.StatusForbidden},
		{"unknown token", "5d41402a-bc4b-4a76-b971-9d911017c592", http.StatusForbidden},
		{"read-logs without read-job (the agent decides)", logsOnly, http.StatusForbidden},
	} {
		resp := proxyGet(t, ctx, srv, path, tc.token)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.code && !(tc.code == http.StatusForbidden && resp.StatusCode == http.StatusUnauthorized) {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, b, tc.code)
		}
		if tc.token == logsOnly && !strings.Contains(string(b), "the servers refused") {
			t.Errorf("%s: %s, want the agent's refusal", tc.name, b)
		}
		if strings.Contains(string(b), "first-line") {
			t.Errorf("%s: the log leaked: %s", tc.name, b)
		}
	}
}
