package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
)

// TestDevRefusesBrowserAttacks starts the real drover dev (token-less, on
// loopback) and sends it what a web page can make a browser send: a
// cross-site text/plain POST of a job, the same through DNS rebinding,
// and a foreign Origin. Each is refused before anything is stored, and
// the CLI still works.
func TestDevRefusesBrowserAttacks(t *testing.T) {
	dev := startDevCluster(t)
	_, port, _ := net.SplitHostPort(dev.addr)

	// What the page would post: a job that runs a shell command.
	job := []byte(`{"job":{"id":"pwned","datacenters":["*"],"groups":[{"name":"g","count":1,"tasks":[{"name":"t","driver":"raw_exec",` +
		`"config":{"command":"/bin/sh","args":["-c","touch /tmp/pwned"]},"resources":{"cpu":10,"memory_mb":10}}]}]}}`)
	rebound := "evil.example:" + port
	for _, a := range []struct {
		name   string
		host   string
		header map[string]string
		code   int
		msg    string
	}{
		{"cross-site text/plain POST", "", map[string]string{
			"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors",
		}, http.StatusForbidden, "cross-origin"},
		{"DNS rebinding", rebound, map[string]string{
			"Content-Type": "text/plain;charset=UTF-8", "Origin": "http://" + rebound, "Sec-Fetch-Site": "same-origin",
		}, http.StatusForbidden, "DNS rebinding protection: Host \"" + rebound + "\" is not this server; use http://" + dev.addr},
		{"foreign Origin", "", map[string]string{
			"Content-Type": "application/json", "Origin": "https://evil.example",
		}, http.StatusForbidden, "cross-origin"},
		{"text/plain without Origin", "", map[string]string{
			"Content-Type": "text/plain",
		}, http.StatusUnsupportedMediaType, "send Content-Type: application/json"},
	} {
		req, err := http.NewRequest(http.MethodPost, "http://"+dev.addr+"/v1/jobs", bytes.NewReader(job))
		if err != nil {
			t.Fatal(err)
		}
		if a.host != "" {
			req.Host = a.host
		}
		for k, v := range a.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", a.name, err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e api.Error
		_ = json.Unmarshal(data, &e)
		if resp.StatusCode != a.code || !strings.Contains(e.Error, a.msg) {
			t.Errorf("%s: %d %s, want %d containing %q", a.name, resp.StatusCode, data, a.code, a.msg)
		}
	}

	dir := t.TempDir()
	cli := func(args ...string) result {
		t.Helper()
		return dev.cli(t, dir, args...)
	}
	jobs := func() []string {
		t.Helper()
		r := cli("job", "status", "-json")
		var list []api.JobListStub
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil {
			t.Fatalf("job status -json: %s", r)
		}
		var ids []string
		for _, j := range list {
			ids = append(ids, j.ID)
		}
		return ids
	}
	if ids := jobs(); len(ids) != 0 {
		t.Fatalf("jobs after the attacks = %v, want none", ids)
	}

	// The CLI is not a browser: it still submits.
	writeFile(t, filepath.Join(dir, "hello.nomad.hcl"), `
job "hello" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      resources {
        cpu    = 10
        memory = 16
      }
    }
  }
}`)
	if r := cli("job", "run", "-detach", "hello.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run: %s", r)
	}
	if ids := jobs(); len(ids) != 1 || ids[0] != "hello" {
		t.Fatalf("jobs = %v, want [hello]", ids)
	}
}

// TestServerAllowedHostsFlag: -http-allowed-hosts takes comma-separated
// names, may repeat, and overrides http_allowed_hosts of the config file.
func TestServerAllowedHostsFlag(t *testing.T) {
	file := filepath.Join(t.TempDir(), "server.hcl")
	writeFile(t, file, `http_allowed_hosts = ["file.example"]`+"\n")
	opts := serverOptions{configFile: file, allowedHosts: listFlag{"a.example, b.example", "c.example"}}
	for _, tc := range []struct {
		set  map[string]bool
		want []string
	}{
		{map[string]bool{}, []string{"file.example"}},
		{map[string]bool{"http-allowed-hosts": true}, []string{"a.example", "b.example", "c.example"}},
	} {
		opts.set = tc.set
		cfg, err := serverConfig(opts, stdio{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cfg.HTTPAllowedHosts, tc.want) {
			t.Errorf("flags %v: HTTPAllowedHosts = %q, want %q", tc.set, cfg.HTTPAllowedHosts, tc.want)
		}
	}
}
