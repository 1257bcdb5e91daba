package github_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/forge/github"
	"github.com/droverhq/drover/forge/github/githubtest"
)

func runQueue(t *testing.T, q *github.StatusQueue) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { q.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStatusQueueRetriesWhileGitHubIsDown(t *testing.T) {
	srv := githubtest.New(t, token)
	// GitHub is down for the first five requests.
	for range 5 {
		srv.Fail(githubtest.Fault{Status: 503, Body: `{"message":"unavailable"}`})
	}
	c := newClient(t, srv, func(c *github.Config) { c.Attempts = 1 })
	q := github.NewStatusQueue(c, nil)
	q.RetryBase, q.RetryMax = 10*time.Millisecond, 50*time.Millisecond
	sha := strings.Repeat("1", 40)

	start := time.Now()
	q.Enqueue("acme", "infra", sha, github.Status{Context: github.ContextDeploy, State: github.StatePending, Description: "rolling out"})
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("Enqueue blocked for %s", d)
	}
	runQueue(t, q)
	waitFor(t, "the status to land", func() bool { return len(srv.Statuses(sha)) == 1 })
	if n := len(srv.Calls()); n != 6 {
		t.Fatalf("%d calls, want 5 failures and 1 success", n)
	}
	// The same status again is not re-sent; a new one is.
	q.Enqueue("acme", "infra", sha, github.Status{Context: github.ContextDeploy, State: github.StatePending, Description: "rolling out"})
	q.Enqueue("acme", "infra", sha, github.Status{Context: github.ContextDeploy, State: github.StateSuccess, Description: "healthy"})
	waitFor(t, "success", func() bool { return len(srv.Statuses(sha)) == 2 })
	time.Sleep(50 * time.Millisecond)
	if st := srv.Statuses(sha); len(st) != 2 || st[1].State != "success" {
		t.Fatalf("statuses = %+v", st)
	}
}

func TestStatusQueueCoalescesAndDropsForbidden(t *testing.T) {
	srv := githubtest.New(t, token)
	c := newClient(t, srv)
	q := github.NewStatusQueue(c, nil)
	sha := strings.Repeat("2", 40)
	// Not running yet: pending is replaced by failure before it is sent.
	q.Enqueue("acme", "infra", sha, github.Status{Context: github.ContextDeploy, State: github.StatePending})
	q.Enqueue("acme", "infra", sha, github.Status{Context: github.ContextDeploy, State: github.StateFailure, Description: "crashed"})
	if q.Pending() != 1 {
		t.Fatalf("pending = %d, want 1", q.Pending())
	}
	runQueue(t, q)
	waitFor(t, "failure", func() bool { return len(srv.Statuses(sha)) == 1 })
	if st := srv.Statuses(sha); st[0].State != "failure" {
		t.Fatalf("statuses = %+v", st)
	}

	srv.SetReadOnly(true)
	q.Enqueue("acme", "infra", sha, github.Status{Context: github.ContextPlan, State: github.StateSuccess})
	waitFor(t, "the forbidden status to be dropped", func() bool { return q.Pending() == 0 })
	if n := len(srv.Calls()); n != 2 {
		t.Fatalf("%d calls, want 2 (a 403 is not retried)", n)
	}
}
