package server_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
	"github.com/droverhq/drover/state"
)

const encodeParams = `type = "batch"
  meta {
    team = "media"
  }
  parameterized {
    payload       = "required"
    meta_required = ["input"]
    meta_optional = ["lang"]
  }`

// postDispatch sends a raw dispatch body and returns the status and the
// decoded JSON object.
func postDispatch(t *testing.T, s *servertest.Server, id, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+s.HTTPAddr()+"/v1/job/"+id+"/dispatch", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("dispatch answer %s: %v", data, err)
	}
	return resp.StatusCode, out
}

// TestDispatch: a dispatch of Nomad's JSON body registers the child (the
// parent's spec, meta merged, payload set, no parameterized block) and
// an evaluation the scheduler places; the answer has Nomad's keys; the
// parent itself is never placed.
func TestDispatch(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	registerNodes(t, s.Client, 1)
	resp, err := s.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("encode", 1, encodeParams))})
	if err != nil {
		t.Fatal(err)
	}
	if resp.EvalID != "" {
		t.Errorf("register of a parameterized job made evaluation %s; want none", resp.EvalID)
	}

	// Nomad's body, as `curl` against Nomad would send it.
	code, out := postDispatch(t, s, "encode", `{"Payload":"aGVsbG8gZHJvdmVy","Meta":{"input":"s3://in/1.mp4","lang":"fr"},"IdPrefixTemplate":"nightly"}`)
	if code != http.StatusOK {
		t.Fatalf("dispatch: %d %v", code, out)
	}
	for _, k := range []string{"DispatchedJobID", "EvalID", "EvalCreateIndex", "JobCreateIndex", "Index"} {
		if _, ok := out[k]; !ok {
			t.Errorf("answer %v lacks Nomad's key %q", out, k)
		}
	}
	childID, _ := out["DispatchedJobID"].(string)
	if !strings.HasPrefix(childID, "encode/dispatch-nightly-") {
		t.Fatalf("DispatchedJobID %q, want encode/dispatch-nightly-<unix>-<hex>", childID)
	}
	child, _, err := s.Client.Jobs().Info(ctxT(t), childID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if child.ParentID != "encode" || child.Spec.Parameterized != nil || string(child.Spec.Payload) != "hello drover" {
		t.Errorf("child: parent %q, parameterized %v, payload %q", child.ParentID, child.Spec.Parameterized, child.Spec.Payload)
	}
	if m := child.Spec.Meta; m["team"] != "media" || m["input"] != "s3://in/1.mp4" || m["lang"] != "fr" {
		t.Errorf("child meta %v, want the job's and the dispatch's", m)
	}
	servertest.WaitFor(t, "the child to be placed", func() bool {
		allocs, _, err := s.Client.Jobs().Allocations(ctxT(t), childID, nil)
		return err == nil && len(liveAllocs(allocs)) == 1
	})
	if allocs, _, _ := s.Client.Jobs().Allocations(ctxT(t), "encode", nil); len(allocs) != 0 {
		t.Errorf("the parameterized parent has %d allocations, want none", len(allocs))
	}
	stubs, _, err := s.Client.Jobs().List(ctxT(t), &api.QueryOptions{Prefix: "encode/dispatch-"})
	if err != nil || len(stubs) != 1 || stubs[0].ParentID != "encode" {
		t.Errorf("children listed: %v (%v)", stubs, err)
	}

	// The Go client, without a template.
	d, err := s.Client.Jobs().Dispatch(ctxT(t), "encode", "", &api.JobDispatchRequest{Payload: []byte("2"), Meta: map[string]string{"input": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d.DispatchedJobID, "encode/dispatch-") || d.EvalID == "" || d.JobCreateIndex == 0 || d.EvalCreateIndex != d.Index {
		t.Errorf("client dispatch: %+v", d)
	}

	// An idempotency token: the retry gets the same child, no evaluation.
	req := &api.JobDispatchRequest{Payload: []byte("3"), Meta: map[string]string{"input": "c"}, IdempotencyToken: "order-1"}
	d1, err := s.Client.Jobs().Dispatch(ctxT(t), "encode", "", req)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := s.Client.Jobs().Dispatch(ctxT(t), "encode", "", req)
	if err != nil {
		t.Fatal(err)
	}
	if d2.DispatchedJobID != d1.DispatchedJobID || d2.EvalID != "" || d2.JobCreateIndex != d1.JobCreateIndex {
		t.Errorf("retry with the token: %+v, want child %s without an evaluation", d2, d1.DispatchedJobID)
	}
	if c, _, err := s.Client.Jobs().Info(ctxT(t), d1.DispatchedJobID, nil); err != nil || c.DispatchIdempotencyToken != "order-1" {
		t.Errorf("child's token: %v, %v", c, err)
	}
}

// TestDispatchRefusals: each refused dispatch answers its code and a
// message saying what is wrong, and changes nothing.
func TestDispatchRefusals(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	for _, j := range []string{webJob("encode", 1, encodeParams), webJob("web", 1, ""), webJob("quiet", 1, `type = "batch"
  parameterized {
    payload = "forbidden"
  }`), webJob("old", 1, encodeParams)} {
		if _, err := s.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, j)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Client.Jobs().Deregister(ctxT(t), "old", false); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), api.DispatchPayloadMaxBytes+1)
	bigJSON, _ := json.Marshal(map[string]any{"Payload": big, "Meta": map[string]string{"input": "a"}})
	ok := `"Payload":"eA==","Meta":{"input":"a"}`
	for _, tc := range []struct {
		name, job, body string
		code            int
		want            string
	}{
		{"unknown job", "nope", `{` + ok + `}`, 404, `parameterized job "nope" not found`},
		{"not parameterized", "web", `{` + ok + `}`, 400, `Specified job "web" is not a parameterized job`},
		{"stopped", "old", `{` + ok + `}`, 400, `Specified job "old" is stopped`},
		{"payload required", "encode", `{"Meta":{"input":"a"}}`, 400, "Payload is not provided but required by parameterized job"},
		{"payload forbidden", "quiet", `{"Payload":"eA=="}`, 400, "Payload provided but forbidden by parameterized job"},
		{"payload too large", "encode", string(bigJSON), 400, "Payload exceeds maximum size; 16385 > 16384"},
		{"missing meta", "encode", `{"Payload":"eA=="}`, 400, "Dispatch did not provide required meta keys: [input]"},
		{"unpermitted meta", "encode", `{"Payload":"eA==","Meta":{"input":"a","color":"red"}}`, 400, "unpermitted metadata keys: [color]"},
		{"unknown field", "encode", `{` + ok + `,"Payloads":"x"}`, 400, `unknown field "Payloads"`},
		{"bad prefix template", "encode", `{` + ok + `,"IdPrefixTemplate":"a/b"}`, 400, "IdPrefixTemplate"},
		{"JobID of another job", "encode", `{` + ok + `,"JobID":"web"}`, 400, `JobID "web" in the body is not the job "encode"`},
		{"priority out of range", "encode", `{` + ok + `,"Priority":101}`, 400, "Priority 101"},
		{"token in the body", "encode", `{` + ok + `,"IdempotencyToken":"x"}`, 400, `unknown field "IdempotencyToken"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.State().Store().Snapshot().Index(state.TableJobs)
			code, out := postDispatch(t, s, tc.job, tc.body)
			if msg, _ := out["error"].(string); code != tc.code || !strings.Contains(msg, tc.want) {
				t.Errorf("got %d %q, want %d containing %q", code, msg, tc.code, tc.want)
			}
			if after := s.State().Store().Snapshot().Index(state.TableJobs); after != before {
				t.Errorf("a refused dispatch changed the state: index %d -> %d", before, after)
			}
		})
	}
}

// TestDispatchLimit: with DispatchMaxChildren unfinished children, the
// next dispatch answers 429 and says what to do.
func TestDispatchLimit(t *testing.T) {
	s := servertest.Single(t, noHeartbeats, func(c *server.Config) { c.DispatchMaxChildren = 2 })
	if _, err := s.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("encode", 1, encodeParams))}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		_, err := s.Client.Jobs().Dispatch(ctxT(t), "encode", "", &api.JobDispatchRequest{Payload: []byte{'x'}, Meta: map[string]string{"input": fmt.Sprint(i)}})
		switch {
		case i < 2 && err != nil:
			t.Fatalf("dispatch %d: %v", i, err)
		case i == 2:
			var se *api.StatusError
			if !errors.As(err, &se) || se.Code != http.StatusTooManyRequests || !strings.Contains(err.Error(), "have not finished") {
				t.Fatalf("dispatch over the limit: %v, want 429 saying the children have not finished", err)
			}
		}
	}
}
