package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

func TestLogTailAcrossRotatedFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("web.stdout.3", "a\nb\n")
	write("web.stdout.4", "c\nd\ne")
	cases := []struct {
		lines int
		want  string
	}{
		{-1, "a\nb\nc\nd\ne"},
		{0, ""},
		{1, "e"},
		{2, "d\ne"},
		{4, "b\nc\nd\ne"},
		{99, "a\nb\nc\nd\ne"},
	}
	for _, c := range cases {
		tl := &logTail{dir: dir, name: "web.stdout"}
		if err := tl.start(c.lines); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := tl.stream(context.Background(), &b, false, func() bool { return true }); err != nil {
			t.Fatal(err)
		}
		if b.String() != c.want {
			t.Errorf("lines=%d: %q, want %q", c.lines, b.String(), c.want)
		}
	}
	// A trailing newline ends the last line.
	write("web.stdout.4", "c\nd\n")
	tl := &logTail{dir: dir, name: "web.stdout"}
	_ = tl.start(1)
	var b bytes.Buffer
	_ = tl.stream(context.Background(), &b, false, func() bool { return true })
	if b.String() != "d\n" {
		t.Errorf("last line = %q", b.String())
	}
}

func TestPlanAllocs(t *testing.T) {
	a := func(id string, idx uint64, desired, client string) *cluster.Allocation {
		return &cluster.Allocation{ID: id, ModifyIndex: idx, DesiredStatus: desired, ClientStatus: client}
	}
	server := []*cluster.Allocation{
		a("new", 5, "run", "pending"),
		a("new-but-stopped", 5, "stop", "pending"),
		a("same", 3, "run", "running"),
		a("changed", 9, "stop", "running"),
	}
	p := planAllocs(server, map[string]uint64{"same": 3, "changed": 4, "gone": 2})
	ids := func(as []*cluster.Allocation) []string {
		var out []string
		for _, x := range as {
			out = append(out, x.ID)
		}
		return out
	}
	sort.Strings(p.Remove)
	if !reflect.DeepEqual(ids(p.Add), []string{"new"}) || !reflect.DeepEqual(ids(p.Update), []string{"changed"}) || !reflect.DeepEqual(p.Remove, []string{"gone"}) {
		t.Errorf("plan = add %v update %v remove %v", ids(p.Add), ids(p.Update), p.Remove)
	}
}

// TestLogsRefuseDNSRebinding: a page whose name re-resolves to 127.0.0.1
// is same-origin to the browser and could read a token-less agent's task
// logs; the agent refuses its Host, while the CLI's request (to the
// address the node registered) still reads them.
func TestLogsRefuseDNSRebinding(t *testing.T) {
	srv := servertest.Single(t)
	ta := startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	cleanupTasks(t, srv, "logjob")
	submit(t, srv.Client, `
job "logjob" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo secret-line; exec sleep 1000"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}`)
	alloc := waitAllocs(t, srv.Client, "logjob", "the allocation to run", allStatus(cluster.AllocClientRunning, 1))[0]
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	node, _, err := srv.Client.Nodes().Info(ctx, ta.NodeID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(node.HTTPAddr, ":")
	path := "/v1/client/fs/logs/" + url.PathEscape(alloc.ID) + "/t?type=stdout"

	get := func(query, host string, header ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+node.HTTPAddr+path+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET logs (Host %q): %v", host, err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	// reads follows the log until the task's line arrives.
	reads := func(host string, header ...string) {
		t.Helper()
		resp := get("&follow=true", host, header...)
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("Host %q: %d %s, want the logs", host, resp.StatusCode, b)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if sc.Text() == "secret-line" {
				return
			}
		}
		t.Fatalf("Host %q: the log ended without the task's line: %v", host, sc.Err())
	}

	// The CLI (drover alloc logs) and curl on loopback names.
	reads("")
	reads("localhost:"+port, "Sec-Fetch-Site", "none")
	reads("[::1]:" + port)

	for _, tc := range []struct {
		name, host string
		header     []string
	}{
		{"DNS rebinding", "evil.example:" + port, []string{"Sec-Fetch-Site", "same-origin", "Origin", "http://evil.example:" + port}},
		{"DNS rebinding without port", "evil.example", nil},
		{"name that spells a loopback IP", "127.0.0.1.evil.example:" + port, nil},
		{"unspecified IP", "0.0.0.0:" + port, nil},
	} {
		resp := get("", tc.host, tc.header...)
		var e api.Error
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &e); err != nil || resp.StatusCode != http.StatusForbidden ||
			!strings.Contains(e.Error, "DNS rebinding protection: Host") || !strings.Contains(e.Error, "use http://"+ta.HTTPAddr()) {
			t.Errorf("%s: %d %s, want 403 DNS rebinding protection", tc.name, resp.StatusCode, b)
		}
		if strings.Contains(string(b), "secret-line") {
			t.Errorf("%s: the log leaked: %s", tc.name, b)
		}
	}
}

// TestGuardConfig: on loopback the agent answers loopback names and its
// bound address only; bound beyond loopback (which requires a token) any
// Host, as a server without http_allowed_hosts.
func TestGuardConfig(t *testing.T) {
	for _, tc := range []struct {
		bind, addr string
		want       []string
	}{
		{"127.0.0.1:0", "127.0.0.1:4100", []string{"127.0.0.1:0"}},
		{"localhost:4100", "127.0.0.1:4100", []string{"localhost:4100"}},
		{"10.0.0.5:4100", "10.0.0.5:4100", []string{"10.0.0.5:4100", "*"}},
		{"0.0.0.0:0", "[::]:4100", []string{"0.0.0.0:0", "*"}},
	} {
		gc := guardConfig(Config{HTTPAddr: tc.bind}, tc.addr)
		if gc.Addr != tc.addr || !slices.Equal(gc.Hosts, tc.want) {
			t.Errorf("bind %s: Addr %q Hosts %q, want %q %q", tc.bind, gc.Addr, gc.Hosts, tc.addr, tc.want)
		}
	}
}
