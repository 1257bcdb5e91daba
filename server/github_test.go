package server_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/forge/github/githubtest"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

const ghToken = "ghs_server_token_0123456789"

func withGitHub(gh *githubtest.Server) func(*server.Config) {
	return func(c *server.Config) {
		c.GitHub = server.GitHubConfig{
			APIURL: gh.URL, Token: ghToken, ExternalURL: "https://drover.example.com",
			Repositories: map[string]string{"apps": "acme/deploy"},
		}
	}
}

// actAsAgent sets the client status of the job's allocations of version v.
func actAsAgent(t *testing.T, c *api.Client, node, jobID string, v uint64, status string) {
	t.Helper()
	servertest.WaitFor(t, "allocations of "+jobID, func() bool {
		allocs, _, err := c.Nodes().Allocations(ctxT(t), node, nil)
		if err != nil {
			t.Fatal(err)
		}
		var upd []*cluster.Allocation
		for _, a := range allocs {
			if a.JobID == jobID && a.JobVersion == v && a.DesiredStatus == cluster.AllocDesiredRun {
				b := *a
				b.ClientStatus = status
				b.TaskStates = map[string]*cluster.TaskState{"t": {State: cluster.TaskStateRunning}}
				healthy := status == cluster.AllocClientRunning
				if !healthy {
					b.TaskStates["t"] = &cluster.TaskState{State: cluster.TaskStateDead, Failed: true}
				}
				// As an agent reports health within a deployment.
				b.DeploymentStatus = &cluster.AllocDeploymentStatus{Healthy: &healthy, Timestamp: time.Now()}
				upd = append(upd, &b)
			}
		}
		if len(upd) == 0 {
			return false
		}
		if _, err := asNode(c, node).Nodes().UpdateAllocs(ctxT(t), node, upd); err != nil {
			t.Fatal(err)
		}
		return true
	})
}

func states(gh *githubtest.Server, sha string) []string {
	var out []string
	for _, st := range gh.Statuses(sha) {
		out = append(out, st.State)
	}
	return out
}

func waitStates(t *testing.T, gh *githubtest.Server, sha string, want ...string) []githubtest.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !slices.Equal(states(gh, sha), want) {
		if time.Now().After(deadline) {
			t.Fatalf("statuses of %s = %v, want %v", sha[:7], states(gh, sha), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return gh.Statuses(sha)
}

// TestDeployStatuses: a push that deploys sets drover/deploy pending then
// success; a push whose task crashes ends in failure; a rejected commit
// is a failure with its reason.
func TestDeployStatuses(t *testing.T) {
	gh := githubtest.New(t, ghToken)
	r := gittest.New(t)
	first := r.Commit("Add web", map[string]string{"web.hcl": gittest.Job("web", 1)})
	s := servertest.Single(t, withSource("apps", r.Dir, ""), withGitHub(gh))
	c := s.Client
	node := registerNodes(t, c, 1)[0].ID
	waitSync(t, c, "apps", "the first commit", applied(first))
	waitStates(t, gh, first, "pending")
	actAsAgent(t, c, node, "web", 0, cluster.AllocClientRunning)
	sts := waitStates(t, gh, first, "pending", "success")
	for _, st := range sts {
		if st.Context != "drover/deploy" || st.TargetURL != "https://drover.example.com/v1/sync/apps" {
			t.Errorf("status = %+v", st)
		}
	}

	// A crash is a failure once the scheduler gives up: the group allows
	// no reschedule (with attempts left, it stays pending; see
	// reconciler.Assess).
	crashing := strings.Replace(gittest.Job("web", 1), "/bin/sleep", "/bin/false", 1)
	crashing = strings.Replace(crashing, "    task \"t\" {", "    reschedule {\n      attempts  = 0\n      unlimited = false\n    }\n    task \"t\" {", 1)
	crash := r.Commit("Crash web", map[string]string{"web.hcl": crashing})
	waitSync(t, c, "apps", "the crashing commit", applied(crash))
	waitStates(t, gh, crash, "pending")
	actAsAgent(t, c, node, "web", 1, cluster.AllocClientFailed)
	sts = waitStates(t, gh, crash, "pending", "failure")
	if !strings.Contains(sts[1].Description, "job web") || !strings.Contains(sts[1].Description, "failed") {
		t.Errorf("failure description = %q", sts[1].Description)
	}

	bad := r.Commit("Break web", map[string]string{"web.hcl": "job \"web\" {\n  group \"g\" {\n    count = = 3\n"})
	waitSync(t, c, "apps", "the invalid commit", outcome(bad, cluster.CommitRejected))
	sts = waitStates(t, gh, bad, "failure")
	if !strings.HasPrefix(sts[0].Description, "rejected: web.hcl:3:") {
		t.Errorf("rejection description = %q", sts[0].Description)
	}

	// Every call was a status on one of the three commits, no more.
	want := []string{}
	for _, sha := range []string{first, first, crash, crash, bad} {
		want = append(want, "POST /repos/acme/deploy/statuses/"+sha)
	}
	got := gh.CallStrings()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("GitHub calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDeployStatusesGitHubDown: GitHub answering 500 or refusing the
// token never holds up a deploy; a 500 is retried.
func TestDeployStatusesGitHubDown(t *testing.T) {
	gh := githubtest.New(t, ghToken)
	gh.Fail(githubtest.Fault{Status: 500}, githubtest.Fault{Status: 502})
	r := gittest.New(t)
	first := r.Commit("Add web", map[string]string{"web.hcl": gittest.Job("web", 1)})
	s := servertest.Single(t, withSource("apps", r.Dir, ""), withGitHub(gh))
	c := s.Client
	registerNodes(t, c, 1)
	waitSync(t, c, "apps", "the first commit", applied(first))
	waitStates(t, gh, first, "pending")
	if n := len(gh.Calls()); n != 3 {
		t.Errorf("%d calls, want 3 (two failures, then the status)", n)
	}

	// A token without permission: statuses are dropped, deploys go on.
	gh.SetReadOnly(true)
	second := r.Commit("Scale web", map[string]string{"web.hcl": gittest.Job("web", 2)})
	waitSync(t, c, "apps", "the second commit", applied(second))
	servertest.WaitFor(t, "the refused status", func() bool {
		for _, call := range gh.Calls() {
			if call.Path == "/repos/acme/deploy/statuses/"+second && call.Status == 403 {
				return true
			}
		}
		return false
	})
	if h, err := c.Agent().Health(ctxT(t)); err != nil || h == nil {
		t.Errorf("server unhealthy after GitHub refused: %v", err)
	}
}
