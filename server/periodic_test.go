package server_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server/servertest"
)

// everySecond is a periodic job launched every second (robfig's
// optional leading seconds field), so that tests see launches fast.
const everySecond = `type = "batch"
  periodic {
    crons = ["* * * * * *"]
  }`

// children lists a periodic job's children through the API, oldest
// first, with their launch times.
func children(t *testing.T, c *api.Client, parent string) []*api.JobListStub {
	t.Helper()
	stubs, _, err := c.Jobs().List(ctxT(t), &api.QueryOptions{Prefix: parent + "/periodic-"})
	if err != nil {
		t.Fatalf("list children of %s: %v", parent, err)
	}
	slices.SortFunc(stubs, func(a, b *api.JobListStub) int { return strings.Compare(a.ID, b.ID) })
	for _, st := range stubs {
		if st.ParentID != parent || st.Type != "batch" {
			t.Fatalf("child %s: parent %q, type %q", st.ID, st.ParentID, st.Type)
		}
	}
	return stubs
}

func launchTime(t *testing.T, childID string) int64 {
	t.Helper()
	_, s, ok := strings.Cut(childID, "/periodic-")
	n, err := strconv.ParseInt(s, 10, 64)
	if !ok || err != nil {
		t.Fatalf("child ID %q is not <parent>/periodic-<unix>", childID)
	}
	return n
}

// TestPeriodicLaunchesChildren: the leader launches a periodic job's
// children on schedule, each registered with an evaluation the scheduler
// places; the parent itself is never placed.
func TestPeriodicLaunchesChildren(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	registerNodes(t, s.Client, 1)
	resp, err := s.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("report", 1, everySecond))})
	if err != nil {
		t.Fatal(err)
	}
	if resp.EvalID != "" || len(resp.Warnings) != 0 {
		t.Errorf("register of a periodic job: eval %q, warnings %q; want neither", resp.EvalID, resp.Warnings)
	}
	var kids []*api.JobListStub
	servertest.WaitFor(t, "three children", func() bool {
		kids = children(t, s.Client, "report")
		return len(kids) >= 3
	})
	for _, k := range kids[:3] {
		servertest.WaitFor(t, k.ID+" to be placed", func() bool {
			allocs, _, err := s.Client.Jobs().Allocations(ctxT(t), k.ID, nil)
			return err == nil && len(liveAllocs(allocs)) == 1
		})
	}
	if allocs, _, err := s.Client.Jobs().Allocations(ctxT(t), "report", nil); err != nil || len(allocs) != 0 {
		t.Errorf("the periodic parent has %d allocations (%v), want none", len(allocs), err)
	}
	// Stopped: no more launches.
	if _, err := s.Client.Jobs().Deregister(ctxT(t), "report", false); err != nil {
		t.Fatal(err)
	}
	n := len(children(t, s.Client, "report"))
	time.Sleep(2 * time.Second)
	if got := len(children(t, s.Client, "report")); got > n+1 {
		t.Errorf("%d children 2 s after the stop, had %d", got, n)
	}
}

// TestPeriodicProhibitOverlap: while a child still runs, launches are
// skipped.
func TestPeriodicProhibitOverlap(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	registerNodes(t, s.Client, 1)
	job := parseJob(t, webJob("report", 1, strings.Replace(everySecond, "crons", "prohibit_overlap = true\n    crons", 1)))
	if !job.Periodic.ProhibitOverlap {
		t.Fatal("prohibit_overlap not parsed")
	}
	if _, err := s.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: job}); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, "a child", func() bool { return len(children(t, s.Client, "report")) >= 1 })
	// Nothing runs the child's allocation to completion (no agent), so
	// it stays running and every later launch is skipped.
	time.Sleep(3 * time.Second)
	if kids := children(t, s.Client, "report"); len(kids) != 1 {
		t.Errorf("%d children with prohibit_overlap and the first still running, want 1", len(kids))
	}
}

// TestPeriodicForce: `job periodic force` launches a child now, for a
// job whose schedule is far away; a job that is not periodic is refused.
func TestPeriodicForce(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	registerNodes(t, s.Client, 1)
	yearly := `type = "batch"
  periodic {
    cron = "@yearly"
  }`
	for _, j := range []string{webJob("report", 1, yearly), webJob("web", 1, "")} {
		if _, err := s.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, j)}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := s.Client.Jobs().PeriodicForce(ctxT(t), "report")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.ChildID, "report/periodic-") || resp.EvalID == "" || resp.Index == 0 {
		t.Fatalf("force = %+v", resp)
	}
	servertest.WaitFor(t, "the forced child to be placed", func() bool {
		allocs, _, err := s.Client.Jobs().Allocations(ctxT(t), resp.ChildID, nil)
		return err == nil && len(liveAllocs(allocs)) == 1
	})
	if kids := children(t, s.Client, "report"); len(kids) != 1 || kids[0].ID != resp.ChildID {
		t.Errorf("children after a force: %d, want only %s", len(kids), resp.ChildID)
	}
	for id, want := range map[string]int{"web": http.StatusBadRequest, "nope": http.StatusNotFound} {
		_, err := s.Client.Jobs().PeriodicForce(ctxT(t), id)
		if se, ok := err.(*api.StatusError); !ok || se.Code != want {
			t.Errorf("force %s = %v, want status %d", id, err, want)
		}
	}
}

// TestPeriodicAcrossLeaderChange: with three servers, the leader stops;
// the new one carries on launching from the recorded launch, and no
// launch time is launched twice (one child, one evaluation each).
func TestPeriodicAcrossLeaderChange(t *testing.T) {
	servers := servertest.Cluster(t, 3, noHeartbeats)
	leader := servertest.Leader(servers)
	registerNodes(t, leader.Client, 1)
	if _, err := leader.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("report", 1, everySecond))}); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, "two children", func() bool { return len(children(t, leader.Client, "report")) >= 2 })
	if err := leader.Stop(); err != nil {
		t.Fatal(err)
	}
	fs := followers(servers, leader)
	var next *servertest.Server
	servertest.WaitFor(t, "a new leader", func() bool {
		next = servertest.Leader(fs)
		return next != nil
	})
	var before int
	servertest.WaitFor(t, "the new leader to read", func() bool {
		stubs, _, err := next.Client.Jobs().List(ctxT(t), &api.QueryOptions{Prefix: "report/periodic-"})
		before = len(stubs)
		return err == nil
	})
	servertest.WaitFor(t, "the new leader to launch two more", func() bool {
		return len(children(t, next.Client, "report")) >= before+2
	})
	if _, err := next.Client.Jobs().Deregister(ctxT(t), "report", false); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, k := range children(t, next.Client, "report") {
		at := launchTime(t, k.ID)
		if seen[at] {
			t.Errorf("launch time %d twice", at)
		}
		seen[at] = true
		evals, _, err := next.Client.Jobs().Evaluations(ctxT(t), k.ID, nil)
		if err != nil || len(evals) != 1 {
			t.Errorf("%s has %d evaluations (%v), want 1", k.ID, len(evals), err)
		}
	}
}
