package server_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/server"
)

func TestParseConfigFile(t *testing.T) {
	cfg := server.DefaultConfig()
	src := `
name             = "s1"
data_dir         = "/var/lib/drover"
http_addr        = "10.0.0.1:4747"
raft_addr        = "10.0.0.1:4647"
bootstrap_expect = 3
join             = ["10.0.0.2:4747", "10.0.0.3:4747"]
heartbeat_ttl    = "15s"
acl {
  token_file = "/etc/drover/token"
}
`
	if err := server.ParseConfigFile(&cfg, "server.hcl", []byte(src)); err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "s1" || cfg.DataDir != "/var/lib/drover" || cfg.HTTPAddr != "10.0.0.1:4747" || cfg.RaftAddr != "10.0.0.1:4647" ||
		cfg.BootstrapExpect != 3 || len(cfg.Join) != 2 || cfg.HeartbeatTTL != 15*time.Second || cfg.TokenFile != "/etc/drover/token" {
		t.Fatalf("config = %+v", cfg)
	}
	// Unset keys keep the defaults.
	def := server.DefaultConfig()
	if err := server.ParseConfigFile(&def, "empty.hcl", nil); err != nil || def.HTTPAddr != "127.0.0.1:4747" || def.HeartbeatTTL != 10*time.Second {
		t.Fatalf("empty file: %+v, %v", def, err)
	}
}

func TestParseConfigFileErrorsArePositioned(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"heartbeat_ttl = \"soon\"\n", `server.hcl:1,17-23: Invalid heartbeat_ttl`},
		{"data_dir = \"d\"\nbootstrap_expect = \"three\"\n", `server.hcl:2,21-26: Unsuitable value type`},
		{"data_dri = \"x\"\n", `server.hcl:1,1-9: Unsupported argument`},
		{"name = \n", `server.hcl:1`},
	} {
		cfg := server.DefaultConfig()
		err := server.ParseConfigFile(&cfg, "server.hcl", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.src, err, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := server.DefaultConfig()
	ok.DataDir = "/d"
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*server.Config)
		want string
	}{
		{"no data dir", func(c *server.Config) { c.DataDir = "" }, "data_dir is required"},
		{"open API", func(c *server.Config) { c.HTTPAddr = "10.1.2.3:4747" }, "without a token"},
		{"unreachable raft", func(c *server.Config) { c.RaftAddr = "0.0.0.0:4647" }, "advertise"},
		{"expect without join", func(c *server.Config) { c.BootstrapExpect = 3 }, "needs -join"},
		{"bad join", func(c *server.Config) { c.Join = []string{"ftp://x"} }, "join"},
		{"bad ttl", func(c *server.Config) { c.HeartbeatTTL = 0 }, "heartbeat_ttl"},
	} {
		c := ok
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	open := ok
	open.HTTPAddr = "10.1.2.3:4747"
	if err := open.Validate(); !errors.Is(err, server.ErrTokenRequired) {
		t.Errorf("open API error = %v", err)
	}
	open.Token = "t"
	if err := open.Validate(); err != nil {
		t.Errorf("open API with a token: %v", err)
	}
}
