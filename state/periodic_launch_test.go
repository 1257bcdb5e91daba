package state_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/state"
)

func periodicParent(id string) *cluster.Job {
	j := testJob(id, "", 1)
	j.Source = nil
	j.Spec.Type = jobspec.JobTypeBatch
	j.Spec.Periodic = &jobspec.Periodic{Crons: []string{"* * * * *"}, TimeZone: "UTC", Enabled: true}
	return j
}

func periodicChild(parent string, launch time.Time) *cluster.Job {
	id := fmt.Sprintf("%s/periodic-%d", parent, launch.Unix())
	spec := testSpec(id, 1)
	spec.Type = jobspec.JobTypeBatch
	return &cluster.Job{Namespace: "default", ID: id, Spec: spec, ParentID: parent}
}

// TestPeriodicLaunch: a launch registers the child with its evaluation
// and records the launch at one index; a launch at or before the record
// (a second leader, a replayed request) does nothing; a forced launch
// leaves the record alone and refuses a second child of the same second.
func TestPeriodicLaunch(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: periodicParent("report"), Now: t0})

	l1 := t0.Add(time.Minute)
	launch := func(at time.Time, force bool) any {
		e := testEval("e-"+at.Format("150405"), "")
		e.Type = jobspec.JobTypeBatch
		return h.apply(state.MsgPeriodicLaunch, &state.PeriodicLaunchRequest{
			JobID: "report", Launch: at, Child: periodicChild("report", at), Eval: e, Force: force, Now: at,
		})
	}
	resp, ok := launch(l1, false).(*state.PeriodicLaunchResponse)
	if !ok || !resp.Launched || resp.ChildID != fmt.Sprintf("report/periodic-%d", l1.Unix()) {
		t.Fatalf("first launch: %+v", resp)
	}
	idx := h.index
	s := h.snap()
	child := s.Job("default", resp.ChildID)
	if child == nil || child.ParentID != "report" || child.JobModifyIndex != idx {
		t.Fatalf("child %+v, want ParentID report at index %d", child, idx)
	}
	if evs := s.EvalsByJob("default", resp.ChildID); len(evs) != 1 || evs[0].JobModifyIndex != idx {
		t.Fatalf("child evals %+v", evs)
	}
	if rec := s.PeriodicLaunch("default", "report"); rec == nil || !rec.Launch.Equal(l1) || rec.ModifyIndex != idx {
		t.Fatalf("launch record %+v", rec)
	}

	// The same time again, and an earlier one: ignored, nothing written.
	for _, at := range []time.Time{l1, t0} {
		resp, ok := launch(at, false).(*state.PeriodicLaunchResponse)
		if !ok || resp.Launched {
			t.Errorf("launch at %s again: %+v, want nothing launched", at, resp)
		}
	}
	if got := h.snap().Index(state.TablePeriodicLaunch); got != idx {
		t.Errorf("periodic launch index %d after ignored launches, want %d", got, idx)
	}

	// Forced: a child, no record change; the same second twice is a conflict.
	f := l1.Add(10 * time.Second)
	if resp, ok := launch(f, true).(*state.PeriodicLaunchResponse); !ok || !resp.Launched {
		t.Fatalf("forced launch: %+v", resp)
	}
	if err, _ := launch(f, true).(error); !errors.Is(err, state.ErrCASConflict) {
		t.Errorf("second forced launch in one second: %v, want ErrCASConflict", err)
	}
	if rec := h.snap().PeriodicLaunch("default", "report"); !rec.Launch.Equal(l1) {
		t.Errorf("forced launch moved the record to %s", rec.Launch)
	}

	// Skipped (prohibit_overlap): the record moves, no child.
	l2 := l1.Add(time.Minute)
	if resp := h.must(state.MsgPeriodicLaunch, &state.PeriodicLaunchRequest{JobID: "report", Launch: l2, Now: l2}).(*state.PeriodicLaunchResponse); resp.Launched {
		t.Errorf("skip launched %+v", resp)
	}
	if rec := h.snap().PeriodicLaunch("default", "report"); !rec.Launch.Equal(l2) {
		t.Errorf("record %s after a skip, want %s", rec.Launch, l2)
	}

	// Not for a job that is not periodic, or stopped; purge drops the record.
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "", 1), Now: t0})
	if err, _ := h.apply(state.MsgPeriodicLaunch, &state.PeriodicLaunchRequest{JobID: "web", Launch: l2, Now: l2}).(error); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("launch of a service job: %v, want ErrNotFound", err)
	}
	h.must(state.MsgJobDeregister, &state.JobDeregisterRequest{JobID: "report", Now: l2})
	if err, _ := launch(l2.Add(time.Minute), false).(error); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("launch of a stopped job: %v, want ErrNotFound", err)
	}
	h.must(state.MsgJobDeregister, &state.JobDeregisterRequest{JobID: "report", Purge: true, Now: l2})
	if rec := h.snap().PeriodicLaunch("default", "report"); rec != nil {
		t.Errorf("purge left the launch record %+v", rec)
	}
}

// TestPeriodicLaunchSnapshot: the launch record survives a snapshot and
// restore, which is how a new server learns it.
func TestPeriodicLaunchSnapshot(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: periodicParent("report"), Now: t0})
	h.must(state.MsgPeriodicLaunch, &state.PeriodicLaunchRequest{JobID: "report", Launch: t0.Add(time.Minute), Now: t0})
	var buf bytes.Buffer
	persist(t, h.fsm, &buf)
	dst := newFSM(t)
	if err := dst.fsm.Restore(readCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if rec := dst.snap().PeriodicLaunch("default", "report"); rec == nil || !rec.Launch.Equal(t0.Add(time.Minute)) {
		t.Fatalf("restored launch record %+v", rec)
	}
}
