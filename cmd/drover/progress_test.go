package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/reconciler"
)

func progressAlloc(id, group string, version uint64, desired, client string) *cluster.Allocation {
	return &cluster.Allocation{ID: id, JobID: "web", TaskGroup: group, JobVersion: version, DesiredStatus: desired, ClientStatus: client}
}

func progressSpec(typ jobspec.JobType, groups ...*jobspec.Group) *cluster.Job {
	return &cluster.Job{ID: "web", Version: 2, Spec: &jobspec.Job{ID: "web", Type: typ, Groups: groups}}
}

func TestProgressLines(t *testing.T) {
	const depID = "8e2b1c4d-0000-4000-8000-000000000001"
	run, stop := cluster.AllocDesiredRun, cluster.AllocDesiredStop
	running, pending, complete, failed := cluster.AllocClientRunning, cluster.AllocClientPending, cluster.AllocClientComplete, cluster.AllocClientFailed
	update := &jobspec.UpdateStrategy{MaxParallel: 1}
	for _, tt := range []struct {
		name  string
		waves []progressWave
		want  []string // "key|text"
		state map[string]progressState
	}{
		{
			name: "service without a deployment: desired vs running",
			waves: []progressWave{{Jobs: []progressJob{{ID: "web", Version: 2,
				Rollout: &reconciler.Rollout{Version: 2, Latest: progressSpec(jobspec.JobTypeService, &jobspec.Group{Name: "api", Count: 3}),
					Allocs: []*cluster.Allocation{
						progressAlloc("a1", "api", 2, run, running), progressAlloc("a2", "api", 2, run, pending),
						progressAlloc("a3", "api", 2, run, failed), progressAlloc("o1", "api", 1, stop, complete),
					}},
				Health: reconciler.Health{State: reconciler.RolloutPending, Reason: "1/3 ready; allocation a3 (web.api[2]) failed; rescheduling"}}}}},
			want: []string{
				"job/web|web version 2: in progress: 1/3 ready; allocation a3 (web.api[2]) failed; rescheduling",
				"group/web/api|web/api: 1/3 running, 2 placed, 1 failed",
			},
		},
		{
			name: "batch counts complete allocations",
			waves: []progressWave{{Jobs: []progressJob{{ID: "web", Version: 2,
				Rollout: &reconciler.Rollout{Version: 2, Latest: progressSpec(jobspec.JobTypeBatch, &jobspec.Group{Name: "b", Count: 2}),
					Allocs: []*cluster.Allocation{progressAlloc("a1", "b", 2, run, complete), progressAlloc("a2", "b", 2, run, complete)}},
				Health: reconciler.Health{State: reconciler.RolloutHealthy, Ready: 2, Desired: 2}}}}},
			want:  []string{"job/web|web version 2: healthy", "group/web/b|web/b: 2/2 complete, 2 placed"},
			state: map[string]progressState{"job/web": progressOK, "group/web/b": progressOK},
		},
		{
			name: "system job: no desired count",
			waves: []progressWave{{Jobs: []progressJob{{ID: "web", Version: 2,
				Rollout: &reconciler.Rollout{Version: 2, Latest: progressSpec(jobspec.JobTypeSystem, &jobspec.Group{Name: "agent", Count: 1}),
					Allocs: []*cluster.Allocation{progressAlloc("a1", "agent", 2, run, running), progressAlloc("a2", "agent", 2, run, pending)}}}}}},
			want: []string{"job/web|web version 2: in progress", "group/web/agent|web/agent: 1 running, 2 placed"},
		},
		{
			name: "canaries awaiting promotion",
			waves: []progressWave{{Jobs: []progressJob{{ID: "web", Version: 2,
				Rollout: &reconciler.Rollout{Version: 2, Latest: progressSpec(jobspec.JobTypeService, &jobspec.Group{Name: "api", Count: 3, Update: update}),
					Deployment: &cluster.Deployment{ID: depID, JobVersion: 2, Status: cluster.DeploymentRunning, StatusDescription: "Deployment is running but requires manual promotion",
						TaskGroups: map[string]*cluster.DeploymentGroup{"api": {DesiredCanaries: 1, DesiredTotal: 3, PlacedCanaries: []string{"c1"}, PlacedAllocs: 1, HealthyAllocs: 1}}},
					Allocs: []*cluster.Allocation{progressAlloc("c1", "api", 2, run, running), progressAlloc("o1", "api", 1, run, running)}}}}}},
			want: []string{
				"job/web|web version 2: deployment 8e2b1c4d running (Deployment is running but requires manual promotion)",
				"group/web/api|web/api: 1/3 running, 1 placed, 1/3 healthy, canaries 1/1, awaiting promotion: drover deployment promote 8e2b1c4d",
			},
			state: map[string]progressState{"job/web": progressWaiting, "group/web/api": progressWaiting},
		},
		{
			name: "rolling update in batches of max_parallel",
			waves: []progressWave{{Jobs: []progressJob{{ID: "web", Version: 2,
				Rollout: &reconciler.Rollout{Version: 2, Latest: progressSpec(jobspec.JobTypeService, &jobspec.Group{Name: "api", Count: 3, Update: update}),
					Deployment: &cluster.Deployment{ID: depID, JobVersion: 2, Status: cluster.DeploymentRunning,
						TaskGroups: map[string]*cluster.DeploymentGroup{"api": {DesiredTotal: 3, PlacedAllocs: 2, HealthyAllocs: 1, UnhealthyAllocs: 1}}},
					Allocs: []*cluster.Allocation{progressAlloc("n1", "api", 2, run, running), progressAlloc("n2", "api", 2, run, running), progressAlloc("o1", "api", 1, run, running)}}}}}},
			want: []string{
				"job/web|web version 2: deployment 8e2b1c4d running",
				"group/web/api|web/api: 2/3 running, 2 placed, 1/3 healthy, 1 unhealthy, batch 2/3",
			},
		},
		{
			name: "successful deployment",
			waves: []progressWave{{Jobs: []progressJob{{ID: "web", Version: 2,
				Rollout: &reconciler.Rollout{Version: 2, Latest: progressSpec(jobspec.JobTypeService, &jobspec.Group{Name: "api", Count: 1, Update: update}),
					Deployment: &cluster.Deployment{ID: depID, JobVersion: 2, Status: cluster.DeploymentSuccessful, StatusDescription: "Deployment completed successfully",
						TaskGroups: map[string]*cluster.DeploymentGroup{"api": {DesiredTotal: 1, PlacedAllocs: 1, HealthyAllocs: 1}}},
					Allocs: []*cluster.Allocation{progressAlloc("n1", "api", 2, run, running)}}}}}},
			want: []string{
				"job/web|web version 2: deployment 8e2b1c4d successful (Deployment completed successfully)",
				"group/web/api|web/api: 1/1 running, 1 placed, 1/1 healthy",
			},
			state: map[string]progressState{"job/web": progressOK, "group/web/api": progressOK},
		},
		{
			name: "failed deployment",
			waves: []progressWave{{Jobs: []progressJob{{ID: "web", Version: 2,
				Rollout: &reconciler.Rollout{Version: 2,
					Deployment: &cluster.Deployment{ID: depID, JobVersion: 2, Status: cluster.DeploymentFailed, StatusDescription: "Failed due to unhealthy allocations",
						TaskGroups: map[string]*cluster.DeploymentGroup{"api": {DesiredTotal: 2, PlacedAllocs: 1, UnhealthyAllocs: 1}}}}}}}},
			want: []string{
				"job/web|web version 2: deployment 8e2b1c4d failed (Failed due to unhealthy allocations)",
				"group/web/api|web/api: 0/2 running, 1 placed, 0/2 healthy, 1 unhealthy",
			},
			state: map[string]progressState{"job/web": progressFailed},
		},
		{
			name: "waves: titles, a later wave waits, a stop has no groups",
			waves: []progressWave{
				{Title: "Wave 1/2: db", Jobs: []progressJob{
					{ID: "db", Version: 1, Rollout: &reconciler.Rollout{Version: 1}, Health: reconciler.Health{State: reconciler.RolloutPending, Reason: "0/1 ready"}},
					{ID: "old", Stop: true, Rollout: &reconciler.Rollout{}, Health: reconciler.Health{State: reconciler.RolloutHealthy, Reason: "stopped"}},
				}},
				{Title: "Wave 2/2: web (after db)", Jobs: []progressJob{{ID: "web"}}},
			},
			want: []string{
				"wave/0|Wave 1/2: db",
				"job/db|db version 1: in progress: 0/1 ready",
				"job/old|old stop: healthy (stopped)",
				"wave/1|Wave 2/2: web (after db)",
				"job/web|web: waiting for wave 1 to be healthy",
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := progressLines(tt.waves)
			var texts []string
			for _, l := range got {
				texts = append(texts, l.Key+"|"+l.Text)
			}
			if strings.Join(texts, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(texts, "\n  "), strings.Join(tt.want, "\n  "))
			}
			for _, l := range got {
				if want, ok := tt.state[l.Key]; ok && l.State != want {
					t.Errorf("%s: state %d, want %d", l.Key, l.State, want)
				}
			}
		})
	}
}

func TestAwaitsPromotion(t *testing.T) {
	g := func(canaries, placed, healthy int, promoted, auto bool) *cluster.DeploymentGroup {
		return &cluster.DeploymentGroup{DesiredCanaries: canaries, PlacedCanaries: make([]string, placed), HealthyAllocs: healthy, Promoted: promoted, AutoPromote: auto, DesiredTotal: 3}
	}
	for _, tt := range []struct {
		name   string
		status string
		groups map[string]*cluster.DeploymentGroup
		want   bool
	}{
		{"healthy canaries", cluster.DeploymentRunning, map[string]*cluster.DeploymentGroup{"a": g(1, 1, 1, false, false)}, true},
		{"canary not healthy yet", cluster.DeploymentRunning, map[string]*cluster.DeploymentGroup{"a": g(1, 1, 0, false, false)}, false},
		{"auto_promote", cluster.DeploymentRunning, map[string]*cluster.DeploymentGroup{"a": g(1, 1, 1, false, true)}, false},
		{"promoted", cluster.DeploymentRunning, map[string]*cluster.DeploymentGroup{"a": g(1, 1, 1, true, false)}, false},
		{"no canaries", cluster.DeploymentRunning, map[string]*cluster.DeploymentGroup{"a": g(0, 0, 1, false, false)}, false},
		{"one group still placing", cluster.DeploymentRunning, map[string]*cluster.DeploymentGroup{"a": g(1, 1, 1, false, false), "b": g(2, 1, 1, false, false)}, false},
		{"paused", cluster.DeploymentPaused, map[string]*cluster.DeploymentGroup{"a": g(1, 1, 1, false, false)}, false},
	} {
		if got := awaitsPromotion(&cluster.Deployment{Status: tt.status, TaskGroups: tt.groups}); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

var progressClock = func() time.Time { return time.Date(2026, 12, 6, 4, 30, 0, 0, time.UTC) }

func lines(texts ...string) []progressLine {
	var ls []progressLine
	for i, t := range texts {
		ls = append(ls, progressLine{Key: string(rune('a' + i)), Text: t})
	}
	return ls
}

// Plain mode prints only lines whose text changed, each with a time.
func TestProgressRendererPlain(t *testing.T) {
	var buf bytes.Buffer
	r := &progressRenderer{w: &buf, clock: progressClock, last: map[string]string{}}
	r.draw(lines("web version 2: in progress", "web/api: 0/2 running"))
	r.draw(lines("web version 2: in progress", "web/api: 0/2 running"))
	r.draw(lines("web version 2: in progress", "web/api: 1/2 running"))
	r.println(`Deployment "8e2b1c4d" successful`)
	want := "    2026-12-06T04:30:00Z: web version 2: in progress\n" +
		"    2026-12-06T04:30:00Z: web/api: 0/2 running\n" +
		"    2026-12-06T04:30:00Z: web/api: 1/2 running\n" +
		"==> 2026-12-06T04:30:00Z: Deployment \"8e2b1c4d\" successful\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	if strings.Contains(buf.String(), "\x1b") {
		t.Error("plain output has an escape sequence")
	}
}

// ttyScreen is a fake terminal: it applies the renderer's escape
// sequences (cursor up, clear line, clear below, carriage return) to a
// grid of lines, so the tests check what a person would see.
type ttyScreen struct {
	rows []string
	row  int
}

func (s *ttyScreen) Write(p []byte) (int, error) {
	in := string(p)
	for len(in) > 0 {
		switch {
		case strings.HasPrefix(in, "\x1b["):
			end := strings.IndexAny(in[2:], "ABCDJKm")
			arg, cmd := in[2:2+end], in[2+end]
			in = in[3+end:]
			switch cmd {
			case 'A':
				n := 0
				for _, c := range arg {
					n = n*10 + int(c-'0')
				}
				s.row = max(s.row-n, 0)
			case 'K':
				s.set("")
			case 'J':
				s.rows = s.rows[:min(len(s.rows), s.row+1)]
				if s.row < len(s.rows) {
					s.rows[s.row] = ""
				}
			}
		case in[0] == '\r':
			in = in[1:]
		case in[0] == '\n':
			s.row++
			in = in[1:]
		default:
			n := strings.IndexAny(in, "\x1b\r\n")
			if n < 0 {
				n = len(in)
			}
			s.set(s.get() + in[:n])
			in = in[n:]
		}
	}
	return len(p), nil
}

func (s *ttyScreen) get() string {
	if s.row < len(s.rows) {
		return s.rows[s.row]
	}
	return ""
}

func (s *ttyScreen) set(v string) {
	for len(s.rows) <= s.row {
		s.rows = append(s.rows, "")
	}
	s.rows[s.row] = v
}

func (s *ttyScreen) screen() string { return strings.TrimRight(strings.Join(s.rows, "\n"), "\n") }

func TestProgressRendererRedraws(t *testing.T) {
	screen := &ttyScreen{}
	var raw bytes.Buffer
	size := func() (int, int, error) { return 40, 5, nil }
	r := &progressRenderer{w: io.MultiWriter(screen, &raw), tty: true, size: size, clock: progressClock}
	r.draw([]progressLine{{Key: "j", Text: "web version 2: in progress"}, {Key: "g", Depth: 1, Text: "web/api: 0/2 running"}})
	r.draw([]progressLine{{Key: "j", Text: "web version 2: in progress"}, {Key: "g", Depth: 1, Text: "web/api: 1/2 running"}, {Key: "h", Depth: 1, Text: "web/db: 0/1 running"}})
	want := "web version 2: in progress\n  web/api: 1/2 running\n  web/db: 0/1 running"
	if got := screen.screen(); got != want {
		t.Errorf("screen after a redraw:\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(raw.String(), "\x1b[2A") {
		t.Errorf("the second draw does not go back up over the first two lines: %q", raw.String())
	}
	// An identical block writes nothing: no flicker.
	n := raw.Len()
	r.draw([]progressLine{{Key: "j", Text: "web version 2: in progress"}, {Key: "g", Depth: 1, Text: "web/api: 1/2 running"}, {Key: "h", Depth: 1, Text: "web/db: 0/1 running"}})
	if raw.Len() != n {
		t.Errorf("an unchanged block was redrawn: %q", raw.String()[n:])
	}
	// A shorter block leaves no stale line below it.
	r.draw([]progressLine{{Key: "j", Text: "web version 2: healthy"}})
	if got := screen.screen(); got != "web version 2: healthy" {
		t.Errorf("screen after a shorter block:\n%q", got)
	}
	// Never taller than the terminal (5 rows: 4 lines and the cursor's
	// row), never wider (40 columns: a wrapped line would break the
	// count).
	var many []progressLine
	for i := range 9 {
		many = append(many, progressLine{Key: string(rune('a' + i)), Text: strings.Repeat("x", 30+i*5)})
	}
	r.draw(many)
	rows := strings.Split(screen.screen(), "\n")
	if len(rows) != 4 || rows[3] != "... and 6 more lines" {
		t.Errorf("tall block: %d rows %q, want 4 ending with the count of the lines left out", len(rows), rows)
	}
	for _, row := range rows {
		if len(row) >= 40 {
			t.Errorf("row %q is %d columns on a 40-column terminal", row, len(row))
		}
	}
	if r.drawn != 4 {
		t.Errorf("drawn = %d, want 4", r.drawn)
	}
	r.draw(lines("done"))
	if got := screen.screen(); got != "done" {
		t.Errorf("after the tall block, screen:\n%q", got)
	}
}

func TestProgressRendererColours(t *testing.T) {
	for _, color := range []bool{true, false} {
		var buf bytes.Buffer
		r := &progressRenderer{w: &buf, tty: true, color: color, clock: progressClock}
		r.draw([]progressLine{{Key: "a", Text: "ok", State: progressOK}, {Key: "b", Text: "bad", State: progressFailed}, {Key: "c", Text: "wait", State: progressPending}})
		if got := strings.Contains(buf.String(), "\x1b[32mok\x1b[0m") && strings.Contains(buf.String(), "\x1b[31mbad"); got != color {
			t.Errorf("color=%v: output %q", color, buf.String())
		}
		if strings.Contains(buf.String(), "m wait") || strings.Contains(buf.String(), "\x1b[33mwait") {
			t.Errorf("a pending line is coloured: %q", buf.String())
		}
	}
}

// A pipe (a CI log) gets plain lines; TERM=dumb and NO_COLOR are read
// from the command's environment.
func TestProgressModeOnAPipe(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	for _, env := range [][]string{nil, {"TERM=xterm"}, {"TERM=dumb"}} {
		if redraw, color := progressMode(pw, stdio{env: env}); redraw || color {
			t.Errorf("pipe with %v: redraw %v colour %v, want plain", env, redraw, color)
		}
	}
	var buf bytes.Buffer
	if redraw, _ := progressMode(&buf, stdio{}); redraw {
		t.Error("a buffer is not a terminal")
	}
	r := newProgressRenderer(pw, stdio{}, progressClock)
	r.draw(lines("web version 2: healthy"))
	pw.Close()
	out := make([]byte, 200)
	n, _ := pr.Read(out)
	if got := string(out[:n]); got != "    2026-12-06T04:30:00Z: web version 2: healthy\n" {
		t.Errorf("through a pipe: %q", got)
	}
}

func TestFitWidth(t *testing.T) {
	for _, tt := range []struct {
		in    string
		width int
		want  string
	}{
		{"short", 80, "short"},
		{"exactly9!", 10, "exactly9!"},
		{"exactly10!", 10, "exactl..."},
		{"héllo wörld", 8, "héll..."},
		{"abc", 2, "a"},
	} {
		if got := fitWidth(tt.in, tt.width); got != tt.want {
			t.Errorf("fitWidth(%q, %d) = %q, want %q", tt.in, tt.width, got, tt.want)
		}
	}
}

func TestDeploymentOutcome(t *testing.T) {
	id := "8e2b1c4d-0000-4000-8000-000000000001"
	for _, tt := range []struct {
		d    *cluster.Deployment
		want string
		code int
	}{
		{&cluster.Deployment{ID: id, Status: cluster.DeploymentSuccessful}, `Deployment "8e2b1c4d" successful`, exitOK},
		{&cluster.Deployment{ID: id, Status: cluster.DeploymentFailed, StatusDescription: "Failed due to progress deadline"}, `Deployment "8e2b1c4d" failed: Failed due to progress deadline`, exitError},
		{&cluster.Deployment{ID: id, Status: cluster.DeploymentCancelled}, `Deployment "8e2b1c4d" cancelled: <none>`, exitError},
		{&cluster.Deployment{ID: id, Status: cluster.DeploymentRunning, TaskGroups: map[string]*cluster.DeploymentGroup{"a": {DesiredCanaries: 1, PlacedCanaries: []string{"c"}, HealthyAllocs: 1}}},
			`Deployment "8e2b1c4d" waits for its canaries' promotion: run 'drover deployment promote 8e2b1c4d' (or 'drover deployment fail 8e2b1c4d')`, exitOK},
	} {
		if got, code := deploymentOutcome(tt.d); got != tt.want || code != tt.code {
			t.Errorf("%s: got %q %d, want %q %d", tt.d.Status, got, code, tt.want, tt.code)
		}
	}
}

func TestDeploymentStatusMonitorFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-monitor", "-json", "8e2b"}, "choose one"},
		{[]string{"-monitor", "-wait", "1ms", "8e2b"}, "want from 100ms to 10m"},
	} {
		var out, errb bytes.Buffer
		code := runDeploymentStatus(t.Context(), tt.args, stdio{in: strings.NewReader(""), out: &out, err: &errb})
		if code != exitError || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tt.args, code, errb.String(), tt.want)
		}
	}
	var out, errb bytes.Buffer
	if code := runDeploymentStatus(t.Context(), []string{"--help"}, stdio{in: strings.NewReader(""), out: &out, err: &errb}); code != exitOK ||
		!strings.Contains(out.String()+errb.String(), "drover deployment status -monitor 8e2b") {
		t.Errorf("--help lacks the -monitor example: %s%s", out.String(), errb.String())
	}
}
