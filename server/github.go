package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"

	"github.com/droverhq/drover/forge/github"
	"github.com/droverhq/drover/reconciler"
)

// GitHubConfig lets the leader report deploys as commit statuses
// (drover/deploy) on the GitHub repositories of its sources. It is off
// while Token and TokenFile are empty.
type GitHubConfig struct {
	// APIURL is the REST API root: empty for github.com, else a GitHub
	// Enterprise Server (https://ghe.example.com/api/v3).
	APIURL string
	// Token (or the contents of TokenFile) is a token with statuses:write
	// (and pull-requests:write for previews); a GitHub App installation
	// token works the same way.
	Token     string
	TokenFile string
	// ExternalURL is where people reach this server's API; when set,
	// statuses link to /v1/sync/<source>.
	ExternalURL string
	// Repositories maps a source name to its GitHub "owner/name" when its
	// URL does not say so (a mirror, a local path, an Enterprise host).
	Repositories map[string]string
}

// Enabled reports whether a token is configured.
func (g GitHubConfig) Enabled() bool { return g.Token != "" || g.TokenFile != "" }

// Validate reports a configuration that cannot work.
func (g GitHubConfig) Validate() error {
	var errs []error
	if g.ExternalURL != "" {
		if u, err := url.Parse(g.ExternalURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("github external_url %q is not an http(s) URL", g.ExternalURL))
		}
	}
	if g.APIURL != "" && !strings.HasPrefix(g.APIURL, "https://") && !strings.HasPrefix(g.APIURL, "http://") {
		errs = append(errs, fmt.Errorf("github api_url %q is not an http(s) URL", g.APIURL))
	}
	for name, full := range g.Repositories {
		if _, _, ok := splitRepo(full); !ok {
			errs = append(errs, fmt.Errorf("github repositories: %s = %q is not owner/name", name, full))
		}
	}
	return errors.Join(errs...)
}

func splitRepo(full string) (owner, name string, ok bool) {
	owner, name, ok = strings.Cut(full, "/")
	return owner, name, ok && owner != "" && name != "" && !strings.Contains(name, "/")
}

// githubRepo is the GitHub owner/name of a source: from Repositories,
// else from a github.com URL (https, ssh or scp-like), else from a URL on
// the Enterprise host of APIURL.
func (g GitHubConfig) githubRepo(source, rawURL string) (owner, name string, ok bool) {
	if full, set := g.Repositories[source]; set {
		return splitRepo(full)
	}
	host, path := hostPath(rawURL)
	if host == "" {
		return "", "", false
	}
	want := "github.com"
	if g.APIURL != "" && g.APIURL != github.PublicAPIURL {
		if u, err := url.Parse(g.APIURL); err == nil {
			want = strings.ToLower(u.Hostname())
		}
	}
	if host != want {
		return "", "", false
	}
	return splitRepo(strings.TrimSuffix(path, ".git"))
}

func hostPath(raw string) (host, path string) {
	raw = strings.TrimSpace(raw)
	if !strings.Contains(raw, "://") {
		at := strings.Index(raw, "@")
		colon := strings.Index(raw, ":")
		if at < 0 || colon < at {
			return "", ""
		}
		raw = "ssh://" + raw[:colon] + "/" + raw[colon+1:]
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", ""
	}
	return strings.ToLower(u.Hostname()), strings.Trim(u.Path, "/")
}

// deployStatuses turns the reconcilers' deploy events into drover/deploy
// commit statuses, sent in the background by a StatusQueue: GitHub being
// slow, down or refusing never holds up or fails a deploy.
type deployStatuses struct {
	cfg   GitHubConfig
	queue *github.StatusQueue
	log   *slog.Logger
}

var _ reconciler.DeployNotifier = (*deployStatuses)(nil)

func (d *deployStatuses) NotifyDeploy(ev reconciler.DeployEvent) {
	owner, name, ok := d.cfg.githubRepo(ev.Source, ev.URL)
	if !ok {
		return // not a GitHub source
	}
	st := github.Status{Context: github.ContextDeploy, Description: ev.Reason}
	switch ev.State {
	case reconciler.DeployPending:
		st.State = github.StatePending
		st.Description = "Applied by Drover; rolling out"
	case reconciler.DeploySuccess:
		st.State = github.StateSuccess
		st.Description = "Deployed: " + ev.Reason
	case reconciler.DeployFailure:
		st.State = github.StateFailure
	case reconciler.DeploySuperseded:
		st.State = github.StateError
	default:
		return
	}
	if d.cfg.ExternalURL != "" {
		st.TargetURL = strings.TrimRight(d.cfg.ExternalURL, "/") + "/v1/sync/" + url.PathEscape(ev.Source)
	}
	d.log.Debug("deploy status", "source", ev.Source, "commit", shortSHA(ev.Commit), "state", st.State)
	d.queue.Enqueue(owner, name, ev.Commit, st)
}

func shortSHA(sha string) string { return sha[:min(len(sha), 7)] }

// startGitHub starts, for a leadership term, the status queue of deploy
// statuses and the pull-request preview worker when GitHub is configured;
// wg waits for them. A nil notifier (GitHub off, or its token unreadable,
// which is logged) reports nothing.
func (s *Server) startGitHub(ctx context.Context, wg *sync.WaitGroup) reconciler.DeployNotifier {
	g := s.cfg.GitHub
	if !g.Enabled() {
		return nil
	}
	log := s.logger.With("component", "github")
	cfg := github.DefaultConfig()
	if g.APIURL != "" {
		cfg.APIURL = g.APIURL
	}
	cfg.Token, cfg.Logger = g.Token, log
	if cfg.Token == "" {
		tok, err := github.TokenFrom(g.TokenFile, "", nil)
		if err != nil {
			log.Error("commit statuses off", "err", err)
			return nil
		}
		cfg.Token = tok
	}
	c, err := github.New(cfg)
	if err != nil {
		log.Error("commit statuses off", "err", err)
		return nil
	}
	q := github.NewStatusQueue(c, log)
	wg.Go(func() { q.Run(ctx) })
	wg.Go(func() { s.runPreviews(ctx, c, log) })
	return &deployStatuses{cfg: g, queue: q, log: log}
}
