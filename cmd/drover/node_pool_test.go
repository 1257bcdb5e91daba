package main

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
)

func TestParseNodePoolHCL(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      *api.NodePoolRegisterRequest
		err       string
	}{
		{name: "Nomad's example", src: `
node_pool "example" {
  description = "Example node pool"
  meta {
    environment = "prod"
    owner       = "sre"
  }
}`, want: &api.NodePoolRegisterRequest{Name: "example", Description: "Example node pool", Meta: map[string]string{"environment": "prod", "owner": "sre"}}},
		{name: "name only", src: `node_pool "edge" {}`, want: &api.NodePoolRegisterRequest{Name: "edge"}},
		{name: "no block", src: `description = "x"`, err: "node_pool"},
		{name: "empty file", src: ``, err: "no node_pool block"},
		{name: "two blocks", src: "node_pool \"a\" {}\nnode_pool \"b\" {}", err: "2 node_pool blocks"},
		{name: "typo", src: `node_pool "a" { descriptoin = "x" }`, err: `pool.hcl:1,17-28: Unsupported argument`},
		{name: "bad name", src: `node_pool "a b" {}`, err: "must match regex"},
		{name: "built-in", src: `node_pool "default" { description = "mine" }`, err: `modifying node pool "default" is not allowed`},
		{name: "long description", src: `node_pool "a" { description = "` + strings.Repeat("d", 257) + `" }`, err: "description longer than 256"},
		{name: "enterprise", src: `node_pool "a" {
  scheduler_configuration {
    scheduler_algorithm = "spread"
  }
}`, err: "Nomad Enterprise"},
		{name: "meta not a string", src: `node_pool "a" {
  meta {
    list = ["x"]
  }
}`, err: `meta "list" must be a string`},
		{name: "syntax", src: `node_pool "a" {`, err: "pool.hcl:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseNodePoolHCL("pool.hcl", []byte(tc.src))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %+v, %v; want an error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseNodePoolJSON(t *testing.T) {
	got, err := parseNodePoolJSON("pool.json", []byte(`{"Name":"edge","Description":"d","Meta":{"a":"b"}}`))
	want := &api.NodePoolRegisterRequest{Name: "edge", Description: "d", Meta: map[string]string{"a": "b"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Nomad's JSON: %+v, %v", got, err)
	}
	for src, wantErr := range map[string]string{
		`{"Name":"edge","Colour":"x"}`: `unknown field "Colour"`,
		`{"Name":"all"}`:               "not allowed",
		`{"Name":"a"} {"Name":"b"}`:    "more than one JSON value",
		`[`:                            "pool.json",
	} {
		if _, err := parseNodePoolJSON("pool.json", []byte(src)); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: %v, want an error containing %q", src, err, wantErr)
		}
	}
}

// FuzzParseNodePoolHCL: whatever the file, the parser answers a request
// the servers accept or an error, and never panics.
func FuzzParseNodePoolHCL(f *testing.F) {
	f.Add([]byte("node_pool \"edge\" {\n  description = \"x\"\n  meta {\n    a = \"b\"\n  }\n}"))
	f.Add([]byte(`node_pool "a" { meta { x = 1 } }`))
	f.Add([]byte(`node_pool "a" { scheduler_configuration {} }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		req, err := parseNodePoolHCL("pool.hcl", src)
		if err == nil && (req == nil || checkNodePoolRequest("pool.hcl", req) != nil) {
			t.Fatalf("accepted %q as %+v", src, req)
		}
	})
}

func TestNodePoolCommandsHelpAndArgs(t *testing.T) {
	for _, c := range nodePoolCommands() {
		var out, errb bytes.Buffer
		if code := runNodePool(context.Background(), []string{c.name, "--help"}, stdio{out: &out, err: &errb}); code != exitOK || !strings.Contains(out.String(), "Examples:") {
			t.Errorf("node pool %s --help: exit %d, want 0 and examples\n%s%s", c.name, code, out.String(), errb.String())
		}
	}
	for _, args := range [][]string{{"info"}, {"delete"}, {"nodes"}, {"jobs"}, {"apply"}, {"info", "a", "b"}, {"list", "extra"}} {
		var out, errb bytes.Buffer
		if code := runNodePool(context.Background(), args, stdio{out: &out, err: &errb}); code != exitError || !strings.Contains(errb.String(), "Error:") {
			t.Errorf("node pool %v: exit %d, want 1 with an error\n%s", args, code, errb.String())
		}
	}
}
