package state_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/state"
)

// checkHarness is serviceHarness with a group service "api" that has an
// http check "alive" and a task service "admin" with an unnamed tcp check.
func checkHarness(t *testing.T) *fsmHarness {
	t.Helper()
	h := serviceHarness(t)
	j := testJob("api", "c2", 2)
	j.Spec.Groups[0].Services = []jobspec.Service{{Name: "api", Port: "http", Provider: "nomad",
		Checks: []jobspec.Check{{Name: "alive", Type: "http", Path: "/health"}}}}
	j.Spec.Groups[0].Tasks[0].Services = []jobspec.Service{{Name: "admin", Port: "http", Provider: "nomad",
		Checks: []jobspec.Check{{Type: "tcp"}}}}
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: j})
	return h
}

func reportChecks(h *fsmHarness, id string, cs ...cluster.CheckStatus) {
	h.t.Helper()
	h.must(state.MsgAllocClientUpdate, &state.AllocClientUpdateRequest{Allocs: []state.AllocClientState{{ID: id,
		ClientStatus: cluster.AllocClientRunning, CheckStatuses: cs,
		TaskStates: map[string]*cluster.TaskState{"server": {State: cluster.TaskStateRunning}}}}, Now: t0})
}

// healthyOf lists the instances a default GET /v1/service/{name} serves.
func healthyOf(s *state.Snapshot, name string) []string {
	var out []string
	for _, r := range s.ServicesByName("default", name) {
		if r.Healthy() {
			out = append(out, r.AllocID)
		}
	}
	slices.Sort(out)
	return out
}

func TestServiceHealthFromChecks(t *testing.T) {
	h := checkHarness(t)
	a := testAlloc("a1", "api", "n1", "e1")
	a.JobVersion = 1
	a.Resources.Ports = []cluster.AllocatedPort{{Label: "http", Value: 23001}}
	b := testAlloc("a2", "api", "n2", "e1")
	b.JobVersion = 1
	b.Resources.Ports = []cluster.AllocatedPort{{Label: "http", Value: 23002}}
	h.must(state.MsgPlanApply, &state.PlanApplyRequest{Allocs: []*cluster.Allocation{a, b}, Now: t0})
	alive := cluster.CheckStatus{Name: "alive", Service: "api", Status: "passing", Timestamp: t0}
	tcp := cluster.CheckStatus{Name: "admin[0]", Service: "admin", Task: "server", Status: "passing", Timestamp: t0}
	reportChecks(h, "a1", alive, tcp)
	reportChecks(h, "a2", alive, tcp)
	if got := healthyOf(h.snap(), "api"); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Fatalf("all passing: api serves %v", got)
	}
	if r := h.snap().ServicesByName("default", "api")[0]; len(r.Checks) != 1 || r.Checks[0].Name != "alive" {
		t.Fatalf("registration checks %+v, want the service's own check only", r.Checks)
	}

	// a1's api check turns critical: out of the default list at the
	// index of the allocation write; admin, whose check passes, stays.
	crit := alive
	crit.Status, crit.Output = "critical", "HTTP 404"
	reportChecks(h, "a1", crit, tcp)
	snap := h.snap()
	if got := healthyOf(snap, "api"); !slices.Equal(got, []string{"a2"}) {
		t.Fatalf("critical: api serves %v, want a2", got)
	}
	if got := healthyOf(snap, "admin"); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Fatalf("critical api check took admin out: %v", got)
	}
	if snap.Index(state.TableServices) != snap.Index(state.TableAllocs) {
		t.Fatalf("catalog index %d, allocation index %d: not one write", snap.Index(state.TableServices), snap.Index(state.TableAllocs))
	}
	var r1 *cluster.ServiceRegistration
	for _, r := range snap.ServicesByName("default", "api") {
		if r.AllocID == "a1" {
			r1 = r
		}
	}
	if r1 == nil || r1.Status != cluster.ServiceHealthCritical || r1.Checks[0].Output != "HTTP 404" {
		t.Fatalf("a1's api instance %+v, want critical with the check's output", r1)
	}

	// The same report again writes nothing: watchers do not wake.
	idx := snap.Index(state.TableServices)
	reportChecks(h, "a1", crit, tcp)
	if got := h.snap().Index(state.TableServices); got != idx {
		t.Fatalf("an unchanged check report moved the catalog index %d -> %d", idx, got)
	}

	// A warning counts as passing.
	warn := alive
	warn.Status = "warning"
	reportChecks(h, "a1", warn, tcp)
	if got := healthyOf(h.snap(), "api"); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Fatalf("warning: api serves %v, want both", got)
	}
	// Passing again restores it.
	reportChecks(h, "a1", crit, tcp)
	reportChecks(h, "a1", alive, tcp)
	if got := healthyOf(h.snap(), "api"); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Fatalf("passing again: api serves %v, want both", got)
	}
}

func TestCheckStatusesBoundedInFSM(t *testing.T) {
	h := checkHarness(t)
	placeAlloc(h, "a1", "n1", 23001)
	big := cluster.CheckStatus{Name: "alive", Service: "api", Status: "critical", Output: strings.Repeat("x", cluster.MaxCheckOutput+1)}
	resp := h.apply(state.MsgAllocClientUpdate, &state.AllocClientUpdateRequest{Allocs: []state.AllocClientState{{ID: "a1",
		CheckStatuses: []cluster.CheckStatus{big}}}, Now: t0})
	if err, ok := resp.(error); !ok || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("oversized output: %v, want refused", resp)
	}
}
