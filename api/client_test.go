package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/render"
)

func TestDefaultConfig(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if c := api.DefaultConfig(getenv); c.Address != "http://127.0.0.1:4747" || c.Token != "" {
		t.Fatalf("defaults = %+v", c)
	}
	env["DROVER_ADDR"], env["DROVER_TOKEN"] = "10.0.0.1:4747", "tok"
	c := api.DefaultConfig(getenv)
	if c.Address != "10.0.0.1:4747" || c.Token != "tok" {
		t.Fatalf("from env = %+v", c)
	}
	cl, err := api.NewClient(c)
	if err != nil || cl.Address() != "http://10.0.0.1:4747" {
		t.Fatalf("bare host:port = %v, %v", cl, err)
	}
	for _, bad := range []string{"ftp://x", "http://", "http://%zz"} {
		if _, err := api.NewClient(api.Config{Address: bad}); err == nil {
			t.Errorf("NewClient(%q) accepted", bad)
		}
	}
}

// The client's wire behaviour against a stub that checks what arrives;
// the server package tests it against real servers.
func TestClientRequestsAndErrors(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.Header().Set(api.HeaderIndex, "42")
		w.Header().Set(api.HeaderKnownLeader, "true")
		w.Header().Set(api.HeaderLastContact, "15")
		switch r.URL.Path {
		case "/v1/job/a b/allocations":
			_, _ = w.Write([]byte(`[]`))
		default:
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(api.Error{Error: "invalid job", Diagnostics: []render.DiagnosticJSON{{Severity: "error", Summary: "job.id: is required"}}})
		}
	}))
	defer srv.Close()
	c, err := api.NewClient(api.Config{Address: srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	allocs, meta, err := c.Jobs().Allocations(ctx, "a b", &api.QueryOptions{WaitIndex: 7, WaitTime: 30 * time.Second, Stale: true})
	if err != nil || allocs == nil {
		t.Fatal(err)
	}
	if meta.LastIndex != 42 || !meta.KnownLeader || meta.LastContact != 15*time.Millisecond {
		t.Fatalf("meta = %+v", meta)
	}
	q := got.URL.Query()
	if got.URL.EscapedPath() != "/v1/job/a%20b/allocations" || q.Get("index") != "7" || q.Get("wait") != "30s" || !q.Has("stale") {
		t.Fatalf("request = %s", got.URL)
	}
	if got.Header.Get("Authorization") != "Bearer tok" {
		t.Fatalf("authorization = %q", got.Header.Get("Authorization"))
	}

	_, err = c.Nodes().Drain(ctx, "n1", true)
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != 400 || se.Message != "invalid job" || len(se.Diagnostics) != 1 {
		t.Fatalf("error = %#v", err)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/v1/node/n1/drain" {
		t.Fatalf("drain request = %s %s", got.Method, got.URL)
	}
	if api.IsNotFound(err) || api.IsConflict(err) {
		t.Fatal("400 classified as 404/409")
	}
	_, _, err = c.Allocations().List(ctx, &api.QueryOptions{Prefix: "ab", Params: map[string]string{"job": "web"}})
	if err == nil {
		t.Fatal("want the stub's 400")
	}
	if want := (url.Values{"prefix": {"ab"}, "job": {"web"}}); got.URL.RawQuery != want.Encode() {
		t.Fatalf("list query = %s", got.URL.RawQuery)
	}
}
