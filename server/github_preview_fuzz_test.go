package server_test

import (
	"net/http"
	"testing"

	"github.com/droverhq/drover/forge/github/githubtest"
	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// FuzzPullRequestWebhook signs arbitrary bodies as pull_request events:
// the answer is never a 5xx or a dropped connection. The source tracks
// "release" so that fuzzed events parse and route but queue no preview:
// the preview worker's logs would reach f.Log from outside the target.
func FuzzPullRequestWebhook(f *testing.F) {
	gh := githubtest.New(f, ghToken)
	r := gittest.New(f)
	r.Commit("Add web", map[string]string{"web.hcl": gittest.Job("web", 1)})
	r.Git("branch", "release")
	s := servertest.Single(f, withSource("apps", r.Dir, secretFile(f, previewSecret)), func(c *server.Config) {
		c.Sources[0].Branch = "release"
		c.GitHub = server.GitHubConfig{APIURL: gh.URL, Token: ghToken, Repositories: map[string]string{"apps": "acme/deploy"}}
	})
	url := "http://" + s.HTTPAddr() + "/v1/webhooks/github"
	f.Add([]byte(`{"action":"opened","number":1,"pull_request":{"number":1,"head":{"sha":"abc"},"base":{"ref":"main"}},"repository":{"full_name":"acme/deploy"}}`))
	f.Add([]byte(`{"action":"closed"}`))
	f.Add([]byte(`{"action":"opened","pull_request":{"number":-1}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		code, _, raw := post(t, url, map[string]string{
			gitsource.HeaderGitHubEvent:     "pull_request",
			gitsource.HeaderGitHubSignature: gitsource.SignatureHeader([]byte(previewSecret), body),
		}, body)
		if code >= http.StatusInternalServerError {
			t.Fatalf("%d for %q: %s", code, body, raw)
		}
	})
}
