package allocrunner

import (
	"reflect"
	"testing"
	"time"

	"github.com/droverhq/drover/agent/localstate"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

func TestDecide(t *testing.T) {
	pre := taskView{Name: "pre", Hook: hookPrestart}
	side := taskView{Name: "side", Hook: hookPrestart, Sidecar: true}
	main := taskView{Name: "main"}
	post := taskView{Name: "post", Hook: hookPoststart}
	stop := taskView{Name: "stop", Hook: hookPoststop}
	with := func(v taskView, f func(*taskView)) taskView { f(&v); return v }
	launched := func(v *taskView) { v.Launched = true }
	running := func(v *taskView) { v.Launched, v.Running = true, true }
	dead := func(v *taskView) { v.Launched, v.Dead = true, true }
	failed := func(v *taskView) { v.Launched, v.Dead, v.Failed = true, true, true }

	cases := []struct {
		name  string
		tasks []taskView
		stop  bool
		want  step
	}{
		{"prestart first", []taskView{pre, side, main, post, stop}, false, step{Launch: []string{"pre", "side"}}},
		{"prestart still running", []taskView{with(pre, running), with(side, running), main}, false, step{}},
		{"sidecar not up yet", []taskView{with(pre, dead), with(side, launched), main}, false, step{}},
		{"main after prestart", []taskView{with(pre, dead), with(side, running), main, post}, false, step{Launch: []string{"main"}}},
		{"poststart once main runs", []taskView{with(main, running), post}, false, step{Launch: []string{"post"}}},
		{"prestart failed", []taskView{with(pre, failed), main, stop}, false, step{Skip: []string{"main"}, Launch: []string{"stop"}}},
		{"main done kills sidecar", []taskView{with(side, running), with(main, dead), stop}, false, step{Kill: []string{"side"}, KillReason: reasonMainDone}},
		{"then poststop", []taskView{with(side, dead), with(main, dead), stop}, false, step{Launch: []string{"stop"}}},
		{"all done", []taskView{with(main, dead), with(stop, dead)}, false, step{Finished: true}},
		{"stop requested", []taskView{with(main, running), with(post, running)}, true, step{Kill: []string{"main", "post"}, KillReason: reasonStop}},
		{"leader dead", []taskView{with(taskView{Name: "l", Leader: true}, dead), with(main, running)}, false, step{Kill: []string{"main"}, KillReason: reasonLeaderDead}},
		{"failed main kills the other", []taskView{with(main, failed), with(taskView{Name: "m2"}, running)}, false, step{Kill: []string{"m2"}, KillReason: reasonFailed}},
		{"stop before anything ran", []taskView{main}, true, step{Skip: []string{"main"}, Finished: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := decide(c.tasks, c.stop); !reflect.DeepEqual(got, c.want) {
				t.Errorf("decide = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestClientStatus(t *testing.T) {
	st := func(state string, failed bool) *cluster.TaskState {
		return &cluster.TaskState{State: state, Failed: failed}
	}
	views := []taskView{{Name: "a"}, {Name: "b"}}
	cases := []struct {
		a, b *cluster.TaskState
		want string
	}{
		{st("pending", false), st("pending", false), cluster.AllocClientPending},
		{st("running", false), st("pending", false), cluster.AllocClientPending},
		{st("running", false), st("running", false), cluster.AllocClientRunning},
		{st("dead", true), st("running", false), cluster.AllocClientRunning},
		{st("dead", true), st("dead", false), cluster.AllocClientFailed},
		{st("dead", false), st("dead", false), cluster.AllocClientComplete},
	}
	for _, c := range cases {
		if got, _ := clientStatus(views, map[string]*cluster.TaskState{"a": c.a, "b": c.b}); got != c.want {
			t.Errorf("clientStatus(%s/%v, %s/%v) = %s, want %s", c.a.State, c.a.Failed, c.b.State, c.b.Failed, got, c.want)
		}
	}
}

func TestNextRestart(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fail := &jobspec.RestartPolicy{Attempts: 2, Interval: 30 * time.Minute, Delay: 15 * time.Second, Mode: "fail"}
	delay := &jobspec.RestartPolicy{Attempts: 1, Interval: time.Minute, Delay: time.Second, Mode: "delay"}
	var c localstate.RestartCounters
	var d restartDecision
	for i, want := range []string{"Task restarting in 15s", "Task restarting in 15s", `Exceeded allowed attempts 2 in interval 30m0s and mode is "fail"`} {
		d, c = nextRestart(fail, false, false, exitFailure, c, t0.Add(time.Duration(i)*time.Minute))
		if d.Reason != want || d.Restart == (i == 2) || d.Failed != (i == 2) {
			t.Errorf("attempt %d: %+v, want %q", i+1, d, want)
		}
	}
	// A new interval forgets the old attempts.
	d, _ = nextRestart(fail, false, false, exitFailure, c, t0.Add(time.Hour))
	if !d.Restart {
		t.Errorf("after the interval: %+v", d)
	}
	// Delay mode waits for the interval's end.
	c = localstate.RestartCounters{}
	_, c = nextRestart(delay, false, false, exitFailure, c, t0)
	d, _ = nextRestart(delay, false, false, exitFailure, c, t0.Add(10*time.Second))
	if !d.Restart || d.Delay != 50*time.Second {
		t.Errorf("delay mode: %+v", d)
	}
	// Success ends batch tasks and hooks; services restart.
	if d, _ := nextRestart(fail, true, true, exitSuccess, localstate.RestartCounters{}, t0); d.Restart || d.Failed {
		t.Errorf("batch success: %+v", d)
	}
	if d, _ := nextRestart(fail, false, false, exitSuccess, localstate.RestartCounters{}, t0); !d.Restart {
		t.Errorf("service success: %+v", d)
	}
	if d, _ := nextRestart(&jobspec.RestartPolicy{Mode: "fail"}, false, false, exitFailure, localstate.RestartCounters{}, t0); d.Restart || d.Reason != "Policy allows no restarts" {
		t.Errorf("no attempts: %+v", d)
	}
}

func TestParseEnvFile(t *testing.T) {
	got, err := parseEnvFile("# comment\n\nA=1\nexport B = \"two words\"\nC='x'\nD=\n")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "two words", "C": "x", "D": ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
	if _, err := parseEnvFile("not a pair\n"); err == nil {
		t.Error("want an error for a line without =")
	}
}

func TestWithinRefusesEscapes(t *testing.T) {
	for _, p := range []string{"../x", "local/../../x", "/etc/passwd"} {
		if _, err := within("/data/allocs/a/t", p); err == nil {
			t.Errorf("%s: want an error", p)
		}
	}
	if got, err := within("/data/allocs/a/t", "local/x.conf"); err != nil || got != "/data/allocs/a/t/local/x.conf" {
		t.Errorf("got %q, %v", got, err)
	}
}
