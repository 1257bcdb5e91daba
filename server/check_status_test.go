package server_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
	"github.com/droverhq/drover/state"
)

// A node reports its checks with its allocations, within bounds: more
// checks or longer output than cluster.MaxCheckStatuses and
// MaxCheckOutput refuse the whole update, and nothing is written.
func TestNodeCheckStatusesAreBounded(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	c := s.Client
	n := registerNodes(t, c, 1)[0]
	job := parseJob(t, webJob("web", 1, ""))
	if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: job}); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, c, "web")
	allocs, _, err := c.Nodes().Allocations(ctxT(t), n.ID, nil)
	if err != nil || len(allocs) != 1 {
		t.Fatalf("allocs = %v, %v", allocs, err)
	}
	asN := asNode(c, n.ID)
	ok := cluster.CheckStatus{Name: "alive", Service: "web", Status: "critical", Output: "HTTP 500"}
	many := make([]cluster.CheckStatus, cluster.MaxCheckStatuses+1)
	for i := range many {
		many[i] = ok
	}
	long := ok
	long.Output = strings.Repeat("x", 1<<20)
	bad := ok
	bad.Status = "dead"
	before := s.State().Store().Snapshot().Index(state.TableAllocs)
	for _, tc := range []struct {
		name string
		cs   []cluster.CheckStatus
		msg  string
	}{
		{"too many checks", many, "at most 64 per allocation"},
		{"a megabyte of output", []cluster.CheckStatus{long}, "at most 256"},
		{"an unknown status", []cluster.CheckStatus{bad}, "want passing, warning or critical"},
	} {
		a := &cluster.Allocation{ID: allocs[0].ID, ClientStatus: cluster.AllocClientRunning, CheckStatuses: tc.cs}
		_, err := asN.Nodes().UpdateAllocs(ctxT(t), n.ID, []*cluster.Allocation{a})
		var se *api.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusBadRequest || !strings.Contains(se.Message, tc.msg) {
			t.Fatalf("%s: %v, want 400 containing %q", tc.name, err, tc.msg)
		}
	}
	if got := s.State().Store().Snapshot().Index(state.TableAllocs); got != before {
		t.Fatalf("refused updates moved the allocations index %d -> %d", before, got)
	}
	// Within bounds: stored.
	a := &cluster.Allocation{ID: allocs[0].ID, ClientStatus: cluster.AllocClientRunning, CheckStatuses: []cluster.CheckStatus{ok}}
	if _, err := asN.Nodes().UpdateAllocs(ctxT(t), n.ID, []*cluster.Allocation{a}); err != nil {
		t.Fatal(err)
	}
	if got := s.State().Store().Snapshot().Alloc(allocs[0].ID).CheckStatuses; len(got) != 1 || got[0] != ok {
		t.Fatalf("stored check statuses %+v", got)
	}
}
