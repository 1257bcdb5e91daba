package server

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/droverhq/drover/reconciler"
)

// fileSource is a source block of the configuration file:
//
//	source "apps" {
//	  url                 = "https://github.com/acme/deploy.git"
//	  branch              = "main"            # default main
//	  path                = "jobs"            # default: the root
//	  poll_interval       = "30s"
//	  webhook_secret_file = "/etc/drover/webhook-secret"
//	  allow_fork_prs      = false             # plan PRs from forks (default off)
//	  auth {
//	    token_file = "/etc/drover/github-token"
//	    # or: username + password_file; or ssh_key_file + known_hosts_file
//	  }
//	}
type fileSource struct {
	Name              string         `hcl:"name,label"`
	URL               string         `hcl:"url"`
	Branch            *string        `hcl:"branch,optional"`
	Path              *string        `hcl:"path,optional"`
	PollInterval      hcl.Expression `hcl:"poll_interval,optional"`
	WebhookSecretFile *string        `hcl:"webhook_secret_file,optional"`
	AllowForkPRs      *bool          `hcl:"allow_fork_prs,optional"`
	Auth              *struct {
		Username       *string `hcl:"username,optional"`
		PasswordFile   *string `hcl:"password_file,optional"`
		TokenFile      *string `hcl:"token_file,optional"`
		SSHKeyFile     *string `hcl:"ssh_key_file,optional"`
		KnownHostsFile *string `hcl:"known_hosts_file,optional"`
	} `hcl:"auth,block"`
}

// applySources appends the file's source blocks to c.Sources.
func applySources(c *Config, blocks []fileSource) hcl.Diagnostics {
	var diags hcl.Diagnostics
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	for _, b := range blocks {
		sc := reconciler.DefaultSourceConfig()
		sc.Name, sc.URL = b.Name, b.URL
		set(&sc.Branch, b.Branch)
		set(&sc.Path, b.Path)
		set(&sc.WebhookSecretFile, b.WebhookSecretFile)
		if b.AllowForkPRs != nil {
			sc.AllowForkPRs = *b.AllowForkPRs
		}
		if b.Auth != nil {
			set(&sc.Auth.Username, b.Auth.Username)
			set(&sc.Auth.PasswordFile, b.Auth.PasswordFile)
			set(&sc.Auth.TokenFile, b.Auth.TokenFile)
			set(&sc.Auth.SSHKeyFile, b.Auth.SSHKeyFile)
			set(&sc.Auth.KnownHostsFile, b.Auth.KnownHostsFile)
		}
		d, ds := durationAttr("poll_interval", b.PollInterval)
		diags = append(diags, ds...)
		if d != nil {
			sc.PollInterval = *d
		}
		c.Sources = append(c.Sources, sc)
	}
	return diags
}

// validateSources checks every source and that names are unique.
func validateSources(sources []reconciler.SourceConfig) []error {
	var errs []error
	seen := map[string]bool{}
	for _, sc := range sources {
		if err := sc.Validate(); err != nil {
			errs = append(errs, err)
		}
		if sc.Name == "github" {
			errs = append(errs, fmt.Errorf(`source "github": the name is taken by the endpoint /v1/webhooks/github; choose another`))
		}
		if seen[sc.Name] {
			errs = append(errs, fmt.Errorf("source %q is configured twice", sc.Name))
		}
		seen[sc.Name] = true
	}
	return errs
}
