package server

import (
	"strings"
	"testing"
	"time"
)

func TestParseSourceBlocks(t *testing.T) {
	c := DefaultConfig()
	c.DataDir = "/tmp/x"
	err := ParseConfigFile(&c, "server.hcl", []byte(`
source "apps" {
  url                 = "https://github.com/acme/deploy.git"
  path                = "jobs"
  poll_interval       = "45s"
  webhook_secret_file = "/etc/drover/hook"
  auth {
    token_file = "/etc/drover/token"
  }
}
source "local" {
  url    = "/srv/jobs"
  branch = "prod"
}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sources) != 2 {
		t.Fatalf("sources = %+v", c.Sources)
	}
	a, l := c.Sources[0], c.Sources[1]
	if a.Name != "apps" || a.Branch != "main" || a.Path != "jobs" || a.PollInterval != 45*time.Second ||
		a.WebhookSecretFile != "/etc/drover/hook" || a.Auth.TokenFile != "/etc/drover/token" {
		t.Errorf("apps = %+v", a)
	}
	if l.Branch != "prod" || l.PollInterval != 30*time.Second || !l.Local() {
		t.Errorf("local = %+v", l)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	bad := DefaultConfig()
	bad.DataDir = "/tmp/x"
	err = ParseConfigFile(&bad, "server.hcl", []byte("source \"a\" {\n  url = \"x\"\n  poll_interval = \"soon\"\n}\n"))
	if err == nil || !strings.Contains(err.Error(), "server.hcl:3") {
		t.Errorf("bad poll_interval: %v", err)
	}
	bad.Sources = nil
	if err := ParseConfigFile(&bad, "s.hcl", []byte("source \"github\" {\n url = \"/x\"\n}\nsource \"b\" {\n url = \"/y\"\n auth {\n ssh_key_file = \"/k\"\n }\n}\n")); err != nil {
		t.Fatal(err)
	}
	msg := bad.Validate().Error()
	for _, want := range []string{`source "github"`, "known_hosts_file"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Validate does not say %q: %s", want, msg)
		}
	}
}
