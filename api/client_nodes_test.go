package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/droverhq/drover/api"
)

// A node's secret goes to its server and nowhere else: not from the
// client it was derived from, and not along a redirect to another host.
func TestWithNodeSecretStaysWithItsServer(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{} // server → secret header it got
	record := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[name] = r.Header.Get(api.HeaderNodeSecret)
			mu.Unlock()
			_ = json.NewEncoder(w).Encode(api.HeartbeatResponse{HeartbeatTTL: 1})
		}
	}
	got := func(name string) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		v, ok := seen[name]
		return v, ok
	}
	elsewhere := httptest.NewServer(record("elsewhere"))
	defer elsewhere.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/node/n1/heartbeat", record("server"))
	mux.HandleFunc("/v1/node/n2/heartbeat", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/v1/node/n2/heartbeat", http.StatusTemporaryRedirect)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c, err := api.NewClient(api.Config{Address: srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	node := c.WithNodeSecret("s3cret")
	ctx := context.Background()
	if _, err := node.Nodes().Heartbeat(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if v, _ := got("server"); v != "s3cret" {
		t.Fatalf("server got secret %q", v)
	}
	if _, err := c.Nodes().Heartbeat(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if v, _ := got("server"); v != "" {
		t.Fatalf("the operator's client sent secret %q", v)
	}
	if _, err := node.Nodes().Heartbeat(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if v, ok := got("elsewhere"); !ok || v != "" {
		t.Fatalf("redirect target got secret %q (reached: %v)", v, ok)
	}
}

func TestIsNodeSecretRefused(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&api.StatusError{Code: 403, Message: "node n1 is registered; re-registering it needs its node secret"}, true},
		{&api.StatusError{Code: 403, Message: "invalid token"}, false},
		{&api.StatusError{Code: 404, Message: `node "n1" not found`}, false},
		{nil, false},
	} {
		if got := api.IsNodeSecretRefused(tc.err); got != tc.want {
			t.Errorf("IsNodeSecretRefused(%v) = %v", tc.err, got)
		}
	}
}
