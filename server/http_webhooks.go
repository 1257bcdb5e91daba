package server

import (
	"io"
	"net/http"
	"strings"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/gitsource"
)

// maxWebhookBytes bounds a webhook body. GitHub caps payloads at 25 MB,
// but a push carries at most a few megabytes of commit summaries; a body
// beyond this is not worth reading before its signature is known.
const maxWebhookBytes = 5 << 20

// isWebhook reports whether a request is a webhook, which authenticates
// by HMAC signature rather than by token.
func isWebhook(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1/webhooks/")
}

// readWebhook reads the raw body, which the signature covers byte for
// byte: 413 beyond the limit.
func (s *Server) readWebhook(r *http.Request) ([]byte, error) {
	limit := min(int64(maxWebhookBytes), s.cfg.MaxBodyBytes)
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	return body, nil
}

// webhookGitHub is POST /v1/webhooks/github. The signature is checked
// against every source's secret before anything else: an unsigned or
// forged request is 401 and asks for no fetch. A verified push to a
// tracked branch kicks that source's reconciler and is answered 202 at
// once; the reconciler coalesces a burst of kicks into one fetch.
func (s *Server) webhookGitHub(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readWebhook(r)
	if err != nil {
		return err
	}
	sig := r.Header.Get(gitsource.HeaderGitHubSignature)
	var verified []*source
	for _, src := range s.sources.list {
		if src.secret != nil && gitsource.VerifySignature(src.secret, body, sig) == nil {
			verified = append(verified, src)
		}
	}
	if len(verified) == 0 {
		return webhookUnauthorized(sig)
	}
	if !s.sources.deliveries.First(r.Header.Get(gitsource.HeaderGitHubDelivery)) {
		return s.webhookReply(w, http.StatusOK, api.WebhookResponse{Status: "duplicate", Reason: "this delivery was handled before"})
	}
	switch ev := r.Header.Get(gitsource.HeaderGitHubEvent); ev {
	case "ping":
		return s.webhookReply(w, http.StatusOK, api.WebhookResponse{Status: "pong"})
	case "push":
	case "pull_request":
		return s.webhookPullRequest(w, body, verified)
	default:
		return s.webhookReply(w, http.StatusAccepted, api.WebhookResponse{Status: "ignored", Reason: "event " + quoteOr(ev) + " does not deploy anything"})
	}
	p, err := gitsource.ParsePush(body)
	if err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	var kicked []string
	for _, src := range verified {
		if p.SameRepo(src.cfg.URL) && p.Deploys(src.cfg.Branch) {
			src.trigger.Kick()
			kicked = append(kicked, src.cfg.Name)
		}
	}
	if len(kicked) == 0 {
		return s.webhookReply(w, http.StatusAccepted, api.WebhookResponse{Status: "ignored", Reason: pushIgnoredReason(p)})
	}
	s.logger.Info("webhook: push", "ref", p.Ref, "after", p.After, "sources", kicked)
	return s.webhookReply(w, http.StatusAccepted, api.WebhookResponse{Status: "accepted", Sources: kicked})
}

// webhookSource is POST /v1/webhooks/{source}, for forges other than
// GitHub: the body's HMAC-SHA256 in X-Drover-Signature (or
// X-Hub-Signature-256, which Gitea and Forgejo send), "sha256=<hex>".
// A JSON body with a "ref" is read as a push; any other body just asks
// for a fetch.
func (s *Server) webhookSource(w http.ResponseWriter, r *http.Request) error {
	src := s.sources.byName[r.PathValue("source")]
	if src == nil {
		return errorf(http.StatusNotFound, "no source %q is configured", r.PathValue("source"))
	}
	body, err := s.readWebhook(r)
	if err != nil {
		return err
	}
	if src.secret == nil {
		return errorf(http.StatusUnauthorized, "source %q has no webhook_secret_file: it accepts no webhooks", src.cfg.Name)
	}
	sig := r.Header.Get(gitsource.HeaderSignature)
	if sig == "" {
		sig = r.Header.Get(gitsource.HeaderGitHubSignature)
	}
	if err := gitsource.VerifySignature(src.secret, body, sig); err != nil {
		return webhookUnauthorized(sig)
	}
	id := firstHeader(r, "X-Drover-Delivery", gitsource.HeaderGitHubDelivery, "X-Gitea-Delivery")
	if id != "" && !s.sources.deliveries.First(src.cfg.Name+"/"+id) {
		return s.webhookReply(w, http.StatusOK, api.WebhookResponse{Status: "duplicate", Reason: "this delivery was handled before"})
	}
	if p, err := gitsource.ParsePush(body); err == nil && !p.Deploys(src.cfg.Branch) {
		return s.webhookReply(w, http.StatusAccepted, api.WebhookResponse{Status: "ignored", Reason: pushIgnoredReason(p)})
	}
	src.trigger.Kick()
	return s.webhookReply(w, http.StatusAccepted, api.WebhookResponse{Status: "accepted", Sources: []string{src.cfg.Name}})
}

func webhookUnauthorized(sig string) error {
	if sig == "" {
		return errorf(http.StatusUnauthorized, "missing webhook signature: send %s: sha256=<hex HMAC-SHA256 of the body>", gitsource.HeaderGitHubSignature)
	}
	return errorf(http.StatusUnauthorized, "webhook signature does not verify with any configured webhook secret")
}

func pushIgnoredReason(p *gitsource.PushEvent) string {
	switch {
	case p.Deleted:
		return p.Ref + " was deleted: nothing to deploy"
	case !strings.HasPrefix(p.Ref, "refs/heads/"):
		return p.Ref + " is not a branch"
	}
	return p.Ref + " is not a branch any source tracks in this repository"
}

func (s *Server) webhookReply(w http.ResponseWriter, code int, v api.WebhookResponse) error {
	s.metrics.WebhookDelivery(v.Status) // metrics.go
	s.setMeta(w, s.raft.Store().Snapshot().Index())
	writeJSON(w, code, v)
	return nil
}

func firstHeader(r *http.Request, names ...string) string {
	for _, n := range names {
		if v := r.Header.Get(n); v != "" {
			return v
		}
	}
	return ""
}

func quoteOr(s string) string {
	if s == "" {
		return "(none)"
	}
	return `"` + s + `"`
}
