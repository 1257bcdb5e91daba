package github_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/droverhq/drover/forge/github"
	"github.com/droverhq/drover/forge/github/githubtest"
)

const token = "ghs_testtoken1234567890"

func newClient(t *testing.T, srv *githubtest.Server, mod ...func(*github.Config)) *github.Client {
	t.Helper()
	cfg := github.DefaultConfig()
	cfg.APIURL = srv.URL
	cfg.Token = token
	cfg.Timeout = 2 * time.Second
	cfg.Backoff = 10 * time.Millisecond
	cfg.MaxWait = 5 * time.Second
	for _, m := range mod {
		m(&cfg)
	}
	c, err := github.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantCalls(t *testing.T, srv *githubtest.Server, want ...string) {
	t.Helper()
	if got := srv.CallStrings(); !slices.Equal(got, want) {
		t.Fatalf("calls:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

const (
	listPR7   = "GET /repos/acme/infra/issues/7/comments?per_page=100"
	createPR7 = "POST /repos/acme/infra/issues/7/comments"
)

func TestUpsertCreatesThenEdits(t *testing.T) {
	srv := githubtest.New(t, token)
	srv.AddComment("acme", "infra", 7, "LGTM")
	c := newClient(t, srv)
	ctx := context.Background()
	marker := github.PlanMarker("prod")

	res, err := c.UpsertComment(ctx, "acme", "infra", 7, marker, "plan one")
	if err != nil || !res.Created {
		t.Fatalf("first upsert: %+v, %v", res, err)
	}
	wantCalls(t, srv, listPR7, createPR7)
	call := srv.Calls()[1]
	if call.Body != `{"body":"<!-- drover:plan source=prod -->\nplan one"}`+"\n" {
		t.Errorf("create body = %q", call.Body)
	}

	srv.ResetCalls()
	res2, err := c.UpsertComment(ctx, "acme", "infra", 7, marker, "plan two")
	if err != nil || !res2.Updated || res2.ID != res.ID {
		t.Fatalf("second upsert: %+v, %v", res2, err)
	}
	wantCalls(t, srv, listPR7, "PATCH /repos/acme/infra/issues/comments/"+strconv.FormatInt(res.ID, 10))

	// The same plan again changes nothing.
	srv.ResetCalls()
	res3, err := c.UpsertComment(ctx, "acme", "infra", 7, marker, "plan two")
	if err != nil || res3.Updated || res3.Created {
		t.Fatalf("third upsert: %+v, %v", res3, err)
	}
	wantCalls(t, srv, listPR7)

	// Another source gets its own comment.
	srv.ResetCalls()
	if _, err := c.UpsertComment(ctx, "acme", "infra", 7, github.PlanMarker("staging"), "x"); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, srv, listPR7, createPR7)
	cs := srv.Comments("acme", "infra", 7)
	if len(cs) != 3 || cs[1].Body != marker+"\nplan two" {
		t.Fatalf("comments = %+v", cs)
	}
}

func TestUpsertFindsMarkerOnLaterPage(t *testing.T) {
	srv := githubtest.New(t, token)
	for i := range 230 {
		body := "chatter " + strconv.Itoa(i)
		if i == 150 {
			body = github.PlanMarker("prod") + "\nold plan"
		}
		srv.AddComment("acme", "infra", 7, body)
	}
	id := srv.Comments("acme", "infra", 7)[150].ID
	c := newClient(t, srv)
	res, err := c.UpsertComment(context.Background(), "acme", "infra", 7, github.PlanMarker("prod"), "new plan")
	if err != nil || !res.Updated || res.ID != id {
		t.Fatalf("upsert: %+v, %v", res, err)
	}
	wantCalls(t, srv,
		listPR7,
		"GET /repos/acme/infra/issues/7/comments?page=2&per_page=100",
		"PATCH /repos/acme/infra/issues/comments/"+strconv.FormatInt(id, 10))
	if n := len(srv.Comments("acme", "infra", 7)); n != 230 {
		t.Fatalf("%d comments, want 230 (no new one)", n)
	}
}

func TestHugeBodyIsCutBelowLimit(t *testing.T) {
	srv := githubtest.New(t, token)
	c := newClient(t, srv)
	body := "```diff\n" + strings.Repeat("+ é line of a very long plan\n", 5000) + "```\n"
	if _, err := c.UpsertComment(context.Background(), "acme", "infra", 7, github.PlanMarker("prod"), body); err != nil {
		t.Fatal(err)
	}
	got := srv.Comments("acme", "infra", 7)[0].Body
	if n := utf8.RuneCountInString(got); n > github.CommentLimit {
		t.Fatalf("body has %d characters", n)
	}
	if !utf8.ValidString(got) || !strings.Contains(got, "cut to fit") || strings.Count(got, "```")%2 != 0 {
		t.Fatalf("cut body malformed: ...%s", got[len(got)-300:])
	}
	// The fake refuses what GitHub refuses.
	req, _ := http.NewRequest("POST", srv.URL+"/api/v3/repos/acme/infra/issues/7/comments",
		strings.NewReader(`{"body":"`+strings.Repeat("a", github.CommentLimit+1)+`"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("oversized body: %d, want 422", resp.StatusCode)
	}
}

func TestSetStatus(t *testing.T) {
	srv := githubtest.New(t, token)
	c := newClient(t, srv)
	sha := strings.Repeat("ab", 20)
	err := c.SetStatus(context.Background(), "acme", "infra", sha, github.Status{
		Context: github.ContextDeploy, State: github.StateFailure,
		Description: strings.Repeat("x", 300), TargetURL: "https://drover.example/v1/sync",
	})
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, srv, "POST /repos/acme/infra/statuses/"+sha)
	st := srv.Statuses(sha)
	if len(st) != 1 || st[0].State != "failure" || st[0].Context != "drover/deploy" ||
		utf8.RuneCountInString(st[0].Description) != 140 || st[0].TargetURL != "https://drover.example/v1/sync" {
		t.Fatalf("statuses = %+v", st)
	}
	if err := c.SetStatus(context.Background(), "acme", "infra", sha, github.Status{State: "bogus"}); err == nil {
		t.Fatal("invalid state accepted")
	}
}

func TestPermissionErrorsAreNotRetried(t *testing.T) {
	srv := githubtest.New(t, token)
	srv.SetReadOnly(true)
	c := newClient(t, srv)
	_, err := c.UpsertComment(context.Background(), "acme", "infra", 7, github.PlanMarker("p"), "x")
	if !errors.Is(err, github.ErrPermission) {
		t.Fatalf("err = %v, want ErrPermission", err)
	}
	wantCalls(t, srv, listPR7, createPR7)

	bad := githubtest.New(t, "other-token")
	c = newClient(t, bad)
	err = c.SetStatus(context.Background(), "acme", "infra", strings.Repeat("a", 40), github.Status{Context: "c", State: github.StatePending})
	if !errors.Is(err, github.ErrPermission) || strings.Contains(err.Error(), token) {
		t.Fatalf("err = %v", err)
	}
	if n := len(bad.Calls()); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
}

func TestRetries(t *testing.T) {
	sha := strings.Repeat("cd", 20)
	status := github.Status{Context: github.ContextPlan, State: github.StateSuccess}
	statusCall := "POST /repos/acme/infra/statuses/" + sha
	for _, tc := range []struct {
		name   string
		faults []githubtest.Fault
		calls  int
		fail   bool
		minDur time.Duration
	}{
		{name: "500 then ok", faults: []githubtest.Fault{{Status: 500, Body: `{"message":"Server Error"}`}}, calls: 2},
		{name: "502 twice then ok", faults: []githubtest.Fault{{Status: 502}, {Status: 502}}, calls: 3},
		{name: "always 500", faults: []githubtest.Fault{{Status: 500}, {Status: 500}, {Status: 500}, {Status: 500}}, calls: 4, fail: true},
		{name: "timeout then ok", faults: []githubtest.Fault{{Delay: 3 * time.Second}}, calls: 2},
		{name: "secondary rate limit with Retry-After", faults: []githubtest.Fault{{
			Status: 403, Header: http.Header{"Retry-After": {"1"}},
			Body: `{"message":"You have exceeded a secondary rate limit","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`,
		}}, calls: 2, minDur: time.Second},
		{name: "429 with Retry-After", faults: []githubtest.Fault{{Status: 429, Header: http.Header{"Retry-After": {"1"}}, Body: `{"message":"slow down"}`}}, calls: 2, minDur: time.Second},
		{name: "primary rate limit", faults: []githubtest.Fault{{
			Status: 403,
			Header: http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Limit": {"5000"}, "X-Ratelimit-Reset": {strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)}},
			Body:   `{"message":"API rate limit exceeded"}`,
		}}, calls: 2, minDur: time.Second},
		{name: "rate limit longer than MaxWait fails fast", faults: []githubtest.Fault{{
			Status: 403,
			Header: http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Limit": {"5000"}, "X-Ratelimit-Reset": {strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)}},
			Body:   `{"message":"API rate limit exceeded"}`,
		}}, calls: 1, fail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := githubtest.New(t, token)
			srv.Fail(tc.faults...)
			c := newClient(t, srv, func(c *github.Config) { c.Timeout = time.Second })
			start := time.Now()
			err := c.SetStatus(context.Background(), "acme", "infra", sha, status)
			if (err != nil) != tc.fail {
				t.Fatalf("err = %v, want failure %v", err, tc.fail)
			}
			var want []string
			for range tc.calls {
				want = append(want, statusCall)
			}
			wantCalls(t, srv, want...)
			if d := time.Since(start); d < tc.minDur {
				t.Errorf("returned after %s, want at least %s (Retry-After / reset honoured)", d, tc.minDur)
			}
			if !tc.fail && len(srv.Statuses(sha)) != 1 {
				t.Errorf("statuses = %+v", srv.Statuses(sha))
			}
		})
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	srv := githubtest.New(t, token)
	srv.Fail(githubtest.Fault{Status: 500}, githubtest.Fault{Status: 500})
	c := newClient(t, srv, func(c *github.Config) { c.Backoff = time.Hour; c.MaxWait = 2 * time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := c.SetStatus(ctx, "acme", "infra", strings.Repeat("a", 40), github.Status{Context: "c", State: github.StatePending})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestTokenFrom(t *testing.T) {
	dir := t.TempDir()
	f := dir + "/tok"
	if err := writeFile(f, "  ghp_abc\n"); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string { return map[string]string{"GITHUB_TOKEN": "envtok"}[k] }
	if tok, err := github.TokenFrom(f, "GITHUB_TOKEN", env); err != nil || tok != "ghp_abc" {
		t.Fatalf("file: %q %v", tok, err)
	}
	if tok, err := github.TokenFrom("", "GITHUB_TOKEN", env); err != nil || tok != "envtok" {
		t.Fatalf("env: %q %v", tok, err)
	}
	if _, err := github.TokenFrom("", "NOPE", env); err == nil {
		t.Fatal("missing token accepted")
	}
	if _, err := github.TokenFrom(dir+"/missing", "GITHUB_TOKEN", env); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestMarkerCannotBreakOut(t *testing.T) {
	if m := github.PlanMarker("a --> b"); strings.Count(m, "-->") != 1 || strings.Contains(m, " b") {
		t.Fatalf("marker = %q", m)
	}
}
