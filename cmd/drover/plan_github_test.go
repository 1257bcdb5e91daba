package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/droverhq/drover/forge/github/githubtest"
)

const (
	ghToken    = "ghs_ci_token_0123456789"
	ghRepo     = "Codertocat/Hello-World"
	ghPRNumber = 2 // the recorded payload's PR
	recordedPR = "../../../shared/testdata/github-webhooks/pull_request__opened.payload.json"
)

// prEventFile rewrites the recorded Actions pull_request event to point
// at the test repository's base and head commits.
func prEventFile(t *testing.T, action, baseSHA, headSHA string, fork bool) string {
	t.Helper()
	raw, err := os.ReadFile(recordedPR)
	if err != nil {
		t.Logf("recorded payload: %v", err)
		t.Skip("SKIP: needs the real-world test data in ../shared/testdata (it lives beside the repository, not in it)")
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev["action"] = action
	pr := ev["pull_request"].(map[string]any)
	pr["base"].(map[string]any)["sha"] = baseSHA
	head := pr["head"].(map[string]any)
	head["sha"] = headSHA
	if fork {
		head["repo"].(map[string]any)["full_name"] = "mallory/Hello-World"
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// droverEnv runs the binary in dir with this process's environment
// and env on top.
func droverEnv(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	return runDrover(t, dir, append(append(os.Environ(), "NO_COLOR=1"), env...), args...)
}

func revParse(t *testing.T, dir, rev string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", dir, "rev-parse", rev).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func actionsEnv(srv *githubtest.Server, event, summary string) []string {
	return []string{
		"GITHUB_EVENT_PATH=" + event,
		"GITHUB_REPOSITORY=" + ghRepo,
		"GITHUB_TOKEN=" + ghToken,
		"GITHUB_API_URL=" + srv.URL,
		"GITHUB_STEP_SUMMARY=" + summary,
		"DROVER_GITHUB_TOKEN_FILE=",
		"DROVER_ADDR=", // offline unless a test asks for a server
	}
}

func wantGitHubCalls(t *testing.T, srv *githubtest.Server, want ...string) {
	t.Helper()
	if got := srv.CallStrings(); !slices.Equal(got, want) {
		t.Fatalf("GitHub calls:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

const (
	listCall   = "GET /repos/Codertocat/Hello-World/issues/2/comments?per_page=100"
	createCall = "POST /repos/Codertocat/Hello-World/issues/2/comments"
)

func TestPlanGitHubCommentOpenedThenSynchronize(t *testing.T) {
	dir, git := gitRepo(t)
	writeFile(t, filepath.Join(dir, "jobs/web.nomad.hcl"), webJob("nginx:1.25", 2))
	git("add", "-A")
	git("commit", "-q", "-m", "base")
	base := revParse(t, dir, "HEAD")
	writeFile(t, filepath.Join(dir, "jobs/web.nomad.hcl"), webJob("nginx:1.27", 2))
	git("commit", "-q", "-am", "bump image")
	head := revParse(t, dir, "HEAD")

	srv := githubtest.New(t, ghToken)
	summary := filepath.Join(t.TempDir(), "summary.md")
	r := droverEnv(t, dir, actionsEnv(srv, prEventFile(t, "opened", base, head, false), summary), "plan", "--github-comment", "--repo", dir, "--source", "prod")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	wantGitHubCalls(t, srv, listCall, createCall, "POST /repos/Codertocat/Hello-World/statuses/"+head)
	cs := srv.Comments("Codertocat", "Hello-World", ghPRNumber)
	if len(cs) != 1 {
		t.Fatalf("%d comments, want 1", len(cs))
	}
	body := cs[0].Body
	for _, want := range []string{"<!-- drover:plan source=prod -->\n", "+/- Job: \"web\"", `"nginx:1.25" => "nginx:1.27"`, "<details>", "```diff"} {
		if !strings.Contains(body, want) {
			t.Errorf("comment lacks %q:\n%s", want, body)
		}
	}
	for _, leak := range []string{"s3cr3t", ghToken} {
		if strings.Contains(body, leak) || strings.Contains(r.stdout, leak) || strings.Contains(r.stderr, leak) {
			t.Errorf("output leaks %q", leak)
		}
	}
	st := srv.Statuses(head)
	if len(st) != 1 || st[0].State != "success" || st[0].Context != "drover/plan" ||
		st[0].Description != "Plan: 0 to create, 1 to update, 0 to stop" || st[0].TargetURL == "" {
		t.Fatalf("statuses = %+v", st)
	}
	if b, _ := os.ReadFile(summary); !strings.Contains(string(b), `"nginx:1.27"`) {
		t.Errorf("step summary lacks the plan: %q", b)
	}

	// synchronize: a newer push edits the same comment.
	writeFile(t, filepath.Join(dir, "jobs/web.nomad.hcl"), webJob("nginx:1.29", 3))
	git("commit", "-q", "-am", "bump again")
	head2 := revParse(t, dir, "HEAD")
	srv.ResetCalls()
	r = droverEnv(t, dir, actionsEnv(srv, prEventFile(t, "synchronize", base, head2, false), summary), "plan", "--github-comment", "--repo", dir, "--source", "prod")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	wantGitHubCalls(t, srv, listCall, "PATCH /repos/Codertocat/Hello-World/issues/comments/"+itoa(cs[0].ID), "POST /repos/Codertocat/Hello-World/statuses/"+head2)
	cs = srv.Comments("Codertocat", "Hello-World", ghPRNumber)
	if len(cs) != 1 || !strings.Contains(cs[0].Body, `"nginx:1.29"`) || strings.Contains(cs[0].Body, `"nginx:1.27"`) {
		t.Fatalf("comments after synchronize: %+v", cs)
	}

	// closed: left alone.
	srv.ResetCalls()
	r = droverEnv(t, dir, actionsEnv(srv, prEventFile(t, "closed", base, head2, false), summary), "plan", "--github-comment", "--repo", dir)
	if r.code != 0 {
		t.Fatalf("closed: exit %d: %s", r.code, r.stderr)
	}
	wantGitHubCalls(t, srv)
}

func TestPlanGitHubCommentInvalidHeadAndFork(t *testing.T) {
	dir, git := gitRepo(t)
	writeFile(t, filepath.Join(dir, "jobs/web.nomad.hcl"), webJob("nginx:1.25", 2))
	git("add", "-A")
	git("commit", "-q", "-m", "base")
	base := revParse(t, dir, "HEAD")
	writeFile(t, filepath.Join(dir, "jobs/web.nomad.hcl"), strings.Replace(webJob("nginx:1.27", 2), "driver =", "drivre =", 1))
	git("commit", "-q", "-am", "typo")
	head := revParse(t, dir, "HEAD")

	srv := githubtest.New(t, ghToken)
	r := droverEnv(t, dir, actionsEnv(srv, prEventFile(t, "opened", base, head, true), filepath.Join(t.TempDir(), "s")), "plan", "--github-comment", "--repo", dir)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\nstderr: %s", r.code, r.stderr)
	}
	wantGitHubCalls(t, srv, listCall, createCall, "POST /repos/Codertocat/Hello-World/statuses/"+head)
	body := srv.Comments("Codertocat", "Hello-World", ghPRNumber)[0].Body
	if !strings.Contains(body, "jobs/web.nomad.hcl:") || !strings.Contains(body, "do not load") || strings.Contains(body, "s3cr3t") {
		t.Fatalf("comment:\n%s", body)
	}
	if st := srv.Statuses(head); len(st) != 1 || st[0].State != "failure" || !strings.Contains(st[0].Description, "do not load") {
		t.Fatalf("statuses = %+v", st)
	}
}

func TestPlanGitHubCommentGitHubFailures(t *testing.T) {
	dir, git := gitRepo(t)
	writeFile(t, filepath.Join(dir, "jobs/web.nomad.hcl"), webJob("nginx:1.25", 2))
	git("add", "-A")
	git("commit", "-q", "-m", "base")
	base := revParse(t, dir, "HEAD")
	writeFile(t, filepath.Join(dir, "jobs/web.nomad.hcl"), webJob("nginx:1.27", 2))
	git("commit", "-q", "-am", "bump")
	head := revParse(t, dir, "HEAD")
	event := prEventFile(t, "opened", base, head, true)

	t.Run("read-only token (fork)", func(t *testing.T) {
		srv := githubtest.New(t, ghToken)
		srv.SetReadOnly(true)
		r := droverEnv(t, dir, actionsEnv(srv, event, filepath.Join(t.TempDir(), "s")), "plan", "--github-comment", "--repo", dir)
		if r.code != 1 || !strings.Contains(r.stderr, "read-only GITHUB_TOKEN") || strings.Contains(r.stderr, ghToken) {
			t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
		}
		wantGitHubCalls(t, srv, listCall, createCall)
	})
	t.Run("500 then ok", func(t *testing.T) {
		srv := githubtest.New(t, ghToken)
		srv.Fail(githubtest.Fault{Status: 500, Body: `{"message":"boom"}`})
		r := droverEnv(t, dir, actionsEnv(srv, event, filepath.Join(t.TempDir(), "s")), "plan", "--github-comment", "--repo", dir)
		if r.code != 0 {
			t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
		}
		wantGitHubCalls(t, srv, listCall, listCall, createCall, "POST /repos/Codertocat/Hello-World/statuses/"+head)
	})
	t.Run("wrong token", func(t *testing.T) {
		srv := githubtest.New(t, "another-token")
		r := droverEnv(t, dir, actionsEnv(srv, event, filepath.Join(t.TempDir(), "s")), "plan", "--github-comment", "--repo", dir)
		if r.code != 1 || strings.Contains(r.stderr, ghToken) || !strings.Contains(r.stderr, "Bad credentials") {
			t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
		}
	})
	t.Run("not an Actions job", func(t *testing.T) {
		r := droverEnv(t, dir, []string{"GITHUB_EVENT_PATH="}, "plan", "--github-comment", "--repo", dir)
		if r.code != 1 || !strings.Contains(r.stderr, "GITHUB_EVENT_PATH") {
			t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
		}
	})
	t.Run("head not in the clone", func(t *testing.T) {
		srv := githubtest.New(t, ghToken)
		ev := prEventFile(t, "opened", base, strings.Repeat("e", 40), true)
		r := droverEnv(t, dir, actionsEnv(srv, ev, filepath.Join(t.TempDir(), "s")), "plan", "--github-comment", "--repo", dir)
		if r.code != 1 || !strings.Contains(r.stderr, "fetch-depth: 0") {
			t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
		}
		wantGitHubCalls(t, srv)
	})
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestPlanGitHubCommentHugePlan(t *testing.T) {
	dir, git := gitRepo(t)
	writeFile(t, filepath.Join(dir, "jobs/keep.nomad.hcl"), batchJob)
	git("add", "-A")
	git("commit", "-q", "-m", "base")
	base := revParse(t, dir, "HEAD")
	for i := range 400 {
		job := strings.Replace(webJob("nginx:1.27-"+strings.Repeat("x", 60), 2), `job "web"`, `job "web-`+itoa(int64(i))+`"`, 1)
		writeFile(t, filepath.Join(dir, "jobs", "web-"+itoa(int64(i))+".nomad.hcl"), job)
	}
	git("add", "-A")
	git("commit", "-q", "-m", "many jobs")
	head := revParse(t, dir, "HEAD")

	srv := githubtest.New(t, ghToken)
	r := droverEnv(t, dir, actionsEnv(srv, prEventFile(t, "opened", base, head, false), filepath.Join(t.TempDir(), "s")), "plan", "--github-comment", "--repo", dir)
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	wantGitHubCalls(t, srv, listCall, createCall, "POST /repos/Codertocat/Hello-World/statuses/"+head)
	body := srv.Comments("Codertocat", "Hello-World", ghPRNumber)[0].Body
	if n := len([]rune(body)); n > 65536 || n < 60000 {
		t.Fatalf("comment has %d characters, want just below 65,536", n)
	}
	if !strings.Contains(body, "omitted") || strings.Contains(body, "s3cr3t") {
		t.Fatalf("huge comment lacks the omission note or leaks a secret: ...%s", body[len(body)-500:])
	}
	if st := srv.Statuses(head); len(st) != 1 || st[0].Description != "Plan: 400 to create, 0 to update, 0 to stop" {
		t.Fatalf("statuses = %+v", st)
	}
}
