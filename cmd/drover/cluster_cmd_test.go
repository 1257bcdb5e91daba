package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

// The cluster commands called in-process, as `drover` calls them: the
// run functions with buffers for stdio and an environment of the test's
// making, against a real in-process server where one is needed.

type capture struct {
	out, err bytes.Buffer
}

func (c *capture) stdio(env ...string) stdio {
	return stdio{in: strings.NewReader(""), out: &c.out, err: &c.err, env: append([]string{"NO_COLOR=1"}, env...)}
}

func TestRelTime(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s ago"},
		{-3 * time.Second, "0s ago"}, // a client clock slightly ahead
		{1500 * time.Millisecond, "1s ago"},
		{59 * time.Second, "59s ago"},
		{time.Minute, "1m ago"},
		{5*time.Minute + 12*time.Second, "5m12s ago"},
		{3 * time.Hour, "3h ago"},
		{3*time.Hour + 4*time.Minute + 59*time.Second, "3h4m ago"},
		{49 * time.Hour, "2d1h ago"},
		{400 * 24 * time.Hour, "400d ago"},
	} {
		if got := relTime(renderNow.Add(-tc.d), renderNow); got != tc.want {
			t.Errorf("relTime(now-%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if got := relTime(time.Time{}, renderNow); got != "N/A" {
		t.Errorf("relTime(zero) = %q, want N/A", got)
	}
}

func TestAPIErrorText(t *testing.T) {
	addr := "http://127.0.0.1:4747"
	refused := &url.Error{Op: "Get", URL: addr + "/v1/jobs", Err: &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("connect: connection refused")}}
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"unreachable", fmt.Errorf("api: GET %s/v1/jobs: %w", addr, refused),
			[]string{"cannot reach the Drover server at " + addr + ": dial tcp: connect: connection refused.", "Is `drover server` (or `drover dev`) running? Set DROVER_ADDR or -address."}},
		{"no token", &api.StatusError{Code: 401, Message: "missing token"}, []string{"refused the request (401: missing token)", "set DROVER_TOKEN or -token"}},
		{"wrong token", &api.StatusError{Code: 403, Message: "invalid token"}, []string{"(403: invalid token)", "set DROVER_TOKEN or -token"}},
		{"no client certificate", &api.StatusError{Code: 401, Message: "this API requires a client certificate of the cluster CA over HTTPS: set DROVER_CACERT"}, []string{"(401: this API requires a client certificate", "set DROVER_CACERT"}},
		{"no leader", &api.StatusError{Code: 503, Message: "no leader"}, []string{"cannot answer now (no leader); try again"}},
		{"conflict", &api.StatusError{Code: 409, Message: `job "web" has modify index 8, not the check_index 9`}, []string{`job "web" has modify index 8, not the check_index 9`}},
		{"bare status", &api.StatusError{Code: 500}, []string{"Internal Server Error"}},
		{"interrupted", fmt.Errorf("monitor: %w", context.Canceled), []string{"interrupted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := apiErrorText(tc.err, addr)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("apiErrorText = %q, want it to contain %q", got, w)
				}
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"web.nomad.hcl":   "web.nomad.hcl",
		"jobs/a b.hcl":    "'jobs/a b.hcl'",
		"it's":            `'it'\''s'`,
		"":                "''",
		"image=nginx:1.2": "image=nginx:1.2",
		"$HOME":           "'$HOME'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClientOptionsPrecedence(t *testing.T) {
	var c capture
	io := c.stdio("DROVER_ADDR=http://env:1", "DROVER_TOKEN=envtok")
	cfg := clientOptions{}.config(io)
	if cfg.Address != "http://env:1" || cfg.Token != "envtok" {
		t.Errorf("from the environment: %+v", cfg)
	}
	cfg = clientOptions{address: "http://flag:2", token: "flagtok"}.config(io)
	if cfg.Address != "http://flag:2" || cfg.Token != "flagtok" {
		t.Errorf("flags must win over the environment: %+v", cfg)
	}
	cfg = clientOptions{}.config(c.stdio())
	if cfg.Address != "http://"+api.DefaultAddr || cfg.Token != "" {
		t.Errorf("defaults: %+v", cfg)
	}
	// --help must not print a token from the environment as a default.
	c = capture{}
	if code := run(context.Background(), []string{"job", "status", "--help"}, c.stdio("DROVER_TOKEN=s3cret")); code != 0 || strings.Contains(c.out.String(), "s3cret") {
		t.Errorf("job status --help: exit %d, output leaks the token or fails:\n%s", code, c.out.String())
	}
}

// TestClusterCommandArgs covers what is decided before any request.
func TestClusterCommandArgs(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.nomad.hcl")
	writeFile(t, bad, "job \"bad\" {\n  group \"g\" {\n    cuont = 2\n  }\n}\n")
	// Nothing listens there: any request would fail with "cannot reach".
	dead := "DROVER_ADDR=http://" + freeAddr(t)
	for _, tc := range []struct {
		args     []string
		code     int
		inStderr string
	}{
		{[]string{"job"}, 1, "Usage: drover job <subcommand>"},
		{[]string{"job", "--help"}, 0, ""},
		{[]string{"job", "rnu"}, 1, `did you mean "run"?`},
		{[]string{"job", "run"}, 1, "give exactly one job file"},
		{[]string{"job", "run", "a.hcl", "b.hcl"}, 1, "give exactly one job file"},
		{[]string{"job", "run", filepath.Join(dir, "missing.hcl")}, 1, "give the path of a job file"},
		{[]string{"job", "run", bad}, 1, "bad.nomad.hcl:3:5"},
		{[]string{"job", "run", "-check-index", "-1", bad}, 1, "want a non-negative integer"},
		{[]string{"job", "plan", bad}, 1, "nothing was sent to the server"},
		{[]string{"job", "status", "a", "b"}, 1, "at most one job"},
		{[]string{"job", "stop"}, 1, "exactly one job"},
		{[]string{"node", "status", "a", "b"}, 1, "at most one node"},
		{[]string{"alloc", "status"}, 1, "exactly one allocation"},
		{[]string{"alloc", "status", "-address", "ftp://x", "abc"}, 1, "Set DROVER_ADDR or -address"},
		{[]string{"job", "run", "-var", "oops", bad}, 1, "want name=value"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var c capture
			code := run(context.Background(), tc.args, c.stdio(dead))
			if code != tc.code || !strings.Contains(c.err.String(), tc.inStderr) {
				t.Errorf("exit %d, want %d with %q in stderr\nstderr: %s", code, tc.code, tc.inStderr, c.err.String())
			}
			if strings.Contains(c.err.String(), "cannot reach") {
				t.Errorf("a request was made:\n%s", c.err.String())
			}
		})
	}
}

// TestJobRunAndStopInProcess runs and stops a job against a real
// in-process server, with the -json and -detach variants a script uses.
func TestJobRunAndStopInProcess(t *testing.T) {
	s := servertest.Single(t)
	ctx := context.Background()
	for i := range 2 {
		n := &cluster.Node{ID: fmt.Sprintf("%d0000000-0000-4000-8000-000000000000", i+1), Name: fmt.Sprintf("n%d", i+1), Datacenter: "dc1",
			Attributes: map[string]string{"kernel.name": "linux"},
			Resources:  cluster.NodeResources{CPU: 4000, MemoryMB: 8192},
			Drivers:    map[string]cluster.DriverInfo{"exec": {Detected: true, Healthy: true}}}
		if _, err := s.Client.Nodes().Register(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "web.nomad.hcl")
	writeFile(t, path, spreadJob("web", 2, ""))
	clock := func() time.Time { return renderNow }
	addr := clientOptions{address: s.Client.Address()}

	var c capture
	code := jobRun(ctx, jobRunOptions{client: addr, file: jobFileOptions{path: path}, json: true, clock: clock}, c.stdio())
	if code != exitOK {
		t.Fatalf("job run -json: exit %d\nstderr: %s", code, c.err.String())
	}
	var res struct {
		Register    api.JobRegisterResponse `json:"register"`
		Evaluation  *cluster.Evaluation     `json:"evaluation"`
		Allocations []*cluster.Allocation   `json:"allocations"`
	}
	if err := json.Unmarshal(c.out.Bytes(), &res); err != nil {
		t.Fatalf("job run -json: stdout is not one JSON document: %v\n%s", err, c.out.String())
	}
	if res.Evaluation == nil || res.Evaluation.Status != cluster.EvalStatusComplete || len(res.Allocations) != 2 || res.Register.EvalID != res.Evaluation.ID {
		t.Errorf("job run -json = %+v, want the complete evaluation and its 2 allocations", res)
	}

	// The same file again changes nothing and creates no evaluation.
	c = capture{}
	if code := jobRun(ctx, jobRunOptions{client: addr, file: jobFileOptions{path: path}, clock: clock, evalOnly: true}, c.stdio()); code != exitOK ||
		!strings.Contains(c.out.String(), "Job unchanged: nothing to do") {
		t.Errorf("job run again: exit %d\nstdout: %s\nstderr: %s", code, c.out.String(), c.err.String())
	}

	// A changed job with -detach returns at once with the evaluation ID.
	writeFile(t, path, spreadJob("web", 3, ""))
	c = capture{}
	if code := jobRun(ctx, jobRunOptions{client: addr, file: jobFileOptions{path: path}, detach: true, clock: clock}, c.stdio()); code != exitOK ||
		!strings.Contains(c.out.String(), "Evaluation ID: ") || strings.Contains(c.out.String(), "Monitoring") {
		t.Errorf("job run -detach: exit %d\nstdout: %s\nstderr: %s", code, c.out.String(), c.err.String())
	}

	// Stop follows its evaluation; every line carries the fixed clock.
	c = capture{}
	if code := jobStop(ctx, jobStopOptions{jobCommand: jobCommand{client: addr, jobID: "web", clock: clock}}, c.stdio()); code != exitOK {
		t.Fatalf("job stop: exit %d\nstderr: %s", code, c.err.String())
	}
	if !strings.Contains(c.out.String(), `==> 2026-03-14T15:09:26Z: Evaluation "`) || !strings.Contains(c.out.String(), `finished with status "complete"`) {
		t.Errorf("job stop output:\n%s", c.out.String())
	}
	allocs, _, err := s.Client.Jobs().Allocations(ctx, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range allocs {
		if a.DesiredStatus != cluster.AllocDesiredStop {
			t.Errorf("after job stop, %s is %q, want stop", a.Name, a.DesiredStatus)
		}
	}

	// Stopping an unknown job says how to list jobs.
	c = capture{}
	if code := jobStop(ctx, jobStopOptions{jobCommand: jobCommand{client: addr, jobID: "nope", clock: clock}}, c.stdio()); code != exitError ||
		!strings.Contains(c.err.String(), "run 'drover job status' to list jobs") {
		t.Errorf("job stop nope: exit %d\nstderr: %s", code, c.err.String())
	}

	// A job read from stdin.
	c = capture{}
	io := c.stdio()
	io.in = strings.NewReader(spreadJob("api", 1, ""))
	if code := jobRun(ctx, jobRunOptions{client: addr, file: jobFileOptions{path: "-"}, clock: clock, evalOnly: true}, io); code != exitOK {
		t.Errorf("job run -: exit %d\nstderr: %s", code, c.err.String())
	}
}
