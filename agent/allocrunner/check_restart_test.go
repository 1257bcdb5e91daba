package allocrunner

import (
	"slices"
	"testing"
	"time"

	"github.com/droverhq/drover/agent/localstate"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

// TestCheckRestartDecision feeds sequences of check results to
// nextCheckRestart and lists the results that restart the task.
func TestCheckRestartDecision(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	run2 := t0.Add(time.Minute)
	type result struct {
		st  checkStatus
		at  time.Duration // after t0
		run time.Time     // the run's start; zero: t0
	}
	crit := func(at time.Duration) result { return result{st: checkCritical, at: at} }
	warn := func(at time.Duration) result { return result{st: checkWarning, at: at} }
	pass := func(at time.Duration) result { return result{st: checkPassing, at: at} }
	s := time.Second
	tests := []struct {
		name    string
		p       jobspec.CheckRestart
		results []result
		restart []int // indexes of the results that restart
	}{
		{"limit 0 never restarts", jobspec.CheckRestart{Limit: 0}, []result{crit(0), crit(s), crit(2 * s), crit(3 * s)}, nil},
		{"limit 1 restarts on the first failure", jobspec.CheckRestart{Limit: 1}, []result{crit(0)}, []int{0}},
		{"limit 3 restarts on the third consecutive failure", jobspec.CheckRestart{Limit: 3}, []result{crit(0), crit(s), crit(2 * s)}, []int{2}},
		{"a passing result starts the count again", jobspec.CheckRestart{Limit: 3},
			[]result{crit(0), crit(s), pass(2 * s), crit(3 * s), crit(4 * s), pass(5 * s), crit(6 * s)}, nil},
		{"passing never restarts", jobspec.CheckRestart{Limit: 1}, []result{pass(0), pass(s), pass(2 * s)}, nil},
		{"a warning is unhealthy by default", jobspec.CheckRestart{Limit: 2}, []result{warn(0), crit(s)}, []int{1}},
		{"ignore_warnings: a warning is healthy and resets", jobspec.CheckRestart{Limit: 2, IgnoreWarnings: true},
			[]result{crit(0), warn(s), crit(2 * s), warn(3 * s), warn(4 * s)}, nil},
		{"ignore_warnings: critical still counts", jobspec.CheckRestart{Limit: 2, IgnoreWarnings: true},
			[]result{warn(0), crit(s), crit(2 * s)}, []int{2}},
		{"failures within grace do not count", jobspec.CheckRestart{Limit: 1, Grace: 5 * s},
			[]result{crit(0), crit(s), crit(4*s + 999*time.Millisecond), crit(5 * s)}, []int{3}},
		{"grace neither counts nor resets", jobspec.CheckRestart{Limit: 2, Grace: 5 * s},
			[]result{crit(6 * s), crit(7 * s)}, []int{1}},
		{"limit counts past grace", jobspec.CheckRestart{Limit: 2, Grace: 5 * s},
			[]result{crit(s), crit(2 * s), crit(5 * s), crit(6 * s)}, []int{3}},
		{"one restart per run", jobspec.CheckRestart{Limit: 1}, []result{crit(0), crit(s), crit(2 * s)}, []int{0}},
		{"a new run starts from zero", jobspec.CheckRestart{Limit: 2},
			[]result{crit(0), {st: checkCritical, at: 61 * s, run: run2}, {st: checkCritical, at: 62 * s, run: run2}}, []int{2}},
		{"a new run may restart again", jobspec.CheckRestart{Limit: 1},
			[]result{crit(0), crit(s), {st: checkCritical, at: 61 * s, run: run2}}, []int{0, 2}},
		{"grace runs from the new run's start", jobspec.CheckRestart{Limit: 1, Grace: 10 * s},
			[]result{crit(10 * s), {st: checkCritical, at: 65 * s, run: run2}, {st: checkCritical, at: 70 * s, run: run2}}, []int{0, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st checkRestartState
			var got []int
			for i, r := range tt.results {
				run := r.run
				if run.IsZero() {
					run = t0
				}
				var restart bool
				st, restart = nextCheckRestart(tt.p, st, r.st, run, t0.Add(r.at))
				if restart {
					got = append(got, i)
				}
			}
			if !slices.Equal(got, tt.restart) {
				t.Errorf("restarts at results %v, want %v", got, tt.restart)
			}
		})
	}
}

func TestCheckRestartReason(t *testing.T) {
	if got, want := checkRestartReason("web-alive"), `healthcheck: check "web-alive" unhealthy`; got != want {
		t.Errorf("reason %q, want Nomad's %q", got, want)
	}
}

// TestCheckRestartCountsAsFailure: a run that check_restart stopped
// counts as a failure for the restart policy, even when the process
// exited 0 on the signal (so a batch task is restarted, and a service
// task's attempts are spent), and the mark applies to that run only.
func TestCheckRestartCountsAsFailure(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr := &taskRunner{state: &cluster.TaskState{State: cluster.TaskStateRunning, StartedAt: t0}}
	ok := drivers.ExitResult{ExitCode: 0}
	if k := tr.exitKindOf(ok); k != exitSuccess {
		t.Fatalf("unmarked clean exit: kind %v, want success", k)
	}
	tr.checkRestartRun = t0
	if k := tr.exitKindOf(ok); k != exitFailure {
		t.Fatalf("check_restart stop: kind %v, want failure", k)
	}
	if k := tr.exitKindOf(ok); k != exitSuccess {
		t.Fatalf("the mark outlived its run: kind %v", k)
	}
	// A mark for an earlier run (ended by a template restart) does not
	// apply to the next one.
	tr.checkRestartRun = t0
	tr.state.StartedAt = t0.Add(time.Minute)
	if k := tr.exitKindOf(ok); k != exitSuccess {
		t.Fatalf("stale mark applied: kind %v", k)
	}

	// Through the policy: two attempts, then mode fail.
	pol := &jobspec.RestartPolicy{Attempts: 2, Interval: time.Hour, Delay: time.Second, Mode: "fail"}
	var c localstate.RestartCounters
	var dec restartDecision
	for i := range 3 {
		dec, c = nextRestart(pol, false, false, exitFailure, c, t0.Add(time.Duration(i)*time.Minute))
	}
	if dec.Restart || !dec.Failed {
		t.Fatalf("third check restart with 2 attempts: %+v, want failed", dec)
	}
}

// TestCheckRestartTargets: a task service's check restarts its task; a
// group service's check restarts every task that runs.
func TestCheckRestartTargets(t *testing.T) {
	r := &Runner{}
	mk := func(name string, state string, done bool) *taskRunner {
		return &taskRunner{ar: r, task: &jobspec.Task{Name: name}, state: &cluster.TaskState{State: state}, done: done}
	}
	r.order = []*taskRunner{
		mk("web", cluster.TaskStateRunning, false),
		mk("sidecar", cluster.TaskStateRunning, false),
		mk("init", cluster.TaskStateDead, true),
	}
	names := func(trs []*taskRunner) []string {
		var out []string
		for _, tr := range trs {
			out = append(out, tr.task.Name)
		}
		return out
	}
	if got := names(r.checkRestartTargets(checkSpec{owner: "sidecar"})); !slices.Equal(got, []string{"sidecar"}) {
		t.Errorf("task service targets %v", got)
	}
	if got := names(r.checkRestartTargets(checkSpec{})); !slices.Equal(got, []string{"web", "sidecar"}) {
		t.Errorf("group service targets %v", got)
	}
	r.order[0].state.State = cluster.TaskStatePending
	if got := names(r.checkRestartTargets(checkSpec{owner: "web"})); len(got) != 0 {
		t.Errorf("a task waiting to restart is a target: %v", got)
	}
}

// TestCheckRestartClaimsARunOnce: however many checks of a task fail, its
// run is claimed (signaled and stopped) once; a new run can be claimed
// again; a task that is not running, or is being killed, is not.
func TestCheckRestartClaimsARunOnce(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := &drivers.TaskHandle{TaskID: "a/t"}
	tr := &taskRunner{task: &jobspec.Task{Name: "t"}, handle: h, killC: make(chan struct{}),
		state: &cluster.TaskState{State: cluster.TaskStateRunning, StartedAt: t0}}
	if got := tr.claimCheckRestart(); got != h {
		t.Fatalf("first claim: %v, want the handle", got)
	}
	if got := tr.claimCheckRestart(); got != nil {
		t.Fatalf("second claim of the same run succeeded")
	}
	tr.state.StartedAt = t0.Add(time.Minute)
	if got := tr.claimCheckRestart(); got != h {
		t.Fatalf("claim of a new run: %v, want the handle", got)
	}
	tr.state.StartedAt = t0.Add(2 * time.Minute)
	tr.state.State = cluster.TaskStatePending
	if got := tr.claimCheckRestart(); got != nil {
		t.Fatalf("claimed a task waiting to restart")
	}
	tr.state.State = cluster.TaskStateRunning
	tr.kill("stop")
	if got := tr.claimCheckRestart(); got != nil {
		t.Fatalf("claimed a task being killed")
	}
}
