package reconciler

import (
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/droverhq/drover/gitsource"
)

// SourceConfig is one source block of the server configuration:
//
//	source "apps" {
//	  url                 = "https://github.com/acme/deploy.git"
//	  branch              = "main"
//	  path                = "jobs"
//	  poll_interval       = "30s"
//	  webhook_secret_file = "/etc/drover/webhook-secret"
//	  allow_fork_prs      = false
//	  auth { token_file = "/etc/drover/github-token" }
//	}
//
// Nothing in it is hot-reloadable: a change means a server restart.
type SourceConfig struct {
	Name string
	// URL is an https://, ssh://, scp-like (git@host:org/repo), file://
	// URL, or a local path, which is read in place and watched with
	// inotify instead of mirrored.
	URL    string
	Branch string
	// Path is the folder of the repository that holds the jobs and
	// drover.hcl; "" is the root.
	Path string
	// PollInterval is how often the remote's refs are listed; a random
	// tenth is added so that servers do not poll in lockstep.
	PollInterval time.Duration
	Auth         AuthConfig
	// WebhookSecretFile holds the HMAC secret of webhooks for this
	// source; without it the source accepts no webhooks.
	WebhookSecretFile string
	// AllowForkPRs lets pull requests whose head is in a fork be planned
	// on the servers. Off by default (as in Atlantis): anyone who can fork
	// the repository could otherwise make the leader parse a file of
	// their choosing. A fork's PR gets a comment saying so instead.
	AllowForkPRs bool
}

// AuthConfig names the files holding a remote's credentials. Secrets are
// read from files, never written into the config.
type AuthConfig struct {
	Username       string
	PasswordFile   string
	TokenFile      string
	SSHKeyFile     string
	KnownHostsFile string
}

// DefaultPollInterval is Flux's and Argo CD's order of magnitude, made
// shorter because a ref listing costs one round trip.
const DefaultPollInterval = 30 * time.Second

// DefaultSourceConfig returns a source's defaults; Name and URL must be set.
func DefaultSourceConfig() SourceConfig {
	return SourceConfig{Branch: "main", PollInterval: DefaultPollInterval}
}

var sourceName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)

// Validate reports every problem at once.
func (c SourceConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("source %q: "+format, append([]any{c.Name}, args...)...))
	}
	if !sourceName.MatchString(c.Name) {
		bad("the name must be letters, digits, '-', '_' or '.' (it appears in URLs: /v1/webhooks/NAME)")
	}
	if strings.TrimSpace(c.URL) == "" {
		bad("url is required")
	}
	if c.Branch == "" || strings.ContainsAny(c.Branch, " ~^:?*[\\") {
		bad("branch %q is not a branch name", c.Branch)
	}
	if c.Path != "" && (path.IsAbs(c.Path) || path.Clean(c.Path) != strings.TrimSuffix(c.Path, "/") || strings.HasPrefix(c.Path, "..")) {
		bad("path %q must be a folder inside the repository, relative to its root", c.Path)
	}
	if c.PollInterval < time.Second {
		bad("poll_interval must be at least 1s")
	}
	a := c.Auth
	if a.SSHKeyFile != "" && (a.TokenFile != "" || a.PasswordFile != "") {
		bad("auth: use either ssh_key_file or token_file/password_file, not both")
	}
	if a.SSHKeyFile != "" && a.KnownHostsFile == "" {
		bad("auth: ssh_key_file needs known_hosts_file: the server's host key is always checked")
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return nil
}

// Local reports whether the source is a repository on this machine.
func (c SourceConfig) Local() bool { return gitsource.IsLocalPath(c.URL) }

// ReadAuth reads the credential files.
func (c SourceConfig) ReadAuth() (gitsource.Auth, error) {
	a := gitsource.Auth{Username: c.Auth.Username, KnownHosts: c.Auth.KnownHostsFile}
	var err error
	if a.Password, err = readSecret(c.Auth.PasswordFile); err != nil {
		return a, err
	}
	if a.Token, err = readSecret(c.Auth.TokenFile); err != nil {
		return a, err
	}
	if c.Auth.SSHKeyFile != "" {
		if a.SSHKey, err = os.ReadFile(c.Auth.SSHKeyFile); err != nil {
			return a, fmt.Errorf("source %q: ssh key: %w", c.Name, err)
		}
	}
	return a, nil
}

// WebhookSecret reads the webhook secret; nil when none is configured.
func (c SourceConfig) WebhookSecret() ([]byte, error) {
	s, err := readSecret(c.WebhookSecretFile)
	if err != nil || s == "" {
		return nil, err
	}
	return []byte(s), nil
}

func readSecret(file string) (string, error) {
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("secret file %s is empty", file)
	}
	return s, nil
}
