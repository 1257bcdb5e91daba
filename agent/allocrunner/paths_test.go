package allocrunner

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/agent/localstate"
	"github.com/droverhq/drover/agent/taskenv"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

// fakeDriver records what it was asked to start and runs nothing: the
// tests here are about the directories the agent builds before a start.
type fakeDriver struct {
	mu      sync.Mutex
	started []*drivers.TaskConfig
}

var _ drivers.Driver = (*fakeDriver)(nil)

func (d *fakeDriver) Name() string { return "exec" }
func (d *fakeDriver) Fingerprint(context.Context) drivers.Fingerprint {
	return drivers.Fingerprint{}
}
func (d *fakeDriver) ConfigSpec() drivers.Schema { return drivers.Schema{} }
func (d *fakeDriver) Start(_ context.Context, cfg *drivers.TaskConfig) (*drivers.TaskHandle, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.started = append(d.started, cfg)
	return &drivers.TaskHandle{TaskID: cfg.ID, Driver: "exec", Config: cfg}, nil
}
func (d *fakeDriver) Wait(context.Context, *drivers.TaskHandle) (drivers.ExitResult, error) {
	return drivers.ExitResult{}, nil
}
func (d *fakeDriver) Stop(context.Context, *drivers.TaskHandle, string, time.Duration) error {
	return nil
}
func (d *fakeDriver) Recover(context.Context, *drivers.TaskHandle) error { return nil }
func (d *fakeDriver) Destroy(context.Context, *drivers.TaskHandle) error { return nil }

func (d *fakeDriver) starts() []*drivers.TaskConfig {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*drivers.TaskConfig(nil), d.started...)
}

// agentLayout is an agent data dir as agent.go lays it out: allocs/
// with mode 0711 and one directory per allocation under it.
type agentLayout struct {
	top, data, allocs string
	db                *localstate.DB
}

func newLayout(t *testing.T) agentLayout {
	t.Helper()
	top := t.TempDir()
	l := agentLayout{top: top, data: filepath.Join(top, "data")}
	l.allocs = filepath.Join(l.data, "allocs")
	if err := os.MkdirAll(l.allocs, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(l.allocs, 0o711); err != nil {
		t.Fatal(err)
	}
	db, err := localstate.Open(filepath.Join(top, "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l.db = db
	return l
}

func batchJob(group string, tasks ...string) *jobspec.Job {
	g := &jobspec.Group{Name: group, Count: 1}
	for _, n := range tasks {
		g.Tasks = append(g.Tasks, &jobspec.Task{
			Name: n, Driver: "exec", Resources: jobspec.Resources{CPU: 100, MemoryMB: 64},
			// One run: the fake driver's tasks exit at once.
			Restart: &jobspec.RestartPolicy{Mode: "fail"},
		})
	}
	return &jobspec.Job{ID: "j", Type: jobspec.JobTypeBatch, Groups: []*jobspec.Group{g}}
}

// run runs one allocation of job in the layout to its end and returns
// its client view.
func (l agentLayout) run(t *testing.T, d *fakeDriver, allocID string, job *jobspec.Job) *cluster.Allocation {
	t.Helper()
	reg, err := drivers.NewRegistry(d)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{
		Alloc: &cluster.Allocation{ID: allocID, JobID: job.ID, TaskGroup: job.Groups[0].Name, DesiredStatus: cluster.AllocDesiredRun},
		Job:   job, Dir: filepath.Join(l.allocs, allocID), Drivers: reg, DB: l.db,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r.Run(ctx)
	if ctx.Err() != nil {
		t.Fatal("the allocation did not finish")
	}
	return r.ClientAlloc()
}

// tree lists every path under dir with its mode, except the subtrees
// skip names: what a test compares before and after an attack.
func tree(t *testing.T, dir string, skip ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for _, s := range skip {
			if p == s {
				return filepath.SkipDir
			}
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		out[p] = fi.Mode().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, before, after map[string]string) {
	t.Helper()
	for p, m := range after {
		if b, ok := before[p]; !ok {
			t.Errorf("created outside the allocation directory: %s (%s)", p, m)
		} else if b != m {
			t.Errorf("mode of %s changed: %s -> %s", p, b, m)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("removed: %s", p)
		}
	}
}

// TestRunnerRefusesPathNames is the defence in depth for the API
// reproduction (a task named "../../../x" made the agent build
// directories and write logs outside its data dir, as root) and the Git
// one (a task named ".." changed the mode of allocs/): should such an
// allocation reach an agent, every task fails with a setup failure that
// quotes the rule, no task starts, and nothing changes outside the
// allocation's own directory.
func TestRunnerRefusesPathNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		job  *jobspec.Job
		want string
	}{
		{"task traversal", batchJob("g", "web", "../../../x"), `task name "../../../x" must not contain a slash or backslash`},
		{"task dot-dot", batchJob("g", ".."), `task name ".." must not be . or ..`},
		{"task named like the shared dir", batchJob("g", "alloc"), `task name "alloc" is the allocation's shared directory`},
		{"task named like the state dir", batchJob("g", ".state"), `task name ".state" must not start with a dot`},
		{"group traversal", batchJob("../g", "web"), `group name "../g" must not contain a slash`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLayout(t)
			allocDir := filepath.Join(l.allocs, "a1")
			before := tree(t, l.top, filepath.Join(l.top, "state"))
			d := &fakeDriver{}
			ca := l.run(t, d, "a1", tc.job)

			if len(d.starts()) != 0 {
				t.Errorf("the driver was asked to start %d tasks", len(d.starts()))
			}
			if !strings.Contains(ca.ClientDescription, tc.want) {
				t.Errorf("description %q does not say %q", ca.ClientDescription, tc.want)
			}
			for name, st := range ca.TaskStates {
				last := st.Events[len(st.Events)-1]
				if !st.Failed || last.Type != EventSetupFailure || !strings.Contains(last.Message, tc.want) {
					t.Errorf("task %q: failed=%v, last event %s %q; want a setup failure saying %q", name, st.Failed, last.Type, last.Message, tc.want)
				}
			}
			after := tree(t, l.top, filepath.Join(l.top, "state"), allocDir)
			sameTree(t, before, after)
			if _, err := os.Stat(allocDir); err == nil {
				t.Errorf("%s was created for a refused allocation", allocDir)
			}
		})
	}
}

// TestNewRefusesAllocIDPath: the allocation ID names its directory.
func TestNewRefusesAllocIDPath(t *testing.T) {
	l := newLayout(t)
	job := batchJob("g", "web")
	for _, id := range []string{"", ".", "..", "../x", `a\b`, "a\x00"} {
		_, err := New(Config{Alloc: &cluster.Allocation{ID: id, TaskGroup: "g"}, Job: job, Dir: filepath.Join(l.allocs, id), DB: l.db})
		if err == nil || !strings.Contains(err.Error(), "cannot name a directory") {
			t.Errorf("New(alloc %q) = %v, want a refusal", id, err)
		}
	}
}

// TestTaskDirsAreBuiltInside: a task that is started gets its
// directories inside the allocation, with Nomad's modes.
func TestTaskDirsAreBuiltInside(t *testing.T) {
	l := newLayout(t)
	d := &fakeDriver{}
	ca := l.run(t, d, "a1", batchJob("g", "web"))
	if st := ca.TaskStates["web"]; st == nil || len(st.Events) < 3 || st.Events[2].Type != EventStarted {
		t.Fatalf("web did not start: %+v (%s)", st, ca.ClientDescription)
	}
	starts := d.starts()
	if len(starts) != 1 {
		t.Fatalf("%d starts", len(starts))
	}
	cfg := starts[0]
	root := filepath.Join(l.allocs, "a1")
	for _, c := range []struct {
		path, want string
		mode       os.FileMode
	}{
		{cfg.Dir, filepath.Join(root, "web"), os.ModeDir | 0o755},
		{cfg.AllocDir, filepath.Join(root, "alloc"), os.ModeDir | 0o755},
		{cfg.LocalDir, filepath.Join(root, "web", "local"), os.ModeDir | 0o755},
		{cfg.SecretsDir, filepath.Join(root, "web", "secrets"), os.ModeDir | 0o700},
		{cfg.TmpDir, filepath.Join(root, "web", "tmp"), os.ModeDir | os.ModeSticky | 0o777},
		{cfg.StateDir, filepath.Join(root, ".state", "web"), os.ModeDir | 0o700},
		{cfg.Logs.Dir, filepath.Join(root, "alloc", "logs"), os.ModeDir | 0o755},
		{filepath.Join(root, "alloc", "data"), filepath.Join(root, "alloc", "data"), os.ModeDir | os.ModeSticky | 0o777},
	} {
		if c.path != c.want {
			t.Errorf("path %s, want %s", c.path, c.want)
			continue
		}
		fi, err := os.Lstat(c.path)
		if err != nil {
			t.Error(err)
		} else if fi.Mode() != c.mode {
			t.Errorf("%s: mode %v, want %v", c.path, fi.Mode(), c.mode)
		}
	}
}

// TestBuildTaskRefusesSymlinks: a task owns its directory and may replace
// local/ or secrets/ by a link; the agent builds the directories again
// at every start, and must then refuse instead of chmodding (and, as
// root, chowning) whatever the link points at. The same holds for the
// shared alloc/logs, which a container running as root can replace.
func TestBuildTaskRefusesSymlinks(t *testing.T) {
	for _, link := range []string{"web/local", "web/secrets", "web/tmp", "alloc/logs", ".state/web"} {
		t.Run(link, func(t *testing.T) {
			top := t.TempDir()
			victim := filepath.Join(top, "victim")
			if err := os.Mkdir(victim, 0o700); err != nil {
				t.Fatal(err)
			}
			d := allocDir{root: filepath.Join(top, "alloc1")}
			if err := d.buildShared(); err != nil {
				t.Fatal(err)
			}
			if _, err := d.buildTask("web", ""); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(d.root, link)
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(victim, p); err != nil {
				t.Fatal(err)
			}
			_, err := d.buildTask("web", "")
			if err == nil || !strings.Contains(err.Error(), "through a symbolic link") {
				t.Errorf("buildTask over a link at %s: %v, want a refusal", link, err)
			}
			fi, err := os.Stat(victim)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o700 {
				t.Errorf("mode of the link's target changed to %v", fi.Mode())
			}
		})
	}
}

// TestTemplatesStayInTheTaskDir: a template destination or source that
// goes through a link the task planted resolves inside the task
// directory, as if it were the root; the host's files are neither
// written nor read.
func TestTemplatesStayInTheTaskDir(t *testing.T) {
	top := t.TempDir()
	outside := filepath.Join(top, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "shadow")
	if err := os.WriteFile(secret, []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := allocDir{root: filepath.Join(top, "alloc1")}
	if err := d.buildShared(); err != nil {
		t.Fatal(err)
	}
	dirs, err := d.buildTask("web", "")
	if err != nil {
		t.Fatal(err)
	}
	// What a task can do in its own directory.
	if err := os.Symlink(outside, filepath.Join(dirs.Local, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dirs.Local, "src.tpl")); err != nil {
		t.Fatal(err)
	}
	r := taskenv.NewResolver(taskenv.Input{}, map[string]string{"NOMAD_TASK_DIR": dirs.Local})

	_, err = renderTemplates([]jobspec.Template{{Data: "pwned", Destination: "local/out/passwd"}}, dirs.Dirs, nil, r, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "passwd")); err == nil {
		t.Error("the template was written through the link, outside the task directory")
	}
	if b, err := os.ReadFile(filepath.Join(dirs.Task, outside, "passwd")); err != nil || string(b) != "pwned" {
		t.Errorf("the template is not where the link leads inside the task directory: %q, %v", b, err)
	}

	_, err = renderTemplates([]jobspec.Template{{Source: "local/src.tpl", Destination: "local/copy"}}, dirs.Dirs, nil, r, time.Now())
	if err == nil || !strings.Contains(err.Error(), "source") {
		t.Errorf("a source linked to a host file: %v, want an error", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dirs.Local, "copy")); len(b) > 0 {
		t.Errorf("the host file was read through the link: %q", b)
	}

	for _, dest := range []string{"../../outside/x", "${NOMAD_TASK_DIR}/../../../outside/x", outside + "/x"} {
		_, err = renderTemplates([]jobspec.Template{{Data: "x", Destination: dest}}, dirs.Dirs, nil, r, time.Now())
		if err == nil || !strings.Contains(err.Error(), "is outside the task directory") {
			t.Errorf("destination %s: %v, want a refusal", dest, err)
		}
	}
	if _, err := renderTemplates([]jobspec.Template{{Data: "ok", Destination: "${NOMAD_TASK_DIR}/app.conf"}}, dirs.Dirs, nil, r, time.Now()); err != nil {
		t.Errorf("an absolute destination in the task directory: %v", err)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Errorf("the outside directory changed: %v", entries)
	}
}

// TestBatchTaskCompletes: a batch job's main task that exits 0 is done:
// not restarted, and the allocation is complete, not failed.
func TestBatchTaskCompletes(t *testing.T) {
	l := newLayout(t)
	d := &fakeDriver{}
	job := batchJob("g", "web")
	job.Groups[0].Tasks[0].Restart = &jobspec.RestartPolicy{Attempts: 3, Mode: "fail"}
	ca := l.run(t, d, "a1", job)
	if ca.ClientStatus != cluster.AllocClientComplete {
		t.Fatalf("client status %q (%s), want complete; events %+v", ca.ClientStatus, ca.ClientDescription, ca.TaskStates["web"])
	}
	if n := len(d.starts()); n != 1 {
		t.Fatalf("the task started %d times, want once", n)
	}
}
