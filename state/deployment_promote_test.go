package state_test

import (
	"errors"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

func TestDeploymentPromoteKeepsCounters(t *testing.T) {
	h := newFSM(t)
	d := &cluster.Deployment{ID: "d1", JobID: "web", JobVersion: 1, Status: cluster.DeploymentRunning,
		TaskGroups: map[string]*cluster.DeploymentGroup{
			"a": {DesiredTotal: 3, DesiredCanaries: 1, PlacedAllocs: 1, HealthyAllocs: 1},
			"b": {DesiredTotal: 2},
		}}
	h.must(state.MsgDeploymentUpsert, &state.DeploymentUpsertRequest{Deployment: d, Now: t0})
	h.must(state.MsgDeploymentPromote, &state.DeploymentPromoteRequest{ID: "d1", Description: "promoted", Now: t0})
	got := h.snap().Deployment("d1")
	if a := got.TaskGroups["a"]; !a.Promoted || a.HealthyAllocs != 1 || a.PlacedAllocs != 1 || got.StatusDescription != "promoted" {
		t.Fatalf("after promote: %+v %+v", got, a)
	}
	if got.TaskGroups["b"].Promoted {
		t.Errorf("a group without canaries was marked promoted")
	}
	// Nothing left to promote; unknown and finished deployments.
	for _, tc := range []struct {
		req  *state.DeploymentPromoteRequest
		want error
	}{
		{&state.DeploymentPromoteRequest{ID: "d1", Now: t0}, state.ErrInvalid},
		{&state.DeploymentPromoteRequest{ID: "nope", Now: t0}, state.ErrNotFound},
	} {
		if err, ok := h.apply(state.MsgDeploymentPromote, tc.req).(error); !ok || !errors.Is(err, tc.want) {
			t.Errorf("promote %s = %v, want %v", tc.req.ID, err, tc.want)
		}
	}
}
