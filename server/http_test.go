package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

func TestCheckIndexConflictChangesNothing(t *testing.T) {
	s := servertest.Single(t)
	c := s.Client
	zero := uint64(0)
	first, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 1, "")), CheckIndex: &zero})
	if err != nil {
		t.Fatalf("create with check_index 0: %v", err)
	}
	// check_index 0 means "must not exist": a second create conflicts.
	_, err = c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 2, "")), CheckIndex: &zero})
	if !api.IsConflict(err) {
		t.Fatalf("second create = %v, want 409", err)
	}
	stale := first.JobModifyIndex - 1
	_, err = c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 3, "")), CheckIndex: &stale})
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusConflict || !strings.Contains(se.Message, "check_index") {
		t.Fatalf("stale check_index = %v, want 409 naming check_index", err)
	}
	versions, _, err := c.Jobs().Versions(ctxT(t), "web", nil)
	if err != nil || len(versions) != 1 || versions[0].Spec.Groups[0].Count != 1 {
		t.Fatalf("versions after conflicts = %d, %v", len(versions), err)
	}
	// The current index succeeds.
	cur := first.JobModifyIndex
	next, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 3, "")), CheckIndex: &cur})
	if err != nil || next.Version != 1 {
		t.Fatalf("register with current check_index = %+v, %v", next, err)
	}
	// The plan endpoint hands out the index to check against.
	plan, err := c.Jobs().Plan(ctxT(t), parseJob(t, webJob("web", 4, "")))
	if err != nil || plan.JobModifyIndex != next.JobModifyIndex || plan.Diff.Summary.Update != 1 {
		t.Fatalf("plan = %+v, %v", plan, err)
	}
}

func TestInvalidRequestsAnswer4xx(t *testing.T) {
	s := servertest.Single(t, func(c *server.Config) { c.MaxBodyBytes = 64 << 10 })
	base := "http://" + s.HTTPAddr()

	// A job that breaks the model answers 400 with one diagnostic per
	// problem, naming the field.
	job := parseJob(t, webJob("web", 1, ""))
	job.Groups[0].Tasks[0].Driver = "podman"
	job.Groups[0].Tasks[0].Resources.MemoryMB = 0
	job.Groups[0].Count = -1
	body, _ := json.Marshal(api.JobRegisterRequest{Job: job})
	code, e := rawRequest(t, "POST", base+"/v1/jobs", "", body)
	if code != http.StatusBadRequest || len(e.Diagnostics) != 3 {
		t.Fatalf("invalid job = %d %+v", code, e)
	}
	want := []string{`job.group["web"].count`, `job.group["web"].task["server"].driver: "podman" is not supported`, `task["server"].resources.memory`}
	for _, w := range want {
		found := false
		for _, d := range e.Diagnostics {
			found = found || strings.Contains(d.Summary, w)
		}
		if !found {
			t.Errorf("no diagnostic mentions %q: %+v", w, e.Diagnostics)
		}
	}
	// Through the client the diagnostics come back in the StatusError.
	_, err := s.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: job})
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != 400 || len(se.Diagnostics) != 3 {
		t.Fatalf("client error = %v", err)
	}

	cases := []struct {
		name, method, path string
		body               []byte
		code               int
		msg                string
	}{
		{"malformed JSON", "POST", "/v1/jobs", []byte(`{"job": {`), 400, "malformed JSON"},
		{"wrong JSON type", "POST", "/v1/jobs", []byte(`{"job": 7}`), 400, "malformed JSON"},
		{"empty body", "POST", "/v1/jobs", nil, 400, "empty"},
		{"no job", "POST", "/v1/jobs", []byte(`{}`), 400, `no "job"`},
		{"two values", "POST", "/v1/nodes", []byte(`{} {}`), 400, "more than one"},
		{"oversized body", "POST", "/v1/jobs", bytes.Repeat([]byte(" "), 65<<10), 413, "larger than the limit"},
		{"oversized streamed body", "POST", "/v1/jobs", append([]byte(`{"job":{"id":"`), bytes.Repeat([]byte("a"), 65<<10)...), 413, "larger than the limit"},
		{"unknown node", "GET", "/v1/node/does-not-exist", nil, 404, `node "does-not-exist" not found`},
		{"unknown node heartbeat", "PUT", "/v1/node/does-not-exist/heartbeat", nil, 404, "not found"},
		{"unknown job", "GET", "/v1/job/nope", nil, 404, `job "nope" not found`},
		{"unknown job stop", "DELETE", "/v1/job/nope", nil, 404, "not found"},
		{"unknown alloc", "GET", "/v1/allocation/ffff", nil, 404, "not found"},
		{"unknown eval", "GET", "/v1/evaluation/ffff", nil, 404, "not found"},
		{"unknown deployment", "GET", "/v1/deployment/ffff", nil, 404, "not found"},
		{"unknown endpoint", "GET", "/v1/nope", nil, 404, "no such endpoint"},
		{"bad index", "GET", "/v1/jobs?index=x", nil, 400, "index"},
		{"bad wait", "GET", "/v1/jobs?index=1&wait=soon", nil, 400, "wait"},
		{"node without id", "POST", "/v1/nodes", []byte(`{"node":{}}`), 400, "node.id is required"},
		{"plan of another job", "POST", "/v1/job/other/plan", mustJSON(t, api.JobPlanRequest{Job: parseJob(t, webJob("web", 1, ""))}), 400, "path names job"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json") // browser.go refuses a write without it
			if tc.name == "oversized streamed body" {
				// No Content-Length: the limit must hold while reading.
				req.ContentLength = -1
				req.Body = readerOnly{bytes.NewReader(tc.body)}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e api.Error
			_ = json.NewDecoder(resp.Body).Decode(&e)
			if resp.StatusCode != tc.code || !strings.Contains(e.Error, tc.msg) {
				t.Fatalf("%s %s = %d %q, want %d containing %q", tc.method, tc.path, resp.StatusCode, e.Error, tc.code, tc.msg)
			}
			if resp.Header.Get(api.HeaderIndex) == "" {
				t.Errorf("no %s header", api.HeaderIndex)
			}
		})
	}
	// Nothing of the above was stored.
	jobs, _, err := s.Client.Jobs().List(ctxT(t), nil)
	if err != nil || len(jobs) != 0 {
		t.Fatalf("jobs = %v, %v", jobs, err)
	}
}

type readerOnly struct{ r *bytes.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }
func (r readerOnly) Close() error               { return nil }

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTokenIsRequired(t *testing.T) {
	const token = "s3cret-token"
	s := servertest.Single(t, func(c *server.Config) { c.Token = token })
	base := "http://" + s.HTTPAddr()
	node := mustJSON(t, api.NodeRegisterRequest{Node: testNode(1)})

	for _, tc := range []struct {
		token string
		code  int
	}{{"", 401}, {"wrong", 403}, {token + "x", 403}} {
		code, e := rawRequest(t, "POST", base+"/v1/nodes", tc.token, node)
		if code != tc.code || e.Error == "" {
			t.Errorf("token %q: %d %q, want %d", tc.token, code, e.Error, tc.code)
		}
		if code, _ := rawRequest(t, "GET", base+"/v1/nodes", tc.token, nil); code != tc.code {
			t.Errorf("token %q read: %d, want %d", tc.token, code, tc.code)
		}
	}
	// Health stays open for probes.
	if code, _ := rawRequest(t, "GET", base+"/v1/agent/health", "", nil); code != 200 {
		t.Errorf("health without token = %d", code)
	}
	// Nothing changed; the right token works.
	nodes, _, err := s.Client.Nodes().List(ctxT(t), nil)
	if err != nil || len(nodes) != 0 {
		t.Fatalf("nodes = %v, %v", nodes, err)
	}
	if code, _ := rawRequest(t, "POST", base+"/v1/nodes", token, node); code != 200 {
		t.Fatalf("with token = %d", code)
	}
}

func TestNonLoopbackNeedsToken(t *testing.T) {
	cfg := servertest.Config(t, "open")
	cfg.HTTPAddr = "0.0.0.0:0"
	cfg.AdvertiseHTTP = "127.0.0.1:1"
	cfg.BootstrapExpect = 1
	_, err := server.New(cfg, nil)
	if !errors.Is(err, server.ErrTokenRequired) {
		t.Fatalf("New = %v, want ErrTokenRequired", err)
	}
	if !strings.Contains(err.Error(), "non-loopback") || !strings.Contains(err.Error(), "token") {
		t.Fatalf("message does not say why: %v", err)
	}
}

func TestPrefixLookups(t *testing.T) {
	s := servertest.Single(t)
	c := s.Client
	registerNodes(t, c, 2) // IDs 00000001-... and 00000002-...
	n, _, err := c.Nodes().Info(ctxT(t), "00000002", nil)
	if err != nil || n.Name != "node-2" {
		t.Fatalf("unique prefix = %v, %v", n, err)
	}
	_, _, err = c.Nodes().Info(ctxT(t), "0000000", nil)
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != 400 || !strings.Contains(se.Message, "ambiguous") ||
		!strings.Contains(se.Message, testNode(1).ID) || !strings.Contains(se.Message, testNode(2).ID) {
		t.Fatalf("ambiguous prefix = %v", err)
	}
	// A node's own routes match its ID exactly (node_identity_test.go).
	if _, err := asNode(c, testNode(1).ID).Nodes().Heartbeat(ctxT(t), "00000001"); !api.IsNotFound(err) {
		t.Fatalf("heartbeat by prefix = %v, want 404", err)
	}
}

func TestBlockingQueryOnJobAllocations(t *testing.T) {
	s := servertest.Single(t)
	c := s.Client
	registerNodes(t, c, 1)
	allocs, meta, err := c.Jobs().Allocations(ctxT(t), "web", nil)
	if err != nil || allocs == nil || len(allocs) != 0 || meta.LastIndex == 0 || !meta.KnownLeader {
		t.Fatalf("empty list = %v %+v %v", allocs, meta, err)
	}

	// The wait is honoured when nothing changes (plus at most 1/16 jitter).
	start := time.Now()
	_, meta2, err := c.Jobs().Allocations(ctxT(t), "web", &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("blocking query returned after %v, before its wait", el)
	}
	if meta2.LastIndex != meta.LastIndex {
		t.Fatalf("index moved without a change: %d -> %d", meta.LastIndex, meta2.LastIndex)
	}

	// A change answers promptly, long before the wait.
	type result struct {
		allocs []*cluster.Allocation
		took   time.Duration
		err    error
	}
	got := make(chan result, 1)
	go func() {
		start := time.Now()
		a, _, err := c.Jobs().Allocations(context.Background(), "web", &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 5 * time.Minute})
		got <- result{a, time.Since(start), err}
	}()
	time.Sleep(100 * time.Millisecond) // let the query start waiting; correctness does not depend on it
	if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 2, ""))}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.err != nil || len(r.allocs) != 2 {
			t.Fatalf("woken query = %d allocs, %v", len(r.allocs), r.err)
		}
		if r.took > time.Minute {
			t.Fatalf("woken query took %v", r.took)
		}
	case <-time.After(servertest.Timeout):
		t.Fatal("blocking query did not return after the allocations changed")
	}
}
