package state_test

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/state"
)

// serviceHarness is a cluster of one job "api" (group "web", task
// "server") with a service "api" on port "http", and node n1.
func serviceHarness(t *testing.T) *fsmHarness {
	t.Helper()
	h := newFSM(t)
	n := testNode("n1")
	n.Attributes[cluster.NodeAttrIP] = "192.0.2.1"
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: n, Now: t0})
	n2 := testNode("n2")
	n2.Attributes[cluster.NodeAttrIP] = "192.0.2.2"
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: n2, Now: t0})
	j := testJob("api", "c1", 2)
	j.Spec.Groups[0].Services = []jobspec.Service{{Name: "api", Port: "http", Provider: "nomad", Tags: []string{"v1"}, CanaryTags: []string{"canary"}}}
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: j})
	return h
}

func placeAlloc(h *fsmHarness, id, node string, port int) {
	h.t.Helper()
	a := testAlloc(id, "api", node, "e1")
	a.Resources.Ports = []cluster.AllocatedPort{{Label: "http", Value: port}}
	h.must(state.MsgPlanApply, &state.PlanApplyRequest{Allocs: []*cluster.Allocation{a}, Now: t0})
}

func reportRunning(h *fsmHarness, ids ...string) {
	h.t.Helper()
	var us []state.AllocClientState
	for _, id := range ids {
		us = append(us, state.AllocClientState{ID: id, ClientStatus: cluster.AllocClientRunning,
			TaskStates: map[string]*cluster.TaskState{"server": {State: cluster.TaskStateRunning}}})
	}
	h.must(state.MsgAllocClientUpdate, &state.AllocClientUpdateRequest{Allocs: us, Now: t0})
}

// addrs lists "alloc@address:port/status" of a service's instances.
func addrs(s *state.Snapshot) []string {
	var out []string
	for _, r := range s.ServicesByName("default", "api") {
		out = append(out, r.AllocID+"@"+r.Address+":"+strconv.Itoa(r.Port)+"/"+r.Status)
	}
	slices.Sort(out)
	return out
}

func TestServicesFollowAllocations(t *testing.T) {
	h := serviceHarness(t)
	placeAlloc(h, "a1", "n1", 23001)
	placeAlloc(h, "a2", "n2", 23002)
	if got := addrs(h.snap()); len(got) != 0 {
		t.Fatalf("pending allocations registered %v", got)
	}
	reportRunning(h, "a1", "a2")
	want := []string{"a1@192.0.2.1:23001/passing", "a2@192.0.2.2:23002/passing"}
	if got := addrs(h.snap()); !slices.Equal(got, want) {
		t.Fatalf("running: %v, want %v", got, want)
	}
	idx := h.snap().Index(state.TableServices)

	// A report that changes nothing the catalog shows leaves its index
	// alone: watchers of the service do not wake.
	reportRunning(h, "a1")
	if got := h.snap().Index(state.TableServices); got != idx {
		t.Fatalf("an unchanged report moved the services index %d -> %d", idx, got)
	}

	// The task restarts: critical, still listed.
	h.must(state.MsgAllocClientUpdate, &state.AllocClientUpdateRequest{Allocs: []state.AllocClientState{{ID: "a1",
		TaskStates: map[string]*cluster.TaskState{"server": {State: cluster.TaskStatePending}}}}, Now: t0})
	want = []string{"a1@192.0.2.1:23001/critical", "a2@192.0.2.2:23002/passing"}
	if got := addrs(h.snap()); !slices.Equal(got, want) {
		t.Fatalf("restarting: %v, want %v", got, want)
	}
	reportRunning(h, "a1")

	// The scheduler stops a1 (a rollout or a scale-down): gone at once.
	h.must(state.MsgAllocUpdateDesired, &state.AllocDesiredRequest{Updates: []state.AllocDesired{{AllocID: "a1", DesiredStatus: cluster.AllocDesiredStop}}, Now: t0})
	want = []string{"a2@192.0.2.2:23002/passing"}
	if got := addrs(h.snap()); !slices.Equal(got, want) {
		t.Fatalf("after stop: %v, want %v", got, want)
	}

	// n2 goes down: its instances go with it, in the same index.
	h.must(state.MsgNodeUpdateStatus, &state.NodeStatusRequest{NodeID: "n2", Status: cluster.NodeStatusDown, Now: t0})
	if got := addrs(h.snap()); len(got) != 0 {
		t.Fatalf("node down: %v", got)
	}
	if h.snap().Index(state.TableServices) != h.snap().Index(state.TableNodes) {
		t.Fatal("the node write and the catalog write are not one index")
	}
	// It comes back with a2 still running: registered again.
	h.must(state.MsgNodeUpdateStatus, &state.NodeStatusRequest{NodeID: "n2", Status: cluster.NodeStatusReady, Now: t0})
	if got := addrs(h.snap()); !slices.Equal(got, want) {
		t.Fatalf("node back: %v, want %v", got, want)
	}
	// Its replacement lands elsewhere after it is lost.
	h.must(state.MsgAllocUpdateDesired, &state.AllocDesiredRequest{Updates: []state.AllocDesired{{AllocID: "a2", DesiredStatus: cluster.AllocDesiredStop, ClientStatus: cluster.AllocClientLost}}, Now: t0})
	placeAlloc(h, "a3", "n1", 23003)
	reportRunning(h, "a3")
	want = []string{"a3@192.0.2.1:23003/passing"}
	if got := addrs(h.snap()); !slices.Equal(got, want) {
		t.Fatalf("replacement: %v, want %v", got, want)
	}
}

func TestServicesCanaryTagsUntilPromotion(t *testing.T) {
	h := serviceHarness(t)
	d := &cluster.Deployment{ID: "d1", Namespace: "default", JobID: "api", Status: cluster.DeploymentRunning,
		TaskGroups: map[string]*cluster.DeploymentGroup{"web": {DesiredCanaries: 1, DesiredTotal: 2}}}
	a := testAlloc("c1", "api", "n1", "e1")
	a.DeploymentID = "d1"
	a.DeploymentStatus = &cluster.AllocDeploymentStatus{Canary: true}
	a.Resources.Ports = []cluster.AllocatedPort{{Label: "http", Value: 23009}}
	h.must(state.MsgPlanApply, &state.PlanApplyRequest{Deployment: d, Allocs: []*cluster.Allocation{a}, Now: t0})
	reportRunning(h, "c1")
	tags := func() []string {
		rs := h.snap().ServicesByName("default", "api")
		if len(rs) != 1 {
			t.Fatalf("instances %v", rs)
		}
		return rs[0].Tags
	}
	if got := tags(); !slices.Equal(got, []string{"canary"}) {
		t.Fatalf("canary tags = %v", got)
	}
	h.must(state.MsgDeploymentPromote, &state.DeploymentPromoteRequest{ID: "d1", Now: t0})
	if got := tags(); !slices.Equal(got, []string{"v1"}) {
		t.Fatalf("promoted tags = %v", got)
	}
}

func TestServiceDeregister(t *testing.T) {
	h := serviceHarness(t)
	placeAlloc(h, "a1", "n1", 23001)
	reportRunning(h, "a1")
	id := h.snap().ServicesByName("default", "api")[0].ID
	err, _ := h.apply(state.MsgServiceDeregister, &state.ServiceDeregisterRequest{ServiceName: "other", ID: id}).(error)
	if !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("wrong name: %v", err)
	}
	h.must(state.MsgServiceDeregister, &state.ServiceDeregisterRequest{ServiceName: "api", ID: id})
	if got := addrs(h.snap()); len(got) != 0 {
		t.Fatalf("after delete: %v", got)
	}
	// The allocation still runs: its next update registers it again.
	h.must(state.MsgAllocClientUpdate, &state.AllocClientUpdateRequest{Allocs: []state.AllocClientState{{ID: "a1", ClientDescription: "still here"}}, Now: t0})
	if got := addrs(h.snap()); len(got) != 1 {
		t.Fatalf("after the next update: %v", got)
	}
}

func TestServicesSurviveSnapshotRestore(t *testing.T) {
	src := serviceHarness(t)
	placeAlloc(src, "a1", "n1", 23001)
	placeAlloc(src, "a2", "n2", 23002)
	reportRunning(src, "a1", "a2")
	want := asJSON(t, src.snap().Services())

	var buf bytes.Buffer
	persist(t, src.fsm, &buf)
	dst := newFSM(t)
	if err := dst.fsm.Restore(readCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if got := asJSON(t, dst.snap().Services()); got != want || len(dst.snap().Services()) != 2 {
		t.Fatalf("restored services:\n%s\nwant:\n%s", got, want)
	}
	if got, w := dst.snap().Index(state.TableServices), src.snap().Index(state.TableServices); got != w || got == 0 {
		t.Fatalf("restored table index %d, want %d", got, w)
	}
	// The restored store keeps following allocations.
	dst.index = src.index
	dst.must(state.MsgAllocUpdateDesired, &state.AllocDesiredRequest{Updates: []state.AllocDesired{{AllocID: "a1", DesiredStatus: cluster.AllocDesiredStop}}, Now: t0})
	if got := addrs(dst.snap()); !slices.Equal(got, []string{"a2@192.0.2.2:23002/passing"}) {
		t.Fatalf("after restore and stop: %v", got)
	}
}

// TestServiceResync: registrations missing for an allocation that has not
// changed (a store from before the catalog, or a deleted instance) are
// found and put back by the leader's resync command.
func TestServiceResync(t *testing.T) {
	h := serviceHarness(t)
	placeAlloc(h, "a1", "n1", 23001)
	placeAlloc(h, "a2", "n2", 23002)
	reportRunning(h, "a1", "a2")
	if stale := h.snap().AllocsWithStaleServices(); len(stale) != 0 {
		t.Fatalf("fresh catalog stale for %v", stale)
	}
	id := h.snap().ServicesByAlloc("a2")[0].ID
	h.must(state.MsgServiceDeregister, &state.ServiceDeregisterRequest{ServiceName: "api", ID: id})
	stale := h.snap().AllocsWithStaleServices()
	if !slices.Equal(stale, []string{"a2"}) {
		t.Fatalf("stale = %v, want [a2]", stale)
	}
	h.must(state.MsgServiceRegister, &state.ServiceResyncRequest{AllocIDs: stale})
	want := []string{"a1@192.0.2.1:23001/passing", "a2@192.0.2.2:23002/passing"}
	if got := addrs(h.snap()); !slices.Equal(got, want) {
		t.Fatalf("after resync: %v, want %v", got, want)
	}
	big := make([]string, state.MaxServiceResync+1)
	if err, _ := h.apply(state.MsgServiceRegister, &state.ServiceResyncRequest{AllocIDs: big}).(error); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("oversized resync: %v", err)
	}
}
