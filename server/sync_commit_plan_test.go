package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/server/servertest"
)

// webWithPassword is gittest.Job("web", count) with a secret in its env.
func webWithPassword(count int, password string) string {
	return strings.Replace(gittest.Job("web", count), `driver = "exec"`,
		`driver = "exec"
      env {
        DATABASE_PASSWORD = "`+password+`"
      }`, 1)
}

// TestCommitPlanIsKeptMasked: an applied commit's record carries the plan
// the reconciler computed, served by GET /v1/sync/{source}/commit/{sha}/
// plan, and no secret of the job file reaches the record or an answer
// (attack: a pushed DATABASE_PASSWORD must not be readable with
// read-job alone).
func TestCommitPlanIsKeptMasked(t *testing.T) {
	r := gittest.New(t)
	first := r.Commit("Add web", map[string]string{"jobs/web.hcl": webWithPassword(1, "hunter2")})
	s := servertest.Single(t, withSource("apps", r.Dir, ""))
	c := s.Client
	waitSync(t, c, "apps", "the first commit", applied(first))
	second := r.Commit("Scale web", map[string]string{"jobs/web.hcl": webWithPassword(3, "hunter3")})
	st := waitSync(t, c, "apps", "the second commit", applied(second))

	t.Logf("the second commit's plan:\n%s", st.Commits[0].Plan)
	for _, o := range st.Commits {
		if o.Plan == "" {
			t.Fatalf("commit %s (%s) kept no plan", o.Commit, o.Outcome)
		}
		if strings.Contains(o.Plan, "hunter") {
			t.Errorf("the plan of %s shows the password:\n%s", o.Commit, o.Plan)
		}
	}
	if p := st.Commits[0].Plan; !strings.Contains(p, "web") || !strings.Contains(p, "Count") || !strings.Contains(p, "DATABASE_PASSWORD") {
		t.Errorf("the second commit's plan does not show web's count and env changes:\n%s", p)
	}

	ctx := context.Background()
	got, _, err := c.Sync().CommitPlan(ctx, "apps", second[:7], nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Commit != second || got.Plan != st.Commits[0].Plan {
		t.Errorf("CommitPlan = %s %q, want %s and the record's plan", got.Commit, got.Plan, second)
	}
	for _, path := range []string{
		"/v1/sync", "/v1/sync/apps",
		"/v1/sync/apps/commit/" + first + "/plan", "/v1/sync/apps/commit/" + second + "/plan?format=text",
	} {
		body, code := get(t, s.HTTPAddr(), path)
		if code != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
		if strings.Contains(body, "hunter") {
			t.Errorf("GET %s answers the password:\n%s", path, body)
		}
	}
	if body, _ := get(t, s.HTTPAddr(), "/v1/sync/apps/commit/"+second+"/plan?format=text"); !strings.Contains(body, `+/- Job: "web"`) {
		t.Errorf("?format=text is not the plan's text:\n%s", body)
	}
	for path, want := range map[string]int{
		"/v1/sync/apps/commit/abc/plan":                        http.StatusBadRequest, // too short
		"/v1/sync/apps/commit/zzzzzzzz/plan":                   http.StatusBadRequest,
		"/v1/sync/apps/commit/0000000000/plan":                 http.StatusNotFound,
		"/v1/sync/nope/commit/" + second + "/plan":             http.StatusNotFound,
		"/v1/sync/apps/commit/" + second + "/plan?format=yaml": http.StatusBadRequest,
	} {
		if body, code := get(t, s.HTTPAddr(), path); code != want {
			t.Errorf("GET %s: %d %s, want %d", path, code, body, want)
		}
	}
	if _, _, err := c.Sync().CommitPlan(ctx, "apps", "0000000000", nil); !api.IsNotFound(err) {
		t.Errorf("CommitPlan of an unknown commit: %v, want not found", err)
	}
}

func get(t *testing.T, addr, path string) (string, int) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		t.Fatal(err)
	}
	return string(b), resp.StatusCode
}
