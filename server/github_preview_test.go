package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/forge/github/githubtest"
	"github.com/droverhq/drover/gitsource"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

const previewSecret = "preview-webhook-secret"

func dockerJob(image string, memory int) string {
	return fmt.Sprintf(`job "web" {
  datacenters = ["dc1"]
  group "g" {
    count = 1
    task "t" {
      driver = "docker"
      config {
        image = %q
      }
      env {
        API_TOKEN = "hunter2-%s"
      }
      resources {
        cpu    = 100
        memory = %d
      }
    }
  }
}
`, image, image, memory)
}

// prPayload rewrites the recorded pull_request payload for our repository.
func prPayload(t *testing.T, file, action, repoDir, headSHA string, fork bool) []byte {
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
	m["action"] = action
	repo := m["repository"].(map[string]any)
	repo["clone_url"], repo["html_url"], repo["ssh_url"], repo["git_url"] = repoDir, repoDir, "", ""
	pr := m["pull_request"].(map[string]any)
	pr["base"].(map[string]any)["ref"] = "main"
	head := pr["head"].(map[string]any)
	head["sha"] = headSHA
	if fork {
		head["repo"].(map[string]any)["full_name"] = "mallory/Hello-World"
	}
	if action == "closed" {
		pr["state"] = "closed"
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var deliveryN int

func sendPR(t *testing.T, s *servertest.Server, body []byte) (int, string) {
	t.Helper()
	deliveryN++
	code, out, raw := post(t, "http://"+s.HTTPAddr()+"/v1/webhooks/github", map[string]string{
		gitsource.HeaderGitHubEvent:     "pull_request",
		gitsource.HeaderGitHubDelivery:  fmt.Sprintf("pr-delivery-%d-%d", time.Now().UnixNano(), deliveryN),
		gitsource.HeaderGitHubSignature: gitsource.SignatureHeader([]byte(previewSecret), body),
	}, body)
	_ = raw
	return code, out.Status
}

func dockerNode(t *testing.T, s *servertest.Server) {
	t.Helper()
	n := testNode(9)
	n.Drivers = map[string]cluster.DriverInfo{"docker": {Detected: true, Healthy: true}}
	if _, err := asNode(s.Client, n.ID).Nodes().Register(ctxT(t), n); err != nil {
		t.Fatal(err)
	}
}

func previewFixture(t *testing.T, extra ...func(*server.Config)) (*gittest.Repo, *githubtest.Server, *servertest.Server) {
	t.Helper()
	gh := githubtest.New(t, ghToken)
	r := gittest.New(t)
	base := r.Commit("Add web", map[string]string{"web.hcl": dockerJob("nginx:1.25", 128)})
	s := servertest.Single(t, withSource("apps", r.Dir, secretFile(t, previewSecret)), func(c *server.Config) {
		c.GitHub = server.GitHubConfig{APIURL: gh.URL, Token: ghToken, Repositories: map[string]string{"apps": "Codertocat/Hello-World"}}
		for _, f := range extra {
			f(c)
		}
	})
	dockerNode(t, s)
	waitSync(t, s.Client, "apps", "the base commit", applied(base))
	// The deploy status of the base commit is not the previews' business.
	waitStates(t, gh, base, "pending")
	gh.ResetCalls()
	return r, gh, s
}

// prCommit commits files on a PR branch, points refs/pull/2/head at it
// and returns to main, as GitHub keeps a PR's head in the base repository.
func prCommit(t *testing.T, r *gittest.Repo, msg string, files map[string]string) string {
	t.Helper()
	r.Git("checkout", "-q", "-B", "pr", "main")
	sha := r.Commit(msg, files)
	r.Git("update-ref", "refs/pull/2/head", sha)
	r.Git("checkout", "-q", "main")
	r.Git("branch", "-q", "-D", "pr")
	return sha
}

func waitCalls(t *testing.T, gh *githubtest.Server, want ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	// A call is logged when it arrives; its effect (a status, a comment)
	// is stored while it is answered: wait for the answers too.
	done := func() bool {
		for _, c := range gh.Calls() {
			if c.Status == 0 {
				return false
			}
		}
		return true
	}
	for !slices.Equal(gh.CallStrings(), want) || !done() {
		if time.Now().After(deadline) {
			t.Fatalf("GitHub calls:\n  %s\nwant:\n  %s", strings.Join(gh.CallStrings(), "\n  "), strings.Join(want, "\n  "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const (
	prList   = "GET /repos/Codertocat/Hello-World/issues/2/comments?per_page=100"
	prCreate = "POST /repos/Codertocat/Hello-World/issues/2/comments"
)

// TestPullRequestPreview: a signed opened webhook for an image change
// gives exactly one comment with the +/- and one drover/plan status; a
// synchronize edits that same comment; a closed PR is left alone.
func TestPullRequestPreview(t *testing.T) {
	r, gh, s := previewFixture(t)
	head := prCommit(t, r, "Bump nginx", map[string]string{"web.hcl": dockerJob("nginx:1.27", 128)})
	if code, st := sendPR(t, s, prPayload(t, "pull_request__opened.payload.json", "opened", r.Dir, head, false)); code != http.StatusAccepted || st != "accepted" {
		t.Fatalf("opened: %d %s", code, st)
	}
	waitCalls(t, gh, prList, prCreate, "POST /repos/Codertocat/Hello-World/statuses/"+head)
	cs := gh.Comments("Codertocat", "Hello-World", 2)
	if len(cs) != 1 {
		t.Fatalf("%d comments", len(cs))
	}
	for _, want := range []string{"<!-- drover:plan source=apps -->", `+/- Job: "web"`, `"nginx:1.25" => "nginx:1.27"`, "Base: <code>live cluster</code>", "Every allocation of the changed jobs can be placed"} {
		if !strings.Contains(cs[0].Body, want) {
			t.Errorf("comment lacks %q:\n%s", want, cs[0].Body)
		}
	}
	if strings.Contains(cs[0].Body, "hunter2") {
		t.Errorf("comment leaks a secret env value:\n%s", cs[0].Body)
	}
	if st := gh.Statuses(head); len(st) != 1 || st[0].State != "success" || st[0].Context != "drover/plan" {
		t.Fatalf("statuses = %+v", st)
	}

	// synchronize: a bigger task that no node can hold.
	gh.ResetCalls()
	head2 := prCommit(t, r, "Bump nginx and memory", map[string]string{"web.hcl": dockerJob("nginx:1.29", 1<<20)})
	if code, _ := sendPR(t, s, prPayload(t, "pull_request__synchronize.payload.json", "synchronize", r.Dir, head2, false)); code != http.StatusAccepted {
		t.Fatalf("synchronize: %d", code)
	}
	waitCalls(t, gh, prList, fmt.Sprintf("PATCH /repos/Codertocat/Hello-World/issues/comments/%d", cs[0].ID), "POST /repos/Codertocat/Hello-World/statuses/"+head2)
	cs = gh.Comments("Codertocat", "Hello-World", 2)
	if len(cs) != 1 || !strings.Contains(cs[0].Body, `"nginx:1.29"`) || !strings.Contains(cs[0].Body, "placement would fail") {
		t.Fatalf("comment after synchronize:\n%s", cs[0].Body)
	}
	if st := gh.Statuses(head2); len(st) != 1 || st[0].State != "failure" || !strings.Contains(st[0].Description, "would fail") {
		t.Fatalf("statuses = %+v", st)
	}

	// closed: nothing.
	gh.ResetCalls()
	if code, st := sendPR(t, s, prPayload(t, "pull_request__opened.payload.json", "closed", r.Dir, head2, false)); code != http.StatusAccepted || st != "ignored" {
		t.Fatalf("closed: %d %s", code, st)
	}
	time.Sleep(200 * time.Millisecond)
	waitCalls(t, gh)
}

// allowForks sets allow_fork_prs on every source.
func allowForks(c *server.Config) {
	for i := range c.Sources {
		c.Sources[i].AllowForkPRs = true
	}
}

// TestPullRequestPreviewBadInput: a fork's PR (with allow_fork_prs), an
// invalid job file, a head that cannot be read, GitHub refusing the token.
func TestPullRequestPreviewBadInput(t *testing.T) {
	r, gh, s := previewFixture(t, allowForks)

	// A fork: the head lives only under refs/pull/2/head.
	bad := prCommit(t, r, "Typo", map[string]string{"web.hcl": strings.Replace(dockerJob("nginx:1.27", 128), "driver =", "drivre =", 1)})
	if code, _ := sendPR(t, s, prPayload(t, "pull_request__reopened.payload.json", "reopened", r.Dir, bad, true)); code != http.StatusAccepted {
		t.Fatalf("reopened: %d", code)
	}
	waitCalls(t, gh, prList, prCreate, "POST /repos/Codertocat/Hello-World/statuses/"+bad)
	body := gh.Comments("Codertocat", "Hello-World", 2)[0].Body
	if !strings.Contains(body, "web.hcl:") || !strings.Contains(body, "do not load") || strings.Contains(body, "hunter2") {
		t.Fatalf("comment:\n%s", body)
	}
	if st := gh.Statuses(bad); len(st) != 1 || st[0].State != "failure" {
		t.Fatalf("statuses = %+v", st)
	}

	// A head that is nowhere: an error status, no comment.
	gh.ResetCalls()
	missing := strings.Repeat("e", 40)
	r.Git("update-ref", "-d", "refs/pull/2/head")
	sendPR(t, s, prPayload(t, "pull_request__synchronize.payload.json", "synchronize", r.Dir, missing, true))
	waitCalls(t, gh, "POST /repos/Codertocat/Hello-World/statuses/"+missing)
	if st := gh.Statuses(missing); st[0].State != "error" || !strings.Contains(st[0].Description, "cannot read the head") {
		t.Fatalf("statuses = %+v", st)
	}

	// A read-only token: logged, the server stays healthy.
	gh.ResetCalls()
	gh.SetReadOnly(true)
	good := prCommit(t, r, "Bump", map[string]string{"web.hcl": dockerJob("nginx:1.27", 128)})
	sendPR(t, s, prPayload(t, "pull_request__synchronize.payload.json", "synchronize", r.Dir, good, false))
	id := gh.Comments("Codertocat", "Hello-World", 2)[0].ID
	waitCalls(t, gh, prList, fmt.Sprintf("PATCH /repos/Codertocat/Hello-World/issues/comments/%d", id))
	if h, err := s.Client.Agent().Health(ctxT(t)); err != nil || h == nil {
		t.Fatalf("server unhealthy after GitHub refused: %v", err)
	}
}

// TestPullRequestPreviewRemoteSource: a source served over smart HTTP
// (with basic auth) whose PR head exists only under refs/pull/2/head on
// the remote: a signed opened webhook fetches that ref and gives exactly
// one comment with the plan and one drover/plan status; a PR ref missing
// from the remote gives an error status and no comment.
func TestPullRequestPreviewRemoteSource(t *testing.T) {
	gh := githubtest.New(t, ghToken)
	w := gittest.New(t)
	base := w.Commit("Add web", map[string]string{"web.hcl": dockerJob("nginx:1.25", 128)})
	bare := w.Bare()
	hs := gittest.ServeHTTP(t, filepath.Dir(bare), "deploy", "remote-pw")
	url := hs.URL + "/remote.git"
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("remote-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := servertest.Single(t, withSource("apps", url, secretFile(t, previewSecret)), func(c *server.Config) {
		c.Sources[len(c.Sources)-1].Auth.Username = "deploy"
		c.Sources[len(c.Sources)-1].Auth.PasswordFile = pw
		c.GitHub = server.GitHubConfig{APIURL: gh.URL, Token: ghToken, Repositories: map[string]string{"apps": "Codertocat/Hello-World"}}
	})
	dockerNode(t, s)
	waitSync(t, s.Client, "apps", "the base commit", applied(base))
	waitStates(t, gh, base, "pending")
	gh.ResetCalls()

	// The PR head: pushed to the remote's refs/pull/2/head only, as
	// GitHub does; no branch on the remote holds it.
	w.Git("checkout", "-q", "-b", "pr")
	head := w.Commit("Bump nginx", map[string]string{"web.hcl": dockerJob("nginx:1.27", 128)})
	w.Git("push", "-q", "origin", "pr:refs/pull/2/head")
	w.Git("checkout", "-q", "main")
	w.Git("branch", "-q", "-D", "pr")
	if out := gittest.Run(t, bare, "branch", "--contains", head); out != "" {
		t.Fatalf("the PR head is on a remote branch: %q", out)
	}

	if code, st := sendPR(t, s, prPayload(t, "pull_request__opened.payload.json", "opened", url, head, false)); code != http.StatusAccepted || st != "accepted" {
		t.Fatalf("opened: %d %s", code, st)
	}
	waitCalls(t, gh, prList, prCreate, "POST /repos/Codertocat/Hello-World/statuses/"+head)
	cs := gh.Comments("Codertocat", "Hello-World", 2)
	if len(cs) != 1 {
		t.Fatalf("%d comments", len(cs))
	}
	for _, want := range []string{"<!-- drover:plan source=apps -->", `+/- Job: "web"`, `"nginx:1.25" => "nginx:1.27"`, "Base: <code>live cluster</code>", "Every allocation of the changed jobs can be placed"} {
		if !strings.Contains(cs[0].Body, want) {
			t.Errorf("comment lacks %q:\n%s", want, cs[0].Body)
		}
	}
	if strings.Contains(cs[0].Body, "hunter2") || strings.Contains(cs[0].Body, "remote-pw") {
		t.Errorf("comment leaks a secret:\n%s", cs[0].Body)
	}
	if st := gh.Statuses(head); len(st) != 1 || st[0].State != "success" || st[0].Context != "drover/plan" {
		t.Fatalf("statuses = %+v", st)
	}

	// The PR ref gone from the remote: an error status, no comment.
	gh.ResetCalls()
	gittest.Run(t, bare, "update-ref", "-d", "refs/pull/2/head")
	missing := strings.Repeat("e", 40)
	sendPR(t, s, prPayload(t, "pull_request__synchronize.payload.json", "synchronize", url, missing, false))
	waitCalls(t, gh, "POST /repos/Codertocat/Hello-World/statuses/"+missing)
	if st := gh.Statuses(missing); st[0].State != "error" || !strings.Contains(st[0].Description, "cannot read the head") || strings.Contains(st[0].Description, "remote-pw") {
		t.Fatalf("statuses = %+v", st)
	}
	if cs := gh.Comments("Codertocat", "Hello-World", 2); len(cs) != 1 {
		t.Fatalf("%d comments after a missing head", len(cs))
	}
}

// TestPullRequestFromForkNotPlanned: with allow_fork_prs off (the
// default) a fork's PR is neither fetched nor parsed, even when its head
// holds an HCL bomb: the comment says why and how to enable it, and no
// drover/plan status is set. A same-repository PR with the bomb is
// parsed under the budget and rejected with a positioned error.
func TestPullRequestFromForkNotPlanned(t *testing.T) {
	r, gh, s := previewFixture(t)
	bomb := "locals {\n  n = [for a in range(1000) : [for b in range(1000) : [for c in range(1000) : c]]]\n}\n" +
		strings.Replace(dockerJob("nginx:1.27", 128), `image = "nginx:1.27"`, `image = "nginx:1.27"
        args  = [jsonencode(local.n)]`, 1)
	head := prCommit(t, r, "Bomb", map[string]string{"web.hcl": bomb})

	if code, st := sendPR(t, s, prPayload(t, "pull_request__opened.payload.json", "opened", r.Dir, head, true)); code != http.StatusAccepted || st != "accepted" {
		t.Fatalf("fork PR: %d %q", code, st)
	}
	waitCalls(t, gh, prList, prCreate)
	body := gh.Comments("Codertocat", "Hello-World", 2)[0].Body
	for _, want := range []string{"did not plan", "fork", "allow_fork_prs = true", `source "apps"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("comment lacks %q:\n%s", want, body)
		}
	}
	if st := gh.Statuses(head); len(st) != 0 {
		t.Fatalf("a fork PR got statuses %+v", st)
	}

	// The same head from a branch of the repository itself: planned, and
	// the bomb is refused at its position, quickly.
	gh.ResetCalls()
	start := time.Now()
	sendPR(t, s, prPayload(t, "pull_request__synchronize.payload.json", "synchronize", r.Dir, head, false))
	id := gh.Comments("Codertocat", "Hello-World", 2)[0].ID
	waitCalls(t, gh, prList, fmt.Sprintf("PATCH /repos/Codertocat/Hello-World/issues/comments/%d", id), "POST /repos/Codertocat/Hello-World/statuses/"+head)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the bomb took %v to refuse", d)
	}
	body = gh.Comments("Codertocat", "Hello-World", 2)[0].Body
	if !strings.Contains(body, "web.hcl:2:") || !strings.Contains(body, "Expression too large") {
		t.Fatalf("comment:\n%s", body)
	}
	if st := gh.Statuses(head); len(st) != 1 || st[0].State != "failure" {
		t.Fatalf("statuses = %+v", st)
	}
}
