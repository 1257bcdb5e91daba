package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/client"

	"github.com/droverhq/drover/drivers"
)

// busyboxImage is built by the tests from the host's static busybox, for
// tasks that run shell commands.
const busyboxImage = "drover-test-busybox:latest"

var buildBusybox struct {
	once sync.Once
	err  error
}

// ensureBusyboxImage builds busyboxImage once per test binary, FROM
// scratch through the Engine API. Without a static busybox on the host
// the test skips, loudly.
func ensureBusyboxImage(t *testing.T, d *Driver) {
	t.Helper()
	const path = "/bin/busybox"
	f, err := elf.Open(path)
	if err != nil {
		t.Logf("%s: %v", path, err)
		t.Skip("SKIP: needs a static busybox at /bin/busybox (apt-get install busybox-static; make deps)")
	}
	static := !slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
	f.Close()
	if !static {
		t.Skipf("SKIP: %s is dynamically linked; a FROM scratch image needs busybox-static", path)
	}
	buildBusybox.once.Do(func() {
		bb, err := os.ReadFile(path)
		if err != nil {
			buildBusybox.err = err
			return
		}
		buildBusybox.err = buildFromFiles(t.Context(), d.api, busyboxImage, map[string][]byte{
			"Dockerfile": []byte("FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\"]\n"),
			"busybox":    bb,
		})
	})
	if buildBusybox.err != nil {
		t.Fatalf("build %s: %v", busyboxImage, buildBusybox.err)
	}
}

func buildFromFiles(ctx context.Context, api *client.Client, tag string, files map[string][]byte) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data))}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	res, err := api.ImageBuild(ctx, &buf, client.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true})
	if err != nil {
		return err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if bytes.Contains(out, []byte(`"errorDetail"`)) {
		return errors.New(string(out))
	}
	return nil
}

// testAlloc is an allocation directory laid out as the agent lays it out
// (agent/allocrunner): <root>/alloc/{data,logs,tmp}, <root>/<task>/...
type testAlloc struct {
	id, root string
}

func newTestAlloc(t *testing.T, id string) testAlloc {
	t.Helper()
	a := testAlloc{id: id, root: t.TempDir()}
	for _, d := range []string{"alloc/logs", "alloc/data", "alloc/tmp"} {
		if err := os.MkdirAll(filepath.Join(a.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"alloc/data", "alloc/tmp"} {
		if err := os.Chmod(filepath.Join(a.root, d), 0o777|os.ModeSticky); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// shellTask is a task of the allocation running script with busybox sh.
func (a testAlloc) shellTask(t *testing.T, name, script string) *drivers.TaskConfig {
	t.Helper()
	dir := filepath.Join(a.root, name)
	for _, d := range []string{"local", "secrets", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &drivers.TaskConfig{
		ID: a.id + "/" + name, AllocID: a.id, JobName: "job-" + a.id, GroupName: "g", TaskName: name,
		Config:   map[string]any{"image": busyboxImage, "args": []any{"sh", "-c", script}},
		Dir:      dir,
		AllocDir: filepath.Join(a.root, "alloc"),
		LocalDir: filepath.Join(dir, "local"), SecretsDir: filepath.Join(dir, "secrets"), TmpDir: filepath.Join(dir, "tmp"),
		StateDir: filepath.Join(a.root, ".state", name),
		Logs:     drivers.LogConfig{Dir: filepath.Join(a.root, "alloc", "logs"), MaxFiles: 2, MaxFileSizeMB: 1},
	}
}

// runToExit starts the task and waits for its exit, which must be 0.
func runToExit(t *testing.T, d *Driver, cfg *drivers.TaskConfig) {
	t.Helper()
	h := start(t, d, cfg)
	res, err := d.Wait(testCtx(t), h)
	if err != nil || res.ExitCode != 0 || res.Err != nil {
		t.Fatalf("task %s: exit %+v, %v", cfg.TaskName, res, err)
	}
}

func taskLog(t *testing.T, cfg *drivers.TaskConfig, stream string) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(cfg.Logs.Dir, cfg.TaskName+"."+stream+".0"))
	return string(b)
}

// TestTasksShareAllocDir: the shared directory is bound at /alloc (the
// driver used to append /alloc to it a second time and bind nothing), so
// two tasks of a group share a file there. /alloc/logs is bound
// read-only: the driver writes there, and a task must not plant links.
func TestTasksShareAllocDir(t *testing.T) {
	d := newDriver(t)
	ensureBusyboxImage(t, d)
	a := newTestAlloc(t, "share1")

	writer := a.shellTask(t, "writer", "echo shared-by-writer > /alloc/data/note")
	runToExit(t, d, writer)
	if b, err := os.ReadFile(filepath.Join(a.root, "alloc", "data", "note")); err != nil || string(b) != "shared-by-writer\n" {
		t.Fatalf("the writer's file is not in the shared directory on the host: %q, %v", b, err)
	}

	reader := a.shellTask(t, "reader", "cat /alloc/data/note; if ln -s / /alloc/logs/reader.stdout.1 2>/dev/null; then echo logs-writable; else echo logs-read-only; fi")
	runToExit(t, d, reader)
	waitFor(t, "reader's output", func() bool { return strings.Contains(taskLog(t, reader, "stdout"), "logs-") })
	if out := taskLog(t, reader, "stdout"); out != "shared-by-writer\nlogs-read-only\n" {
		t.Errorf("reader's stdout = %q, want the writer's line and a read-only /alloc/logs", out)
	}
}

// TestSymlinkMountEscape is the reproduction: a prestart container made
// alloc/data/hostroot -> /, and the main task bind-mounted
// ../alloc/data/hostroot and read the host's /etc/shadow. Its Start now
// fails with an error that says where the link leads, and no container
// is created.
func TestSymlinkMountEscape(t *testing.T) {
	d := newDriver(t)
	ensureBusyboxImage(t, d)
	a := newTestAlloc(t, "escape1")

	plant := a.shellTask(t, "plant", "ln -s / /alloc/data/hostroot && ln -s ../data /alloc/tmp/fine")
	runToExit(t, d, plant)
	if dst, err := os.Readlink(filepath.Join(a.root, "alloc", "data", "hostroot")); err != nil || dst != "/" {
		t.Fatalf("the prestart task did not plant its link: %q, %v", dst, err)
	}

	for _, tc := range []struct {
		name   string
		config map[string]any
		leads  string
	}{
		{"volumes", map[string]any{"volumes": []any{"../alloc/data/hostroot:/host:ro"}}, "/"},
		{"volumes below the link", map[string]any{"volumes": []any{"../alloc/data/hostroot/etc:/host-etc:ro"}}, "/etc"},
		{"mount", map[string]any{"mount": []any{map[string]any{"type": "bind", "source": "../alloc/data/hostroot", "target": "/host", "readonly": true}}}, "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			main := a.shellTask(t, "main", "cat /host/etc/shadow /host-etc/shadow")
			main.AllocID = "escape1-" + strings.ReplaceAll(tc.name, " ", "-")
			for k, v := range tc.config {
				main.Config[k] = v
			}
			want := "leads to " + tc.leads + " through a symbolic link, outside the allocation directory " + a.root + "; refusing to bind it"
			h, err := d.Start(testCtx(t), main)
			if err == nil {
				d.Destroy(context.Background(), h)
				t.Fatal("Start succeeded: the task could read the host's files")
			}
			if !strings.Contains(err.Error(), want) || !errors.Is(err, drivers.ErrInvalidConfig) {
				t.Errorf("err = %v\nwant an invalid config saying %q", err, want)
			}
			list, lerr := d.api.ContainerList(t.Context(), client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", LabelAllocID+"="+main.AllocID)})
			if lerr != nil || len(list.Items) != 0 {
				t.Errorf("a refused Start left %d containers (%v)", len(list.Items), lerr)
			}
		})
	}

	// A link that stays in the allocation still works.
	ok := a.shellTask(t, "ok", "cat /shared/note")
	ok.Config["volumes"] = []any{"../alloc/tmp/fine:/shared:ro"}
	if err := os.WriteFile(filepath.Join(a.root, "alloc", "data", "note"), []byte("inside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runToExit(t, d, ok)
	waitFor(t, "ok's output", func() bool { return taskLog(t, ok, "stdout") == "inside\n" })
}

// TestHostPath covers the resolution of bind sources without a daemon.
func TestHostPath(t *testing.T) {
	a := newTestAlloc(t, "hp")
	dir := filepath.Join(a.root, "web")
	for _, d := range []string{filepath.Join(dir, "local"), filepath.Join(a.root, ".state", "web")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	outside := t.TempDir()
	links := map[string]string{
		"alloc/data/root":    "/",
		"alloc/data/out":     outside,
		"alloc/data/rel":     "../tmp",
		"web/local/up":       "../../../..",
		"alloc/data/state":   "../../.state",
		"alloc/data/missing": "/nonexistent-drover-test",
	}
	for l, dst := range links {
		if err := os.Symlink(dst, filepath.Join(a.root, l)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &drivers.TaskConfig{Dir: dir, AllocDir: filepath.Join(a.root, "alloc")}
	for _, tc := range []struct {
		src, want, err string
		inside         bool
	}{
		{"local/conf", dir + "/local/conf", "", true},
		{"../alloc/data", a.root + "/alloc/data", "", true},
		{"../alloc/data/rel", a.root + "/alloc/tmp", "", true},
		{"../alloc/data/missing/x", a.root + "/nonexistent-drover-test/x", "", true},
		{"/etc", "/etc", "", false},
		{"../../x", filepath.Dir(a.root) + "/x", "", false},
		{"../alloc/data/root", "", "leads to / through a symbolic link", true},
		{"../alloc/data/root/etc/shadow", "", "leads to /etc/shadow through a symbolic link", true},
		{"../alloc/data/out", "", "leads to " + outside + " through a symbolic link", true},
		{"local/up", "", "through a symbolic link", true},
		{"../.state/web", "", "is the agent's own state", true},
		{"../alloc/data/state", "", "is the agent's own state", true},
	} {
		got, inside, err := hostPath(cfg, tc.src)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("hostPath(%s) = %q, %v; want an error saying %q", tc.src, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want || inside != tc.inside):
			t.Errorf("hostPath(%s) = %q, %v, %v; want %q, %v", tc.src, got, inside, err, tc.want, tc.inside)
		}
	}
}
