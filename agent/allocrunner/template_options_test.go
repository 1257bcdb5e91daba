package allocrunner

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/agent/taskenv"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

func intp(v int) *int { return &v }

// TestErrorOnMissingKey: a missing map key renders as "<no value>" by
// default (Nomad's), and is a render error that says what to do with
// error_on_missing_key.
func TestErrorOnMissingKey(t *testing.T) {
	const missing = `{{ $m := parseJSON "{\"a\":1}" }}{{ $m.a }}/{{ $m.b }}`
	for _, tc := range []struct {
		name, data string
		strict     bool
		want, err  string
	}{
		{"missing key, default", missing, false, "1/<no value>", ""},
		{"missing key, strict", missing, true, "", `map has no entry for key "b" (error_on_missing_key = true`},
		{"present key, strict", `{{ (parseJSON "{\"b\":2}").b }}`, true, "2", ""},
		{"dot, default", `{{ .port }}`, false, "<no value>", ""},
		{"dot, strict", `{{ .port }}`, true, "", "error_on_missing_key = true"},
		{"env is no map: unset is empty", `[{{ env "UNSET" }}]`, true, "[]", ""},
		{"bad JSON", `{{ parseJSON "{" }}`, false, "", "parseJSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := renderOne(jobspec.Template{Data: tc.data, ErrorOnMissingKey: tc.strict}, taskenv.Dirs{}, nil, time.Now())
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want one containing %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Errorf("error %v", err)
			case tc.err == "" && got != tc.want:
				t.Errorf("rendered %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTemplateOwner(t *testing.T) {
	for _, tc := range []struct {
		name             string
		uid, gid         *int
		euid             int
		wantUID, wantGID int
		wantWarn         bool
	}{
		{"neither", nil, nil, 0, -1, -1, false},
		{"both as root", intp(1000), intp(2000), 0, 1000, 2000, false},
		{"uid only", intp(1000), nil, 0, 1000, -1, false},
		{"gid only", nil, intp(2000), 0, -1, 2000, false},
		{"-1 is unchanged", intp(-1), intp(-1), 0, -1, -1, false},
		{"not root", intp(1000), nil, 1000, -1, -1, true},
		{"not root, nothing asked", nil, nil, 1000, -1, -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uid, gid, warn := templateOwner(jobspec.Template{UID: tc.uid, GID: tc.gid}, "local/x", tc.euid)
			if uid != tc.wantUID || gid != tc.wantGID || (warn != "") != tc.wantWarn {
				t.Errorf("owner %d:%d warning %q; want %d:%d warning %v", uid, gid, warn, tc.wantUID, tc.wantGID, tc.wantWarn)
			}
			if warn != "" && (!strings.Contains(warn, "local/x") || !strings.Contains(warn, "root")) {
				t.Errorf("warning does not name the template or say why: %q", warn)
			}
		})
	}
}

// TestRenderAllOwner: as root the rendered file gets uid/gid; the
// render reports no warning.
func TestRenderAllOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED — TEMPLATE uid/gid IS NOT TESTED: it needs root to chown")
	}
	dir := t.TempDir()
	dirs := taskenv.Dirs{Task: dir}
	r := taskenv.NewResolver(taskenv.Input{}, nil)
	rs, err := renderAll([]jobspec.Template{{Data: "x", Destination: "local/owned", UID: intp(65534), GID: intp(65533), Perms: "0600"}}, dirs, nil, r, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "local/owned"))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != 65534 || st.Gid != 65533 || fi.Mode().Perm() != 0o600 || len(rs.warnings) != 0 {
		t.Errorf("owner %d:%d mode %v warnings %q; want 65534:65533 0600 none", st.Uid, st.Gid, fi.Mode().Perm(), rs.warnings)
	}
	// Not root (as the agent would see it): written, owned by us, and
	// a warning for the task's events.
	rs, err = renderAll([]jobspec.Template{{Data: "y", Destination: "local/mine", UID: intp(65534)}}, dirs, nil, r, time.Now(), 1000)
	if err != nil || len(rs.warnings) != 1 {
		t.Fatalf("as non-root: %v, warnings %q", err, rs.warnings)
	}
	fi, _ = os.Stat(filepath.Join(dir, "local/mine"))
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 {
		t.Errorf("as non-root the file was chowned to %d", st.Uid)
	}
}

func TestRenderAt(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Second))) }
	for _, tc := range []struct {
		name        string
		first, last time.Time
		wait        *jobspec.TemplateWait
		want        time.Time
	}{
		{"no wait: at once", s(0), s(3), nil, s(3)},
		{"zero wait: at once", s(0), s(3), &jobspec.TemplateWait{}, s(3)},
		{"quiet for min", s(0), s(1), &jobspec.TemplateWait{Min: 2 * time.Second, Max: 10 * time.Second}, s(3)},
		{"max caps a busy source", s(0), s(9), &jobspec.TemplateWait{Min: 2 * time.Second, Max: 10 * time.Second}, s(10)},
		{"max defaults to 4 × min", s(0), s(7.5), &jobspec.TemplateWait{Min: 2 * time.Second}, s(8)},
		{"max alone", s(0), s(1), &jobspec.TemplateWait{Max: 5 * time.Second}, s(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := renderAt(tc.first, tc.last, tc.wait); !got.Equal(tc.want) {
				t.Errorf("renderAt = %s, want %s", got.Sub(t0), tc.want.Sub(t0))
			}
		})
	}
}

func TestPlanChanges(t *testing.T) {
	script := func(cmd string) *jobspec.ChangeScript { return &jobspec.ChangeScript{Command: cmd} }
	tmpls := []jobspec.Template{
		0: {ChangeMode: "restart", Splay: time.Second},
		1: {ChangeMode: "signal", ChangeSignal: "SIGHUP", Splay: 3 * time.Second},
		2: {ChangeMode: "signal", ChangeSignal: "SIGHUP"},
		3: {ChangeMode: "signal", ChangeSignal: "SIGUSR1"},
		4: {ChangeMode: "script", ChangeScript: script("/reload")},
		5: {ChangeMode: "noop", Splay: time.Hour},
		6: {ChangeMode: ""}, // the default: restart
	}
	for _, tc := range []struct {
		name    string
		changed []int
		want    changePlan
	}{
		{"nothing changed", nil, changePlan{}},
		{"noop: nothing, and its splay does not count", []int{5}, changePlan{}},
		{"restart wins over signals and scripts", []int{0, 1, 4}, changePlan{restart: true, splay: 3 * time.Second}},
		{"the default is restart", []int{6}, changePlan{restart: true}},
		{"each signal once", []int{1, 2, 3}, changePlan{signals: []string{"SIGHUP", "SIGUSR1"}, splay: 3 * time.Second}},
		{"signals and scripts", []int{3, 4}, changePlan{signals: []string{"SIGUSR1"}, scripts: []jobspec.ChangeScript{{Command: "/reload"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := planChanges(tmpls, tc.changed)
			if got.restart != tc.want.restart || got.splay != tc.want.splay || !slices.Equal(got.signals, tc.want.signals) ||
				!slices.EqualFunc(got.scripts, tc.want.scripts, func(a, b jobspec.ChangeScript) bool { return a.Command == b.Command }) {
				t.Errorf("planChanges = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSplayDelay(t *testing.T) {
	if d := splayDelay(0, func(int64) int64 { panic("drawn for no splay") }); d != 0 {
		t.Errorf("no splay: %v", d)
	}
	var asked int64
	d := splayDelay(3*time.Second, func(n int64) int64 { asked = n; return n - 1 })
	if asked != int64(3*time.Second) || d != 3*time.Second-1 {
		t.Errorf("splay 3s: drew in [0, %d), delay %v; want [0, 3s) and just under 3s", asked, d)
	}
}

// scriptDriver is a fake driver whose tasks run until stopped, and that
// runs exec commands by recording them: enough to drive the template
// machinery of a real Runner.
type scriptDriver struct {
	mu      sync.Mutex
	starts  int
	execs   [][]string
	exit    int
	block   time.Duration // how long each exec takes
	stopped map[string]chan struct{}
}

var (
	_ drivers.Driver = (*scriptDriver)(nil)
	_ drivers.Execer = (*scriptDriver)(nil)
)

func (d *scriptDriver) Name() string                                    { return "exec" }
func (d *scriptDriver) Fingerprint(context.Context) drivers.Fingerprint { return drivers.Fingerprint{} }
func (d *scriptDriver) ConfigSpec() drivers.Schema                      { return drivers.Schema{} }
func (d *scriptDriver) Start(_ context.Context, cfg *drivers.TaskConfig) (*drivers.TaskHandle, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.starts++
	id := cfg.ID + "#" + string(rune('0'+d.starts))
	if d.stopped == nil {
		d.stopped = map[string]chan struct{}{}
	}
	d.stopped[id] = make(chan struct{})
	return &drivers.TaskHandle{TaskID: id, Driver: "exec", Config: cfg}, nil
}
func (d *scriptDriver) ch(h *drivers.TaskHandle) chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopped[h.TaskID]
}
func (d *scriptDriver) Wait(ctx context.Context, h *drivers.TaskHandle) (drivers.ExitResult, error) {
	select {
	case <-d.ch(h):
		return drivers.ExitResult{ExitCode: 143, Signal: 15}, nil
	case <-ctx.Done():
		return drivers.ExitResult{}, ctx.Err()
	}
}
func (d *scriptDriver) Stop(context.Context, *drivers.TaskHandle, string, time.Duration) error {
	return nil
}
func (d *scriptDriver) Recover(context.Context, *drivers.TaskHandle) error { return nil }
func (d *scriptDriver) Destroy(context.Context, *drivers.TaskHandle) error { return nil }
func (d *scriptDriver) Exec(ctx context.Context, _ *drivers.TaskHandle, cmd []string) (drivers.ExecResult, error) {
	d.mu.Lock()
	d.execs = append(d.execs, cmd)
	exit, block := d.exit, d.block
	d.mu.Unlock()
	select {
	case <-time.After(block):
	case <-ctx.Done():
		return drivers.ExecResult{ExitCode: -1}, ctx.Err()
	}
	return drivers.ExecResult{ExitCode: exit, Stderr: []byte("reload failed")}, nil
}
func (d *scriptDriver) counts() (starts, execs int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.starts, len(d.execs)
}

// stopAll makes every started task exit, as Stop would (Stop itself
// returns at once so that the test decides).
type stoppingDriver struct{ *scriptDriver }

func (d stoppingDriver) Stop(_ context.Context, h *drivers.TaskHandle, _ string, _ time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.stopped[h.TaskID]; c != nil {
		select {
		case <-c:
		default:
			close(c)
		}
	}
	return nil
}

// templateRun is a Runner of one service task with tmpls, on a clock
// the test moves forward: templates render "{{ timestamp "2006" }}"
// and the like, so a jump of a year changes their text.
type templateRun struct {
	t      *testing.T
	r      *Runner
	d      *scriptDriver
	offset atomic.Int64
	cancel context.CancelFunc
	done   chan struct{}
}

func startTemplateRun(t *testing.T, d drivers.Driver, sd *scriptDriver, tmpls ...jobspec.Template) *templateRun {
	t.Helper()
	l := newLayout(t)
	job := &jobspec.Job{ID: "j", Type: jobspec.JobTypeService, Groups: []*jobspec.Group{{Name: "g", Count: 1, Tasks: []*jobspec.Task{{
		Name: "t", Driver: "exec", Resources: jobspec.Resources{CPU: 100, MemoryMB: 64}, Templates: tmpls,
		Restart: &jobspec.RestartPolicy{Mode: "fail"},
	}}}}}
	reg, err := drivers.NewRegistry(d)
	if err != nil {
		t.Fatal(err)
	}
	tr := &templateRun{t: t, d: sd, done: make(chan struct{})}
	base := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	start := time.Now()
	r, err := New(Config{
		Alloc: &cluster.Allocation{ID: "11111111-2222-4333-8444-555555555555", JobID: "j", TaskGroup: "g", DesiredStatus: cluster.AllocDesiredRun},
		Job:   job, Dir: filepath.Join(l.allocs, "11111111-2222-4333-8444-555555555555"), Drivers: reg, DB: l.db,
		Now: func() time.Time { return base.Add(time.Since(start) + time.Duration(tr.offset.Load())) },
	})
	if err != nil {
		t.Fatal(err)
	}
	tr.r = r
	ctx, cancel := context.WithCancel(t.Context())
	tr.cancel = cancel
	go func() { defer close(tr.done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-tr.done })
	tr.waitFor("the task to run", func(st *cluster.TaskState) bool { return st.State == cluster.TaskStateRunning })
	return tr
}

// change moves the clock a year on and tells the runner.
func (tr *templateRun) change() {
	tr.offset.Add(int64(366 * 24 * time.Hour))
	tr.r.TemplatesChanged()
}

func (tr *templateRun) state() *cluster.TaskState { return tr.r.ClientAlloc().TaskStates["t"] }

func (tr *templateRun) waitFor(what string, cond func(*cluster.TaskState) bool) *cluster.TaskState {
	tr.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := tr.state()
		if st != nil && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			tr.t.Fatalf("timed out waiting for %s; task state %s", what, eventsText(st))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (tr *templateRun) file(name string) string {
	b, _ := os.ReadFile(filepath.Join(tr.r.Dir(), "t", name))
	return string(b)
}

func eventsText(st *cluster.TaskState) string {
	if st == nil {
		return "<none>"
	}
	var b strings.Builder
	b.WriteString(st.State)
	for _, e := range st.Events {
		b.WriteString("\n  " + e.Type + ": " + e.Message)
	}
	return b.String()
}

func hasEvent(st *cluster.TaskState, typ, sub string) bool {
	return slices.ContainsFunc(st.Events, func(e cluster.TaskEvent) bool { return e.Type == typ && strings.Contains(e.Message, sub) })
}

const yearTmpl = `year {{ timestamp "2006" }}`

// TestTemplateChangeScript: a re-rendered template with change_mode =
// "script" writes its file and runs its script through the driver's
// exec, once per change, and the task keeps running; "once" and "noop"
// templates are left alone.
func TestTemplateChangeScript(t *testing.T) {
	sd := &scriptDriver{}
	run := startTemplateRun(t, sd, sd,
		jobspec.Template{Data: yearTmpl, Destination: "local/app.conf", ChangeMode: "script",
			ChangeScript: &jobspec.ChangeScript{Command: "/bin/reload", Args: []string{"-q"}}},
		jobspec.Template{Data: yearTmpl, Destination: "local/once.conf", Once: true, ChangeMode: "restart"},
		jobspec.Template{Data: yearTmpl, Destination: "local/noop.conf", ChangeMode: "noop"},
	)
	if got := run.file("local/app.conf"); got != "year 2026" {
		t.Fatalf("first render %q", got)
	}
	run.change()
	st := run.waitFor("the script to run", func(st *cluster.TaskState) bool {
		return hasEvent(st, EventHookMessage, `Template successfully ran script /bin/reload with arguments ["-q"]`)
	})
	if got := run.file("local/app.conf"); got != "year 2027" {
		t.Errorf("re-rendered %q, want year 2027", got)
	}
	if got := run.file("local/noop.conf"); got != "year 2027" {
		t.Errorf("noop template %q, want re-rendered (year 2027)", got)
	}
	if got := run.file("local/once.conf"); got != "year 2026" {
		t.Errorf("once template re-rendered: %q", got)
	}
	starts, execs := sd.counts()
	if starts != 1 || execs != 1 || st.State != cluster.TaskStateRunning || st.Failed {
		t.Errorf("after one change: %d starts, %d execs; want 1 and 1, still running:\n%s", starts, execs, eventsText(st))
	}
	if !slices.Equal(sd.execs[0], []string{"/bin/reload", "-q"}) {
		t.Errorf("exec %q", sd.execs[0])
	}
	// A change that renders the same text runs nothing.
	run.r.TemplatesChanged()
	time.Sleep(100 * time.Millisecond)
	if _, execs := sd.counts(); execs != 1 {
		t.Errorf("%d execs after a change that rendered the same text, want 1", execs)
	}
}

// TestTemplateChangeScriptFailOnError: a failing script with
// fail_on_error kills the task and fails it; without, the event says
// why and the task runs on.
func TestTemplateChangeScriptFailOnError(t *testing.T) {
	for _, failOnError := range []bool{false, true} {
		sd := &scriptDriver{exit: 3}
		run := startTemplateRun(t, stoppingDriver{sd}, sd, jobspec.Template{Data: yearTmpl, Destination: "local/app.conf", ChangeMode: "script",
			ChangeScript: &jobspec.ChangeScript{Command: "/bin/reload", FailOnError: failOnError}})
		run.change()
		run.waitFor("the script's failure", func(st *cluster.TaskState) bool {
			return hasEvent(st, EventHookFailed, "Template ran script /bin/reload with arguments [] on change but it exited with code 3: reload failed")
		})
		if !failOnError {
			time.Sleep(100 * time.Millisecond)
			if st := run.state(); st.State != cluster.TaskStateRunning || st.Failed {
				t.Errorf("without fail_on_error the task stopped:\n%s", eventsText(st))
			}
			continue
		}
		st := run.waitFor("the task to be killed", func(st *cluster.TaskState) bool { return st.State == cluster.TaskStateDead })
		if !st.Failed || !hasEvent(st, EventKilling, "Template script failed, task is being killed") {
			t.Errorf("with fail_on_error: failed=%v\n%s", st.Failed, eventsText(st))
		}
	}
}

// TestTemplateChangeScriptTimeout: a script that outlives its timeout
// is a failure that names the timeout.
func TestTemplateChangeScriptTimeout(t *testing.T) {
	sd := &scriptDriver{block: time.Hour}
	run := startTemplateRun(t, sd, sd, jobspec.Template{Data: yearTmpl, Destination: "local/app.conf", ChangeMode: "script",
		ChangeScript: &jobspec.ChangeScript{Command: "/bin/slow", Timeout: 100 * time.Millisecond}})
	run.change()
	run.waitFor("the timeout", func(st *cluster.TaskState) bool {
		return hasEvent(st, EventHookFailed, "timed out after 100ms")
	})
}

// TestTemplateChangeRestart: change_mode = "restart" restarts the task
// at once, without counting against its restart policy (which here
// allows none), and the new run sees the new file.
func TestTemplateChangeRestart(t *testing.T) {
	sd := &scriptDriver{}
	run := startTemplateRun(t, stoppingDriver{sd}, sd, jobspec.Template{Data: yearTmpl, Destination: "local/app.conf", ChangeMode: "restart"})
	run.change()
	st := run.waitFor("the restart", func(st *cluster.TaskState) bool {
		return st.Restarts == 1 && st.State == cluster.TaskStateRunning
	})
	if starts, _ := sd.counts(); starts != 2 || st.Failed || !hasEvent(st, EventRestartSignal, "Template with change_mode restart re-rendered") {
		t.Errorf("%d starts, want 2:\n%s", starts, eventsText(st))
	}
	if got := run.file("local/app.conf"); got != "year 2027" {
		t.Errorf("after the restart the file is %q", got)
	}
}

// TestTemplateWaitAndSplay: with wait { min }, changes in quick
// succession render once, after min of quiet; splay delays the script
// by at most splay.
func TestTemplateWaitAndSplay(t *testing.T) {
	sd := &scriptDriver{}
	const minWait, splay = 300 * time.Millisecond, 200 * time.Millisecond
	// Nanoseconds: every render differs, so every change counts.
	run := startTemplateRun(t, sd, sd, jobspec.Template{Data: `{{ timestamp "15:04:05.000000000" }}`, Destination: "local/app.conf", ChangeMode: "script",
		Wait: &jobspec.TemplateWait{Min: minWait, Max: 5 * time.Second}, Splay: splay,
		ChangeScript: &jobspec.ChangeScript{Command: "/bin/reload"}})
	first := run.file("local/app.conf")
	start := time.Now()
	for range 3 {
		run.r.TemplatesChanged()
		time.Sleep(100 * time.Millisecond)
	}
	if got := run.file("local/app.conf"); got != first {
		t.Errorf("rendered during the quiet period: %q, was %q", got, first)
	}
	run.waitFor("the script", func(st *cluster.TaskState) bool { return hasEvent(st, EventHookMessage, "successfully ran script") })
	took := time.Since(start)
	// The last change came at ~200ms: rendered at ~500ms, the script
	// within splay of it.
	if took < 200*time.Millisecond+minWait || took > 5*time.Second {
		t.Errorf("script ran %v after the first change; want after the last change + min (%v)", took, 200*time.Millisecond+minWait)
	}
	time.Sleep(minWait + splay)
	if _, execs := sd.counts(); execs != 1 {
		t.Errorf("%d scripts for three changes within wait.min, want 1", execs)
	}
}

// TestTemplateWaitMax: a source that never goes quiet renders at
// wait.max after its first change.
func TestTemplateWaitMax(t *testing.T) {
	sd := &scriptDriver{}
	run := startTemplateRun(t, sd, sd, jobspec.Template{Data: `{{ timestamp "15:04:05.000000000" }}`, Destination: "local/app.conf", ChangeMode: "script",
		Wait:         &jobspec.TemplateWait{Min: 200 * time.Millisecond, Max: 500 * time.Millisecond},
		ChangeScript: &jobspec.ChangeScript{Command: "/bin/reload"}})
	start := time.Now()
	stop := time.After(2 * time.Second)
	var ranAt time.Duration
	for ranAt == 0 {
		select {
		case <-stop:
			t.Fatalf("no render within 2s of constant changes; wait.max is 500ms:\n%s", eventsText(run.state()))
		case <-time.After(50 * time.Millisecond):
			run.r.TemplatesChanged()
		}
		if _, execs := sd.counts(); execs > 0 {
			ranAt = time.Since(start)
		}
	}
	if ranAt < 450*time.Millisecond {
		t.Errorf("rendered %v after the first change, before wait.max (500ms)", ranAt)
	}
}

// TestTemplateErrorOnMissingKeyFailsStart: a template that indexes a
// missing key with error_on_missing_key never lets the task start, and
// the task's events say which template and why.
func TestTemplateErrorOnMissingKeyFailsStart(t *testing.T) {
	sd := &scriptDriver{}
	l := newLayout(t)
	job := &jobspec.Job{ID: "j", Type: jobspec.JobTypeBatch, Groups: []*jobspec.Group{{Name: "g", Count: 1, Tasks: []*jobspec.Task{{
		Name: "t", Driver: "exec", Resources: jobspec.Resources{CPU: 100, MemoryMB: 64}, Restart: &jobspec.RestartPolicy{Mode: "fail"},
		Templates: []jobspec.Template{{Data: `{{ (parseJSON "{}").port }}`, Destination: "local/app.conf", ErrorOnMissingKey: true}},
	}}}}}
	reg, err := drivers.NewRegistry(sd)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{
		Alloc: &cluster.Allocation{ID: "11111111-2222-4333-8444-666666666666", JobID: "j", TaskGroup: "g", DesiredStatus: cluster.AllocDesiredRun},
		Job:   job, Dir: filepath.Join(l.allocs, "11111111-2222-4333-8444-666666666666"), Drivers: reg, DB: l.db,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r.Run(ctx)
	st := r.ClientAlloc().TaskStates["t"]
	if starts, _ := sd.counts(); starts != 0 || !st.Failed ||
		!hasEvent(st, EventTemplateFailure, `template local/app.conf:`) || !hasEvent(st, EventTemplateFailure, `map has no entry for key "port" (error_on_missing_key = true`) {
		t.Errorf("%d starts, failed %v:\n%s", starts, st.Failed, eventsText(st))
	}
}

// signalingDriver is a scriptDriver that can signal its tasks.
type signalingDriver struct {
	*scriptDriver
	signals chan string
}

func (d signalingDriver) Signal(_ context.Context, _ *drivers.TaskHandle, sig string) error {
	d.signals <- sig
	return nil
}

// TestTemplateChangeSignal: change_mode = "signal" sends change_signal
// through a driver that can signal (exec, raw_exec, docker), once per
// change; through one that cannot, the task's events say so and the
// task runs on.
func TestTemplateChangeSignal(t *testing.T) {
	sd := &scriptDriver{}
	d := signalingDriver{sd, make(chan string, 4)}
	tmpl := jobspec.Template{Data: yearTmpl, Destination: "local/app.conf", ChangeMode: "signal", ChangeSignal: "SIGHUP"}
	run := startTemplateRun(t, d, sd, tmpl)
	run.change()
	select {
	case sig := <-d.signals:
		if sig != "SIGHUP" {
			t.Errorf("sent %s, want SIGHUP", sig)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no signal sent:\n%s", eventsText(run.state()))
	}
	st := run.waitFor("the signal event", func(st *cluster.TaskState) bool { return hasEvent(st, EventSignaling, "SIGHUP") })
	if starts, _ := sd.counts(); starts != 1 || st.State != cluster.TaskStateRunning {
		t.Errorf("%d starts, want 1, running:\n%s", starts, eventsText(st))
	}

	plain := &scriptDriver{}
	run = startTemplateRun(t, plain, plain, tmpl)
	run.change()
	st = run.waitFor("the event", func(st *cluster.TaskState) bool {
		return hasEvent(st, EventHookFailed, `driver "exec" cannot signal a running task: SIGHUP not sent`)
	})
	if st.State != cluster.TaskStateRunning {
		t.Errorf("task stopped:\n%s", eventsText(st))
	}
}
