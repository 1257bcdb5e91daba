package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

const payloads = "../../shared/testdata/github-webhooks"

// skipNoSharedData is why a test that reads payloads skips without them.
const skipNoSharedData = "SKIP: needs the real-world test data in ../shared/testdata (it lives beside the repository, not in it)"

// post sends a webhook and returns the status code and answer.
func post(t testing.TB, url string, hdr map[string]string, body []byte) (int, api.WebhookResponse, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out api.WebhookResponse
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out, string(data)
}

// kick sends a signed generic webhook for a source.
func kick(t testing.TB, s *servertest.Server, name string, body []byte, secret string) {
	t.Helper()
	code, _, raw := post(t, "http://"+s.HTTPAddr()+"/v1/webhooks/"+name,
		map[string]string{gitsource.HeaderSignature: gitsource.SignatureHeader([]byte(secret), body)}, body)
	if code != http.StatusAccepted {
		t.Fatalf("kick %s: %d %s", name, code, raw)
	}
}

// githubPayload reads a real GitHub payload and points it at our
// repository, branch and commit.
func githubPayload(t testing.TB, file, repoURL, ref, after string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(payloads, file))
	if err != nil {
		t.Logf("GitHub payload fixtures: %v", err)
		t.Skip(skipNoSharedData)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	repo := m["repository"].(map[string]any)
	repo["clone_url"], repo["html_url"], repo["ssh_url"], repo["git_url"] = repoURL, repoURL, "", ""
	if ref != "" {
		m["ref"] = ref
	}
	if after != "" {
		m["after"] = after
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func secretFile(t testing.TB, secret string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "webhook-secret")
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// remoteFixture is a repository pushed to a bare remote served over
// smart HTTP, and a server tracking it.
type remoteFixture struct {
	work *gittest.Repo
	http *gittest.HTTPServer
	url  string
	srv  *servertest.Server
}

func newRemoteFixture(t *testing.T, secret string, opts ...func(*server.Config)) *remoteFixture {
	t.Helper()
	w := gittest.New(t)
	w.Commit("Add web", map[string]string{"jobs/web.hcl": gittest.Job("web", 1)})
	bare := w.Bare()
	hs := gittest.ServeHTTP(t, filepath.Dir(bare), "", "")
	url := hs.URL + "/remote.git"
	opts = append([]func(*server.Config){withSource("apps", url, secretFile(t, secret))}, opts...)
	s := servertest.Single(t, opts...)
	waitSync(t, s.Client, "apps", "the first commit", applied(w.Head()))
	return &remoteFixture{work: w, http: hs, url: url, srv: s}
}

func (f *remoteFixture) push(t *testing.T, msg string, files map[string]string) string {
	sha := f.work.Commit(msg, files)
	f.work.Git("push", "-q", "origin", "main")
	return sha
}

func TestGitHubWebhook(t *testing.T) {
	const secret = "It's a Secret to Everybody"
	f := newRemoteFixture(t, secret)
	endpoint := "http://" + f.srv.HTTPAddr() + "/v1/webhooks/github"
	sha := f.push(t, "Scale web", map[string]string{"jobs/web.hcl": gittest.Job("web", 2)})
	body := githubPayload(t, "push__with-new-branch.payload.json", f.url, "refs/heads/main", sha)
	signed := func(event, delivery string, b []byte) map[string]string {
		return map[string]string{gitsource.HeaderGitHubSignature: gitsource.SignatureHeader([]byte(secret), b),
			gitsource.HeaderGitHubEvent: event, gitsource.HeaderGitHubDelivery: delivery}
	}

	// Refused before anything is fetched.
	fetches := f.http.Fetches.Load()
	lists := f.http.Lists.Load()
	mac := gitsource.SignatureHeader([]byte(secret), body)
	for name, hdr := range map[string]map[string]string{
		"missing":    {gitsource.HeaderGitHubEvent: "push"},
		"wrong":      {gitsource.HeaderGitHubEvent: "push", gitsource.HeaderGitHubSignature: gitsource.SignatureHeader([]byte("nope"), body)},
		"sha1":       {gitsource.HeaderGitHubEvent: "push", gitsource.HeaderGitHubSignature: "sha1=" + strings.TrimPrefix(mac, "sha256=")[:40]},
		"truncated":  {gitsource.HeaderGitHubEvent: "push", gitsource.HeaderGitHubSignature: mac[:len(mac)-2]},
		"other-body": {gitsource.HeaderGitHubEvent: "push", gitsource.HeaderGitHubSignature: gitsource.SignatureHeader([]byte(secret), append(body, ' '))},
	} {
		if code, _, raw := post(t, endpoint, hdr, body); code != http.StatusUnauthorized {
			t.Errorf("%s signature: %d %s, want 401", name, code, raw)
		}
	}
	big := bytes.Repeat([]byte("x"), 6<<20)
	if code, _, _ := post(t, endpoint, signed("push", "big", big), big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d, want 413", code)
	}
	if f.http.Fetches.Load() != fetches || f.http.Lists.Load() != lists {
		t.Error("a refused webhook caused Git traffic")
	}
	if st := job(t, f.srv.Client, "web"); st.Spec.Groups[0].Count != 1 {
		t.Error("a refused webhook deployed")
	}

	// Events that deploy nothing.
	if code, out, _ := post(t, endpoint, signed("ping", "p1", []byte(`{"zen":"hi"}`)), []byte(`{"zen":"hi"}`)); code != http.StatusOK || out.Status != "pong" {
		t.Errorf("ping: %d %+v", code, out)
	}
	tagDeletion := githubPayload(t, "push__payload.json", f.url, "", "")
	if code, out, _ := post(t, endpoint, signed("push", "tag", tagDeletion), tagDeletion); code != http.StatusAccepted || out.Status != "ignored" {
		t.Errorf("tag deletion: %d %+v", code, out)
	}
	tagPush := githubPayload(t, "push__with-new-branch.payload.json", f.url, "refs/tags/v1", sha)
	if code, out, _ := post(t, endpoint, signed("push", "tagpush", tagPush), tagPush); code != http.StatusAccepted || out.Status != "ignored" {
		t.Errorf("tag push: %d %+v", code, out)
	}
	branchDeletion := githubPayload(t, "push__payload.json", f.url, "refs/heads/main", "")
	if code, out, _ := post(t, endpoint, signed("push", "del", branchDeletion), branchDeletion); code != http.StatusAccepted || out.Status != "ignored" {
		t.Errorf("branch deletion: %d %+v", code, out)
	}
	pr := githubPayload(t, "pull_request__opened.payload.json", f.url, "", "")
	if code, out, _ := post(t, endpoint, signed("pull_request", "pr", pr), pr); code != http.StatusAccepted || out.Status != "ignored" {
		t.Errorf("pull_request: %d %+v", code, out)
	}
	if f.http.Fetches.Load() != fetches {
		t.Error("an ignored event fetched")
	}

	// The push deploys; its redelivery is a duplicate.
	if code, out, raw := post(t, endpoint, signed("push", "d1", body), body); code != http.StatusAccepted || out.Status != "accepted" {
		t.Fatalf("push: %d %s", code, raw)
	}
	waitSync(t, f.srv.Client, "apps", "the pushed commit", applied(sha))
	if code, out, _ := post(t, endpoint, signed("push", "d1", body), body); code != http.StatusOK || out.Status != "duplicate" {
		t.Errorf("redelivery: %d %+v", code, out)
	}
	// Every delivery is counted by its result (metrics.go).
	for result, want := range map[string]float64{"unauthorized": 5, "pong": 1, "ignored": 4, "accepted": 1, "duplicate": 1} {
		if got := metricValue(t, f.srv.Server, "drover_webhook_deliveries_total", map[string]string{"result": result}); got != want {
			t.Errorf("drover_webhook_deliveries_total{result=%q} = %v, want %v", result, got, want)
		}
	}
	// Webhooks need no bearer token: covered by TestWebhookExemptFromToken.
}

// TestGitHubTestVector checks the signature against GitHub's documented
// example (docs: "Validating webhook deliveries").
func TestGitHubTestVector(t *testing.T) {
	const want = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got := gitsource.SignatureHeader([]byte("It's a Secret to Everybody"), []byte("Hello, World!")); got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
	if err := gitsource.VerifySignature([]byte("It's a Secret to Everybody"), []byte("Hello, World!"), want); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookExemptFromToken(t *testing.T) {
	r := gittest.New(t)
	first := r.Commit("Add web", map[string]string{"jobs/web.hcl": gittest.Job("web", 1)})
	s := servertest.Single(t, withSource("apps", r.Dir, secretFile(t, "k")), func(c *server.Config) { c.Token = "tok" })
	waitSync(t, s.Client, "apps", "the first commit", applied(first))
	kick(t, s, "apps", []byte(`{}`), "k") // no Authorization header
	if code, _, _ := post(t, "http://"+s.HTTPAddr()+"/v1/webhooks/apps", nil, []byte(`{}`)); code != http.StatusUnauthorized {
		t.Errorf("unsigned generic webhook: %d, want 401", code)
	}
	if code, _ := rawRequest(t, http.MethodGet, "http://"+s.HTTPAddr()+"/v1/sync", "", nil); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/sync without a token: %d, want 401", code)
	}
}

// TestWebhookBurst sends a thousand signed pushes within about a second:
// they coalesce into one or two fetches, the newest commit deploys, and
// memory stays flat.
func TestWebhookBurst(t *testing.T) {
	const secret = "burst"
	f := newRemoteFixture(t, secret)
	endpoint := "http://" + f.srv.HTTPAddr() + "/v1/webhooks/github"
	sha := f.push(t, "Scale web", map[string]string{"jobs/web.hcl": gittest.Job("web", 3)})
	body := githubPayload(t, "push__with-new-branch.payload.json", f.url, "refs/heads/main", sha)
	sig := gitsource.SignatureHeader([]byte(secret), body)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fetches := f.http.Fetches.Load()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan string, 1000)
	for w := range 20 {
		wg.Go(func() {
			for i := range 50 {
				code, _, raw := post(t, endpoint, map[string]string{gitsource.HeaderGitHubSignature: sig, gitsource.HeaderGitHubEvent: "push",
					gitsource.HeaderGitHubDelivery: fmt.Sprintf("burst-%d-%d", w, i)}, body)
				if code != http.StatusAccepted {
					errs <- fmt.Sprintf("%d %s", code, raw)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("a burst webhook was not accepted: %s", e)
	}
	t.Logf("1000 webhooks in %v", time.Since(start))
	waitSync(t, f.srv.Client, "apps", "the pushed commit", applied(sha))
	if n := f.http.Fetches.Load() - fetches; n < 1 || n > 2 {
		t.Errorf("%d fetches for a burst of 1000 webhooks, want 1 or 2", n)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap growth over the burst: %d KiB", growth>>10)
	if growth > 32<<20 {
		t.Errorf("heap grew %d MiB over the burst", growth>>20)
	}
	if j := job(t, f.srv.Client, "web"); j.Spec.Groups[0].Count != 3 {
		t.Errorf("web count = %d, want 3", j.Spec.Groups[0].Count)
	}
	_ = cluster.CommitApplied
}

// TestRemoteBadInput: a force-push is followed; a deleted branch, an
// unreachable remote and wrong credentials leave the cluster as it was
// and say so in the sync status, without leaking the password.
func TestRemoteBadInput(t *testing.T) {
	f := newRemoteFixture(t, "k")
	c := f.srv.Client

	// Force-push: amend the tip and push --force.
	f.work.Write(map[string]string{"jobs/web.hcl": gittest.Job("web", 2)})
	f.work.Git("commit", "-q", "-a", "--amend", "-m", "Amended web")
	f.work.Git("push", "-q", "--force", "origin", "main")
	amended := f.work.Head()
	kick(t, f.srv, "apps", []byte(`{}`), "k")
	waitSync(t, c, "apps", "the force-pushed commit", applied(amended))

	// The branch is deleted on the remote: nothing changes, status says why.
	gittest.Run(t, f.work.Git("remote", "get-url", "origin"), "config", "receive.denyDeleteCurrent", "ignore")
	f.work.Git("push", "-q", "origin", ":main")
	kick(t, f.srv, "apps", []byte(`{}`), "k")
	st := waitSync(t, c, "apps", "the deleted branch to be reported", func(st *cluster.SyncStatus) bool { return st.Error != "" })
	if !strings.Contains(st.Error, `no branch "main"`) || st.LastApplied != amended {
		t.Errorf("deleted branch: error %q, last applied %s", st.Error, st.LastApplied)
	}
	if j := job(t, c, "web"); j.Stop || j.Spec.Groups[0].Count != 2 {
		t.Error("a deleted branch changed the cluster")
	}
	// Pushed again: it recovers.
	f.work.Git("push", "-q", "origin", "main")
	kick(t, f.srv, "apps", []byte(`{}`), "k")
	waitSync(t, c, "apps", "recovery", func(st *cluster.SyncStatus) bool { return st.Error == "" && st.LastApplied == amended })
}

func TestRemoteAuthAndUnreachable(t *testing.T) {
	w := gittest.New(t)
	w.Commit("Add web", map[string]string{"jobs/web.hcl": gittest.Job("web", 1)})
	bare := w.Bare()
	hs := gittest.ServeHTTP(t, filepath.Dir(bare), "deploy", "right-password")
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("wrong-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good")
	if err := os.WriteFile(good, []byte("right-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := func(name, url, user, pwFile string) func(*server.Config) {
		return func(c *server.Config) {
			withSource(name, url, "")(c)
			c.Sources[len(c.Sources)-1].Auth.Username = user
			c.Sources[len(c.Sources)-1].Auth.PasswordFile = pwFile
		}
	}
	s := servertest.Single(t,
		src("wrongpw", hs.URL+"/remote.git", "deploy", pw),
		src("goodpw", hs.URL+"/remote.git", "deploy", good),
		src("down", "http://127.0.0.1:1/nope.git", "", ""),
	)
	waitSync(t, s.Client, "goodpw", "the authenticated fetch", applied(w.Head()))
	st := waitSync(t, s.Client, "wrongpw", "the auth failure", func(st *cluster.SyncStatus) bool { return st.Error != "" })
	if !strings.Contains(st.Error, "authentication") || strings.Contains(st.Error, "wrong-password") || st.LastApplied != "" {
		t.Errorf("wrong credentials: %q", st.Error)
	}
	st = waitSync(t, s.Client, "down", "the unreachable remote", func(st *cluster.SyncStatus) bool { return st.Error != "" })
	if !strings.Contains(st.Error, "127.0.0.1:1") {
		t.Errorf("unreachable: %q", st.Error)
	}
}
