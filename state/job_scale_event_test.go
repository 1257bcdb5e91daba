package state_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/droverhq/drover/state"
)

// TestScalingEventRegister: a count-less event is kept on the current
// version without changing the job, its spec or the version shared with
// older snapshots; an unknown job or group and oversized fields are
// refused and change nothing; a group keeps its newest 20.
func TestScalingEventRegister(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "c1", 2), Now: t0})
	before := h.snap().Job("default", "web")

	resp := h.must(state.MsgScalingEventRegister, &state.ScalingEventRegisterRequest{
		JobID: "web", Group: "web", Message: "no change", Meta: map[string]any{"cpu": 40.0}, Now: t0,
	}).(*state.ScalingEventRegisterResponse)
	cur := h.snap().Job("default", "web")
	if resp.Version != 0 || resp.PreviousCount != 2 || resp.JobModifyIndex != before.JobModifyIndex {
		t.Fatalf("response %+v", resp)
	}
	if cur.Version != 0 || cur.JobModifyIndex != before.JobModifyIndex || cur.ModifyIndex != h.index || cur.Hash != before.Hash {
		t.Fatalf("the event changed the job: version %d, job modify index %d->%d, hash %q->%q",
			cur.Version, before.JobModifyIndex, cur.JobModifyIndex, before.Hash, cur.Hash)
	}
	if len(before.ScaleEvents) != 0 {
		t.Fatal("the event changed the record an older snapshot holds")
	}
	if v := h.snap().JobVersion("default", "web", 0); v == nil || len(v.ScaleEvents) != 1 {
		t.Fatalf("version 0 has %+v, want the event", v)
	}
	ev := cur.ScaleEvents[0]
	if ev.Count != nil || ev.PreviousCount != 2 || ev.Message != "no change" || ev.Meta["cpu"] != 40.0 || ev.CreateIndex != h.index || ev.Time != t0.UnixNano() {
		t.Fatalf("event %+v", ev)
	}

	for _, tc := range []struct {
		name string
		req  *state.ScalingEventRegisterRequest
		want error
	}{
		{"unknown job", &state.ScalingEventRegisterRequest{JobID: "nope", Group: "web"}, state.ErrNotFound},
		{"unknown group", &state.ScalingEventRegisterRequest{JobID: "web", Group: "nope"}, state.ErrInvalid},
		{"no group", &state.ScalingEventRegisterRequest{JobID: "web"}, state.ErrInvalid},
		{"long message", &state.ScalingEventRegisterRequest{JobID: "web", Group: "web", Message: strings.Repeat("m", state.MaxScalingEventMessage+1)}, state.ErrInvalid},
		{"large meta", &state.ScalingEventRegisterRequest{JobID: "web", Group: "web", Meta: map[string]any{"x": strings.Repeat("x", state.MaxScalingEventMeta)}}, state.ErrInvalid},
	} {
		idx := h.snap().Index(state.TableJobs)
		err, _ := h.apply(state.MsgScalingEventRegister, tc.req).(error)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if h.snap().Index(state.TableJobs) != idx {
			t.Errorf("%s: a refused event changed the jobs", tc.name)
		}
	}

	for i := range 25 {
		h.must(state.MsgScalingEventRegister, &state.ScalingEventRegisterRequest{JobID: "web", Group: "web", Error: true, Message: fmt.Sprint(i), Now: t0})
	}
	evs := h.snap().Job("default", "web").ScaleEvents
	if len(evs) != state.MaxScalingEventsPerGroup || evs[0].Message != "5" || evs[len(evs)-1].Message != "24" || !evs[0].Error {
		t.Fatalf("%d events from %q to %q, want 20 from 5 to 24", len(evs), evs[0].Message, evs[len(evs)-1].Message)
	}

	// A new version starts without events; the old one keeps its own.
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "c2", 3), Now: t0})
	if n := len(h.snap().Job("default", "web").ScaleEvents); n != 0 {
		t.Fatalf("the new version has %d events", n)
	}
	if n := len(h.snap().JobVersion("default", "web", 0).ScaleEvents); n != 20 {
		t.Fatalf("version 0 keeps %d events, want 20", n)
	}
}
