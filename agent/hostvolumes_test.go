package agent

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

func TestParseConfigFileHostVolumes(t *testing.T) {
	c := DefaultConfig()
	src := `
host_volume "data" {
  path = "/srv/data"
}
host_volume "certs" {
  path      = "/etc/ssl/certs"
  read_only = true
}
host_volume "db[0]" {
  path      = "/srv/db0"
  read_only = false
}
`
	if _, err := ParseConfigFile(&c, "agent.hcl", []byte(src)); err != nil {
		t.Fatal(err)
	}
	want := map[string]cluster.HostVolume{
		"data":  {Path: "/srv/data"},
		"certs": {Path: "/etc/ssl/certs", ReadOnly: true},
		"db[0]": {Path: "/srv/db0"},
	}
	if !reflect.DeepEqual(c.HostVolumes, want) {
		t.Errorf("HostVolumes = %+v, want %+v", c.HostVolumes, want)
	}

	for _, tc := range []struct{ src, want string }{
		{"host_volume \"a\" {\n  path = \"/a\"\n}\nhost_volume \"a\" {\n  path = \"/b\"\n}", `agent.hcl:4,13-16: Duplicate host_volume`},
		{"host_volume \"a\" {\n  read_only = true\n}", `Missing required argument`},
		{"host_volume \"a\" {\n  path = \"/a\"\n  readonly = true\n}", `agent.hcl:3,3-11: Unsupported argument`},
		{"host_volume {\n  path = \"/a\"\n}", `Missing name for host_volume`},
	} {
		c := DefaultConfig()
		_, err := ParseConfigFile(&c, "agent.hcl", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\nerr = %v\nwant it to contain %q", tc.src, err, tc.want)
		}
	}
}

func TestValidateHostVolumes(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		vols map[string]cluster.HostVolume
		want string // "" = valid
	}{
		{"directory", map[string]cluster.HostVolume{"data": {Path: dir}}, ""},
		{"read-only link to a directory", map[string]cluster.HostVolume{"data": {Path: link, ReadOnly: true}}, ""},
		{"per_alloc name", map[string]cluster.HostVolume{"data[0]": {Path: dir}}, ""},
		{"missing path", map[string]cluster.HostVolume{"data": {Path: filepath.Join(dir, "nope")}}, `host_volume "data": path "` + dir + `/nope" does not exist; create it (mkdir -p`},
		{"relative path", map[string]cluster.HostVolume{"data": {Path: "srv/data"}}, `host_volume "data": path "srv/data" must be absolute`},
		{"no path", map[string]cluster.HostVolume{"data": {}}, `host_volume "data": path is required`},
		{"space in the name", map[string]cluster.HostVolume{"my data": {Path: dir}}, `must not contain whitespace`},
		{"slash in the name", map[string]cluster.HostVolume{"a/b": {Path: dir}}, `'/'`},
		{"empty name", map[string]cluster.HostVolume{"": {Path: dir}}, `must not be empty`},
		{"long name", map[string]cluster.HostVolume{strings.Repeat("x", 129): {Path: dir}}, `longer than 128`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.DataDir, c.Servers = t.TempDir(), []string{"127.0.0.1:4747"}
			c.HostVolumes = tt.vols
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// The host volumes are part of the node the agent registers.
func TestAgentRegistersHostVolumes(t *testing.T) {
	srv := servertest.Single(t)
	cfg := agentConfig(t, srv, t.TempDir(), "n1")
	data := t.TempDir()
	cfg.HostVolumes = map[string]cluster.HostVolume{"data": {Path: data + "/"}, "certs": {Path: "/etc", ReadOnly: true}}
	ta := startAgent(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	n, _, err := srv.Client.Nodes().Info(ctx, ta.NodeID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]cluster.HostVolume{"data": {Path: data}, "certs": {Path: "/etc", ReadOnly: true}}
	if !reflect.DeepEqual(n.HostVolumes, want) {
		t.Errorf("node's host volumes = %+v, want %+v", n.HostVolumes, want)
	}
}
