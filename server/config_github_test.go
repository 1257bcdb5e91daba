package server_test

import (
	"strings"
	"testing"

	"github.com/droverhq/drover/server"
)

func TestParseConfigGitHub(t *testing.T) {
	cfg := server.DefaultConfig()
	src := `
data_dir = "/var/lib/drover"
github {
  token_file   = "/etc/drover/github-token"
  api_url      = "https://ghe.example.com/api/v3"
  external_url = "https://drover.example.com"
  repositories = { apps = "acme/deploy" }
}
`
	if err := server.ParseConfigFile(&cfg, "server.hcl", []byte(src)); err != nil {
		t.Fatal(err)
	}
	g := cfg.GitHub
	if !g.Enabled() || g.TokenFile != "/etc/drover/github-token" || g.APIURL != "https://ghe.example.com/api/v3" ||
		g.ExternalURL != "https://drover.example.com" || g.Repositories["apps"] != "acme/deploy" {
		t.Fatalf("github = %+v", g)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []server.GitHubConfig{
		{ExternalURL: "drover.example.com"},
		{APIURL: "ftp://x"},
		{Repositories: map[string]string{"apps": "no-slash"}},
	} {
		c := cfg
		c.GitHub = bad
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "github") {
			t.Errorf("%+v: err = %v", bad, err)
		}
	}
}
