package server

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/state"
	"github.com/hashicorp/raft"
)

// periodicFSM applies commands to a bare FSM, as raft would.
type periodicFSM struct {
	t     *testing.T
	fsm   *state.FSM
	index uint64
}

func (f *periodicFSM) must(mt state.MessageType, req any) {
	f.t.Helper()
	data, err := state.Encode(mt, req)
	if err != nil {
		f.t.Fatal(err)
	}
	f.index++
	if err, ok := f.fsm.Apply(&raft.Log{Index: f.index, Term: 1, Type: raft.LogCommand, Data: data}).(error); ok {
		f.t.Fatalf("%s: %v", mt, err)
	}
}

// TestPlanPeriodic: what the leader launches at a given time, from state
// alone (the clock is a parameter): the next time after the recorded
// launch, or after registration; one launch, at now, when several were
// missed (a leaderless gap); a skip while a child runs and
// prohibit_overlap is set; nothing for a disabled or stopped job; and
// the time to wake up for the earliest next launch.
func TestPlanPeriodic(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f := &periodicFSM{t: t, fsm: state.NewFSM(state.NewStore(), slog.New(slog.NewTextHandler(io.Discard, nil)))}
	job := func(id, cron string, overlap, enabled bool) *cluster.Job {
		return &cluster.Job{Namespace: "default", ID: id, Spec: &jobspec.Job{
			ID: id, Name: id, Type: jobspec.JobTypeBatch, Datacenters: []string{"dc1"},
			Periodic: &jobspec.Periodic{Crons: []string{cron}, TimeZone: "UTC", Enabled: enabled, ProhibitOverlap: overlap},
			Groups:   []*jobspec.Group{{Name: "g", Count: 1, Tasks: []*jobspec.Task{{Name: "t", Driver: "exec"}}}},
		}}
	}
	// Registered at t0; hourly at :00; minutely; disabled; one to stop.
	for _, j := range []*cluster.Job{job("hourly", "0 * * * *", false, true), job("minutely", "* * * * *", true, true),
		job("off", "* * * * *", false, false), job("stopped", "* * * * *", false, true)} {
		f.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: j, Now: t0})
	}
	f.must(state.MsgJobDeregister, &state.JobDeregisterRequest{JobID: "stopped", Now: t0})

	plan := func(now time.Time) (map[string]periodicDue, time.Time) {
		t.Helper()
		due, wake, errs := planPeriodic(f.fsm.Store().Snapshot(), now)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		out := map[string]periodicDue{}
		for _, d := range due {
			out[d.job.ID] = d
		}
		return out, wake
	}

	// 30 s after registration: nothing due; wake for minutely's first.
	due, wake := plan(t0.Add(30 * time.Second))
	if len(due) != 0 || !wake.Equal(t0.Add(time.Minute)) {
		t.Fatalf("at +30s: due %v, wake %s; want nothing, wake at +1m", due, wake)
	}
	// At +1m exactly: minutely, at its scheduled time.
	due, _ = plan(t0.Add(time.Minute))
	if d, ok := due["minutely"]; len(due) != 1 || !ok || !d.launch.Equal(t0.Add(time.Minute)) || d.skip {
		t.Fatalf("at +1m: due %+v", due)
	}
	// No leader from +1m to +3h10m: hourly missed three launches,
	// minutely many. Each is launched once, now.
	now := t0.Add(3*time.Hour + 10*time.Minute + 500*time.Millisecond)
	due, _ = plan(now)
	for _, id := range []string{"hourly", "minutely"} {
		if d, ok := due[id]; !ok || !d.launch.Equal(now.Truncate(time.Second)) {
			t.Errorf("after a gap, %s: %+v, want one launch at %s", id, due[id], now.Truncate(time.Second))
		}
	}
	if len(due) != 2 {
		t.Errorf("after a gap: %d due, want 2 (not off or stopped)", len(due))
	}

	// Once minutely's launch is recorded with a child that runs (no
	// allocation yet: pending), its next launch is skipped.
	l := t0.Add(time.Minute)
	child, eval, err := periodicChild(job("minutely", "* * * * *", true, true), l)
	if err != nil {
		t.Fatal(err)
	}
	if child.ID != "minutely/periodic-1772366460" || child.ParentID != "minutely" || child.Spec.Periodic != nil || child.Spec.Name != child.ID {
		t.Fatalf("child %+v", child)
	}
	f.must(state.MsgPeriodicLaunch, &state.PeriodicLaunchRequest{JobID: "minutely", Launch: l, Child: child, Eval: eval, Now: l})
	due, wake = plan(l.Add(30 * time.Second))
	if len(due) != 0 || !wake.Equal(l.Add(time.Minute)) {
		t.Fatalf("after the launch: due %v, wake %s; want nothing, wake at %s", due, wake, l.Add(time.Minute))
	}
	due, _ = plan(l.Add(time.Minute))
	if d := due["minutely"]; !d.skip || !d.launch.Equal(l.Add(time.Minute)) {
		t.Errorf("prohibit_overlap with a child pending: %+v, want a skip at %s", d, l.Add(time.Minute))
	}

	// A new version (or a stopped job run again) counts from its
	// submission: the hourly launches missed before it are not launched.
	f.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: job("hourly", "0 * * * *", false, true), Now: t0.Add(5*time.Hour + 20*time.Minute)})
	if due, _ = plan(t0.Add(5*time.Hour + 30*time.Minute)); due["hourly"].job != nil {
		t.Errorf("after an update, hourly is due at once: %+v", due["hourly"])
	}
}
