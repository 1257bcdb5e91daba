package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/render"
)

// TestPlanNotLaunched: a commit that adds a periodic and a parameterized
// job and changes a service plans all three, and every format of the plan
// (text, Markdown, JSON, and the pull-request comment) says that the
// first two will be stored but not run.
func TestPlanNotLaunched(t *testing.T) {
	dir, git := gitRepo(t)
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), spreadJob("web", 1, ""))
	git("add", "-A")
	git("commit", "-q", "-m", "web")
	base := revParse(t, dir, "HEAD")
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), spreadJob("web", 2, ""))
	writeFile(t, filepath.Join(dir, "report.nomad.hcl"), periodicJob)
	writeFile(t, filepath.Join(dir, "resize.nomad.hcl"), parameterizedJob)
	git("add", "-A")
	git("commit", "-q", "-m", "scale web, add the report and resize")
	head := revParse(t, dir, "HEAD")

	const (
		parameterized = "parameterized job: stored; runs when dispatched (drover job dispatch)"
	)
	ctx := context.Background()
	plan := func(extra ...string) string {
		t.Helper()
		var c capture
		if code := run(ctx, append([]string{"plan", "--repo", dir, "--head", "HEAD"}, extra...), c.stdio()); code != exitChanges {
			t.Fatalf("plan %v: exit %d, want %d\nstderr: %s", extra, code, exitChanges, c.err.String())
		}
		return c.out.String()
	}

	txt := plan()
	for _, want := range []string{"+ Job: \"nightly-report\"", "Note: " + parameterized + "\n"} {
		if !strings.Contains(txt, want) {
			t.Errorf("text plan lacks %q:\n%s", want, txt)
		}
	}
	// A periodic job runs (the leader launches it): no note.
	if n := strings.Count(txt, "Note: "); n != 1 {
		t.Errorf("text plan has %d notes, want 1 (none for web or the periodic job):\n%s", n, txt)
	}

	md := plan("-markdown")
	for _, want := range []string{"<b>nightly-report</b>: create (1 create)</summary>", "<b>resize</b>: create (1 create) — <i>" + parameterized + "</i>"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown plan lacks %q:\n%s", want, md)
		}
	}

	var js render.JSONPlan
	if err := json.Unmarshal([]byte(plan("-json")), &js); err != nil {
		t.Fatal(err)
	}
	notes := map[string]string{}
	for _, j := range js.Jobs {
		notes[j.ID] = j.NotLaunched
	}
	if notes["nightly-report"] != "" || notes["resize"] != parameterized || notes["web"] != "" || len(notes) != 3 {
		t.Errorf("not_launched by job = %q", notes)
	}

	// The pull-request comment, planned offline between the two commits.
	var c capture
	pc, err := planPullRequest(ctx, planOptions{repoDir: dir, source: "prod"}, base, head, c.stdio())
	if err != nil {
		t.Fatal(err)
	}
	body, err := pc.Body()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, "periodic job:") || !strings.Contains(body, "<i>"+parameterized+"</i>") {
		t.Errorf("the pull-request comment lacks the notes:\n%s", body)
	}
}
