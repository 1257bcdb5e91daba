package state_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/state"
)

// TestJobScale: a scale registers a version that differs only in the
// group's count, with its evaluation and event, at one index, keeping
// the version's Source; a refused scale changes nothing.
func TestJobScale(t *testing.T) {
	h := newFSM(t)
	j := testJob("web", "c1", 2)
	j.Spec.Groups[0].Scaling = &jobspec.Scaling{Min: 1, Max: 5, Enabled: true}
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: j, Now: t0})
	before := h.snap().Job("default", "web")

	e := testEval("e-scale", "web")
	e.TriggeredBy = cluster.EvalTriggerScaling
	resp := h.must(state.MsgJobScale, &state.JobScaleRequest{
		JobID: "web", Group: "web", Count: 4, Message: "busy", SubmittedBy: "ops", Eval: e, Now: t0,
	}).(*state.JobScaleResponse)
	s := h.snap()
	cur := s.Job("default", "web")
	if resp.Version != 1 || resp.PreviousCount != 2 || cur.Version != 1 || cur.JobModifyIndex != h.index {
		t.Fatalf("resp %+v, job version %d index %d", resp, cur.Version, cur.JobModifyIndex)
	}
	if got := cur.Spec.Groups[0].Count; got != 4 {
		t.Fatalf("count %d, want 4", got)
	}
	if before.Spec.Groups[0].Count != 2 {
		t.Fatal("the scale changed the stored spec of the previous version in place")
	}
	if cur.Source == nil || cur.Source.Commit != "c1" || cur.SubmittedBy != "ops" {
		t.Fatalf("source %+v submitted by %q", cur.Source, cur.SubmittedBy)
	}
	if cur.Hash == before.Hash || cur.Hash != cur.Spec.Hash() {
		t.Fatal("the scaled version's hash is stale")
	}
	ev := cur.Scale
	if ev == nil || *ev.Count != 4 || ev.PreviousCount != 2 || ev.Message != "busy" || ev.EvalID == nil || *ev.EvalID != "e-scale" || ev.CreateIndex != h.index {
		t.Fatalf("event %+v", ev)
	}
	if evs := s.EvalsByJob("default", "web"); len(evs) != 1 || evs[0].JobModifyIndex != h.index {
		t.Fatalf("evals %+v", evs)
	}

	refused := []struct {
		name string
		req  *state.JobScaleRequest
		want string
	}{
		{"above max", &state.JobScaleRequest{JobID: "web", Group: "web", Count: 6, SubmittedBy: "ops", Now: t0}, "group count was greater than scaling policy maximum: 6 > 5"},
		{"below min", &state.JobScaleRequest{JobID: "web", Group: "web", Count: 0, SubmittedBy: "ops", Now: t0}, "group count was less than scaling policy minimum: 0 < 1"},
		{"negative", &state.JobScaleRequest{JobID: "web", Group: "web", Count: -1, SubmittedBy: "ops", Now: t0}, "can't be negative"},
		{"no group", &state.JobScaleRequest{JobID: "web", Group: "api", Count: 2, SubmittedBy: "ops", Now: t0}, `task group "api" specified for scaling does not exist in job`},
		{"no job", &state.JobScaleRequest{JobID: "nope", Group: "web", Count: 2, SubmittedBy: "ops", Now: t0}, "not found"},
		{"stale check index", &state.JobScaleRequest{JobID: "web", Group: "web", Count: 2, SubmittedBy: "ops", CheckIndex: ptr(uint64(1)), Now: t0}, "modify index"},
		{"no submitter", &state.JobScaleRequest{JobID: "web", Group: "web", Count: 2, Now: t0}, "submitter"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			at := h.snap().Job("default", "web").JobModifyIndex
			err, _ := h.apply(state.MsgJobScale, tc.req).(error)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if got := h.snap().Job("default", "web"); got.JobModifyIndex != at {
				t.Fatalf("a refused scale wrote version %d", got.Version)
			}
		})
	}
}

// TestJobScaleWithoutScalingBlock: Nomad scales a group without a
// scaling block to any count ≥ 0; a system job only to 0 or 1; an
// active deployment blocks a scale.
func TestJobScaleWithoutScalingBlock(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "c1", 2), Now: t0})
	h.must(state.MsgJobScale, &state.JobScaleRequest{JobID: "web", Group: "web", Count: 40, SubmittedBy: "ops", Now: t0})
	if got := h.snap().Job("default", "web").Spec.Groups[0].Count; got != 40 {
		t.Fatalf("count %d", got)
	}

	sys := testJob("agentd", "c1", 1)
	sys.Spec.Type = jobspec.JobTypeSystem
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: sys, Now: t0})
	err, _ := h.apply(state.MsgJobScale, &state.JobScaleRequest{JobID: "agentd", Group: "web", Count: 2, SubmittedBy: "ops", Now: t0}).(error)
	if !errors.Is(err, state.ErrInvalid) || !strings.Contains(err.Error(), `jobs of type "system" can only be scaled to 1 or 0`) {
		t.Fatalf("system scale: %v", err)
	}

	d := &cluster.Deployment{ID: "d1", Namespace: "default", JobID: "web", JobVersion: 1, Status: cluster.DeploymentRunning,
		TaskGroups: map[string]*cluster.DeploymentGroup{"web": {DesiredTotal: 40}}}
	h.must(state.MsgDeploymentUpsert, &state.DeploymentUpsertRequest{Deployment: d, Now: t0})
	err, _ = h.apply(state.MsgJobScale, &state.JobScaleRequest{JobID: "web", Group: "web", Count: 3, SubmittedBy: "ops", Now: t0}).(error)
	if err == nil || !strings.Contains(err.Error(), "job scaling blocked due to active deployment") {
		t.Fatalf("scale during a deployment: %v", err)
	}
}
