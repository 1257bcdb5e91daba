package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

const (
	periodicExtra = `type = "batch"
  periodic {
    crons = ["0 3 * * *"]
  }`
	parameterizedExtra = `type = "batch"
  parameterized {
    payload = "optional"
  }`
	parameterizedNote = "parameterized job: stored; runs when dispatched (drover job dispatch)"
)

// TestJobPlanSaysNotLaunched: the plan endpoint's diff carries the same
// not_launched note as `drover plan` for a job Drover stores without
// running, next to the warning, and none for a job that runs.
func TestJobPlanSaysNotLaunched(t *testing.T) {
	s := servertest.Single(t)
	for _, tc := range []struct {
		name, extra, note string
	}{
		{"service", "", ""},
		// A periodic job runs (periodic.go): no note, no warning.
		{"periodic", periodicExtra, ""},
		{"parameterized", parameterizedExtra, parameterizedNote},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := s.Client.Jobs().Plan(ctxT(t), parseJob(t, webJob(tc.name, 1, tc.extra)))
			if err != nil {
				t.Fatal(err)
			}
			notes := map[string]string{}
			for _, j := range plan.Diff.Jobs {
				notes[j.ID] = j.NotLaunched
			}
			if len(notes) != 1 || notes[tc.name] != tc.note {
				t.Fatalf("not_launched by job = %q, want %s: %q", notes, tc.name, tc.note)
			}
			var want []string
			if tc.note != "" {
				want = []string{tc.note}
			}
			if strings.Join(plan.Warnings, "\n") != strings.Join(want, "\n") {
				t.Errorf("warnings = %q, want %q", plan.Warnings, want)
			}
		})
	}
}

// TestJobListSaysStoppedByHandAndNotLaunched: a row of the job list
// carries what the CLI needs to tell the truth without a request per
// job: the source of the version a stop by hand replaced (for a job
// that came from Git; none for one submitted by hand), and the kind of a
// job that Drover stores but does not launch.
func TestJobListSaysStoppedByHandAndNotLaunched(t *testing.T) {
	s := servertest.Single(t)
	c := s.Client
	src := &cluster.Source{Name: "apps", Repo: "https://git.example/apps.git", Commit: "abc1234def5678", Path: "git.hcl"}
	for _, r := range []*api.JobRegisterRequest{
		{Job: parseJob(t, webJob("git", 1, "")), Source: src},
		{Job: parseJob(t, webJob("adhoc", 1, ""))},
		{Job: parseJob(t, webJob("report", 1, periodicExtra)), Source: src},
		{Job: parseJob(t, webJob("resize", 1, parameterizedExtra))},
	} {
		if _, err := c.Jobs().Register(ctxT(t), r); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"git", "adhoc"} {
		if _, err := c.Jobs().Deregister(ctxT(t), id, false); err != nil {
			t.Fatal(err)
		}
	}
	stubs, _, err := c.Jobs().List(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Stop        bool
		Source      string
		BeforeStop  string
		NotLaunched string
	}
	commit := func(s *cluster.Source) string {
		if s == nil {
			return ""
		}
		return s.Name + "@" + s.Commit
	}
	got := map[string]row{}
	for _, st := range stubs {
		got[st.ID] = row{st.Stop, commit(st.Source), commit(st.BeforeStop), st.NotLaunched}
	}
	want := map[string]row{
		"git":    {Stop: true, BeforeStop: "apps@abc1234def5678"},
		"adhoc":  {Stop: true},
		"report": {Source: "apps@abc1234def5678"},
		"resize": {NotLaunched: "parameterized"},
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: list row %+v, want %+v", id, got[id], w)
		}
	}
	// The JSON names the fields as the other list fields are named.
	b, err := json.Marshal(stubs)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"before_stop":{`, `"not_launched":"parameterized"`} {
		if !strings.Contains(string(b), w) {
			t.Errorf("list JSON lacks %s:\n%s", w, b)
		}
	}
}

// TestInvalidJobCountsProblems: the 400 for an invalid job counts its
// problems in words that agree with the number.
func TestInvalidJobCountsProblems(t *testing.T) {
	s := servertest.Single(t)
	base := "http://" + s.HTTPAddr()
	for _, tc := range []struct {
		name string
		body func(*testing.T) []byte
		want string
	}{
		{"one", func(t *testing.T) []byte {
			job := parseJob(t, webJob("web", 1, ""))
			job.Groups[0].Count = -1
			return mustJSON(t, api.JobRegisterRequest{Job: job})
		}, "invalid job: 1 problem: "},
		{"three", func(t *testing.T) []byte {
			job := parseJob(t, webJob("web", 1, ""))
			job.Groups[0].Tasks[0].Driver = "podman"
			job.Groups[0].Tasks[0].Resources.MemoryMB = 0
			job.Groups[0].Count = -1
			return mustJSON(t, api.JobRegisterRequest{Job: job})
		}, "invalid job: 3 problems: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, e := rawRequest(t, "POST", base+"/v1/jobs", "", tc.body(t))
			if code != http.StatusBadRequest || !strings.HasPrefix(e.Error, tc.want) {
				t.Fatalf("invalid job = %d %q, want 400 starting %q", code, e.Error, tc.want)
			}
		})
	}
}

// TestPullRequestPreviewSaysNotLaunched: a PR that adds a parameterized
// job gets a plan comment that says, next to the job, that Drover will
// store it without running it, as `drover plan` says.
func TestPullRequestPreviewSaysNotLaunched(t *testing.T) {
	r, gh, s := previewFixture(t)
	head := prCommit(t, r, "Add the report", map[string]string{"report.hcl": webJob("report", 1, parameterizedExtra)})
	if code, st := sendPR(t, s, prPayload(t, "pull_request__opened.payload.json", "opened", r.Dir, head, false)); code != http.StatusAccepted || st != "accepted" {
		t.Fatalf("opened: %d %s", code, st)
	}
	waitCalls(t, gh, prList, prCreate, "POST /repos/Codertocat/Hello-World/statuses/"+head)
	cs := gh.Comments("Codertocat", "Hello-World", 2)
	if len(cs) != 1 {
		t.Fatalf("%d comments", len(cs))
	}
	if got := strings.Count(cs[0].Body, parameterizedNote); got != 1 {
		t.Errorf("comment has the note %d times, want once:\n%s", got, cs[0].Body)
	}
}
