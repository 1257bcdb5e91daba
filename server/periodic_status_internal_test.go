package server

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/state"
)

// TestJobNextPeriodicLaunch: the next launch the job list reports is
// the one the leader makes (nextPeriodicLaunch, which planPeriodic
// uses): after the registration or the recorded launch, in the job's
// zone across a DST change, now when it is due, and none for a job the
// leader does not launch.
func TestJobNextPeriodicLaunch(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// Saturday 2026-03-07 12:00 UTC; DST starts in New York on Sunday
	// 2026-03-08 at 02:00 local.
	t0 := time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)
	f := &periodicFSM{t: t, fsm: state.NewFSM(state.NewStore(), slog.New(slog.NewTextHandler(io.Discard, nil)))}
	type opt func(*jobspec.Job)
	job := func(id, cron, zone string, opts ...opt) *cluster.Job {
		spec := &jobspec.Job{
			ID: id, Name: id, Type: jobspec.JobTypeBatch, Datacenters: []string{"dc1"},
			Periodic: &jobspec.Periodic{Crons: []string{cron}, TimeZone: zone, Enabled: true},
			Groups:   []*jobspec.Group{{Name: "g", Count: 1, Tasks: []*jobspec.Task{{Name: "t", Driver: "exec"}}}},
		}
		for _, o := range opts {
			o(spec)
		}
		return &cluster.Job{Namespace: "default", ID: id, Spec: spec}
	}
	disabled := func(s *jobspec.Job) { s.Periodic.Enabled = false }
	parameterized := func(s *jobspec.Job) { s.Parameterized = &jobspec.Parameterized{Payload: "optional"} }
	notPeriodic := func(s *jobspec.Job) { s.Periodic = nil }
	for _, j := range []*cluster.Job{
		job("ny-3am", "0 3 * * *", "America/New_York"),
		job("utc-hourly", "0 * * * *", ""),
		job("off", "* * * * *", "", disabled),
		job("param", "* * * * *", "", parameterized),
		job("service", "* * * * *", "", notPeriodic),
		job("stopped", "* * * * *", ""),
		job("recorded", "*/10 * * * *", ""),
	} {
		f.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: j, Now: t0})
	}
	f.must(state.MsgJobDeregister, &state.JobDeregisterRequest{JobID: "stopped", Now: t0})
	// "recorded" launched 12:40 already (a record ahead of the clock:
	// a leader whose clock ran ahead); the next is after it.
	f.must(state.MsgPeriodicLaunch, &state.PeriodicLaunchRequest{JobID: "recorded", Launch: t0.Add(40 * time.Minute), Now: t0})

	at := func(y int, m time.Month, d, h, min int, loc *time.Location) *time.Time {
		v := time.Date(y, m, d, h, min, 0, 0, loc)
		return &v
	}
	now := t0.Add(10 * time.Minute)
	tests := []struct {
		id   string
		now  time.Time
		want *time.Time
	}{
		{"ny-3am", now, at(2026, 3, 8, 3, 0, ny)}, // 03:00 EDT: 07:00 UTC, the day DST starts
		{"utc-hourly", now, at(2026, 3, 7, 13, 0, time.UTC)},
		{"recorded", now, at(2026, 3, 7, 12, 50, time.UTC)},
		// Due: the leader launches it now (to the second).
		{"utc-hourly", t0.Add(time.Hour + 1500*time.Millisecond), at(2026, 3, 7, 13, 0, time.UTC)},
		{"utc-hourly", t0.Add(3*time.Hour + 61*time.Second), ptr(t0.Add(3*time.Hour + 61*time.Second))},
		{"off", now, nil},
		{"param", now, nil},
		{"service", now, nil},
		{"stopped", now, nil},
	}
	for _, tt := range tests {
		snap := f.fsm.Store().Snapshot()
		j := snap.Job("default", tt.id)
		got := jobNextPeriodicLaunch(snap, j, tt.now)
		switch {
		case tt.want == nil && got != nil:
			t.Errorf("%s at %s: next launch %s, want none", tt.id, tt.now, got)
		case tt.want == nil:
		case got == nil:
			t.Errorf("%s at %s: no next launch, want %s", tt.id, tt.now, tt.want)
		case !got.Equal(*tt.want):
			t.Errorf("%s at %s: next launch %s, want %s", tt.id, tt.now, got, tt.want)
		case j.Spec.Periodic.TimeZone != "" && got.Location().String() != j.Spec.Periodic.TimeZone:
			t.Errorf("%s: next launch in %s, want the job's time_zone %s", tt.id, got.Location(), j.Spec.Periodic.TimeZone)
		}
		// The leader's plan agrees: the same time is due at that time.
		if got != nil {
			due, _, _ := planPeriodic(snap, *got)
			found := false
			for _, d := range due {
				found = found || d.job.ID == tt.id && d.launch.Equal(*got)
			}
			if !found {
				t.Errorf("%s: the leader does not launch at the reported %s (due %+v)", tt.id, got, due)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }
