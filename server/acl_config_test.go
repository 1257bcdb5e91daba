package server_test

import (
	"strings"
	"testing"

	"github.com/droverhq/drover/server"
)

func TestACLConfig(t *testing.T) {
	cfg := server.DefaultConfig()
	src := "acl {\n  enabled   = true\n  bootstrap = \"manual\"\n}\n"
	if err := server.ParseConfigFile(&cfg, "server.hcl", []byte(src)); err != nil {
		t.Fatal(err)
	}
	if !cfg.ACL || cfg.ACLBootstrap != server.ACLBootstrapManual {
		t.Fatalf("acl = %v, bootstrap = %q", cfg.ACL, cfg.ACLBootstrap)
	}
	// With ACLs, a server may listen beyond loopback without a token file.
	cfg.DataDir, cfg.HTTPAddr, cfg.AdvertiseHTTP = t.TempDir(), "10.0.0.1:4747", "10.0.0.1:4747"
	if err := cfg.Validate(); err != nil && strings.Contains(err.Error(), server.ErrTokenRequired.Error()) {
		t.Fatalf("validate with ACLs: %v", err)
	}
	cfg.ACLBootstrap = "sometimes"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `acl bootstrap "sometimes"`) {
		t.Fatalf("bad bootstrap mode: %v", err)
	}
}
