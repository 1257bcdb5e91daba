package server_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// TestDispatchMaxChildrenConfig: dispatch_max_children in the server's
// config file bounds a parameterized job's unfinished children; past it
// a dispatch answers 429 naming the setting. The default is 10,000, and
// a bound that is not positive is refused at startup.
func TestDispatchMaxChildrenConfig(t *testing.T) {
	if got := server.DefaultConfig().DispatchMaxChildren; got != 10_000 {
		t.Fatalf("default dispatch_max_children %d, want 10000", got)
	}
	for _, bad := range []string{"0", "-1"} {
		cfg := servertest.Config(t, "bad")
		cfg.BootstrapExpect = 1
		if err := server.ParseConfigFile(&cfg, "server.hcl", []byte("dispatch_max_children = "+bad+"\n")); err != nil {
			t.Fatalf("parse dispatch_max_children = %s: %v", bad, err)
		}
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "dispatch_max_children") {
			t.Errorf("dispatch_max_children = %s: Validate %v, want an error naming the setting", bad, err)
		}
	}
	if err := server.ParseConfigFile(new(server.Config), "server.hcl", []byte(`dispatch_max_children = "many"`)); err == nil {
		t.Error("dispatch_max_children = \"many\" parsed")
	}

	s := servertest.Single(t, noHeartbeats, func(c *server.Config) {
		if err := server.ParseConfigFile(c, "server.hcl", []byte("dispatch_max_children = 3\n")); err != nil {
			t.Fatal(err)
		}
		if c.DispatchMaxChildren != 3 {
			t.Fatalf("DispatchMaxChildren %d after the config file, want 3", c.DispatchMaxChildren)
		}
	})
	ctx := ctxT(t)
	if _, err := s.Client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: parseJob(t, webJob("encode", 1, encodeParams))}); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		_, err := s.Client.Jobs().Dispatch(ctx, "encode", "", &api.JobDispatchRequest{Payload: []byte{'x'}, Meta: map[string]string{"input": fmt.Sprint(i)}})
		if i < 3 {
			if err != nil {
				t.Fatalf("dispatch %d of 3: %v", i+1, err)
			}
			continue
		}
		var se *api.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusTooManyRequests ||
			!strings.Contains(se.Message, "dispatch_max_children (3)") || !strings.Contains(se.Message, "have not finished") {
			t.Fatalf("fourth dispatch: %v, want 429 naming dispatch_max_children (3)", err)
		}
	}
}
