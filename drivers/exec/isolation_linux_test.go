//go:build linux

package exec

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/drivers"
)

// isolatedDriver is the driver as an agent configures it: isolated tasks.
func isolatedDriver(t testing.TB) *Driver {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED — ISOLATED EXEC IS NOT TESTED: it needs root (namespaces, mounts, chroot)")
	}
	cfg := testConfig(nil)
	cfg.Isolation = DefaultIsolation()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// isoTask is shTask with the directories an agent gives a task: the
// alloc dir's shared alloc/ and the task's local/, secrets/ and tmp/,
// and the variables naming them.
func isoTask(t testing.TB, script string) *drivers.TaskConfig {
	t.Helper()
	cfg := shTask(t, script)
	root := cfg.AllocDir
	cfg.AllocDir = filepath.Join(root, "alloc")
	cfg.StateDir = filepath.Join(root, ".state", "web")
	for _, d := range []string{cfg.AllocDir, filepath.Join(cfg.AllocDir, "logs"), cfg.StateDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(cfg.AllocDir, 0o777); err != nil {
		t.Fatal(err)
	}
	cfg.Env["NOMAD_ALLOC_DIR"] = cfg.AllocDir
	cfg.Env["NOMAD_TASK_DIR"] = filepath.Join(cfg.Dir, "local")
	cfg.Env["NOMAD_SECRETS_DIR"] = filepath.Join(cfg.Dir, "secrets")
	return cfg
}

// taskOutput is the task's stdout so far.
func taskOutput(t testing.TB, cfg *drivers.TaskConfig) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cfg.AllocDir, "logs", "web.stdout.0"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

func outputLines(out string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			m[k] = v
		}
	}
	return m
}

// The acceptance test of issue 13: a task with no user runs as nobody,
// sees only its chroot and only its own processes, and finds its own
// directories where the variables say.
func TestIsolatedTask(t *testing.T) {
	d := isolatedDriver(t)
	cfg := isoTask(t, `
echo uid=$(id -u)
echo user=$(id -un)
ls /root >/dev/null 2>&1; echo ls_root=$?
echo procs=$(ls /proc | grep -E '^[0-9]+$' | tr '\n' ' ')
echo pid1=$(tr '\0' ' ' </proc/1/cmdline)
echo alloc_dir=$NOMAD_ALLOC_DIR task_dir=$NOMAD_TASK_DIR
echo hi > $NOMAD_ALLOC_DIR/from-task; echo w_alloc=$?
echo hi > local/from-task; echo w_local=$?
echo hi > /usr/x 2>/dev/null; echo w_usr=$?
echo hi > /x 2>/dev/null; echo w_root=$?
cat /etc/shadow >/dev/null 2>&1; echo shadow=$?
echo pwd=$(pwd)
ls /dev | tr '\n' ' ' | sed 's/^/dev=/'; echo
echo caps=$(grep CapEff /proc/self/status | tr -d '\t')
echo nnp=$(grep NoNewPrivs /proc/self/status | tr -d '\t')
`)
	res := wait(t, d, start(t, d, cfg))
	out := taskOutput(t, cfg)
	if !res.Successful() {
		t.Fatalf("exit = %+v; output:\n%s", res, out)
	}
	got := outputLines(out)
	want := map[string]string{
		"uid": "65534", "user": "nobody", "w_alloc": "0", "w_local": "0",
		"pwd": "/", "caps": "CapEff:0000000000000000", "nnp": "NoNewPrivs:1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, k := range []string{"ls_root", "w_usr", "w_root", "shadow"} {
		if got[k] == "0" || got[k] == "" {
			t.Errorf("%s = %q, want a failure", k, got[k])
		}
	}
	if !strings.HasPrefix(got["alloc_dir"], "/alloc task_dir=/local") {
		t.Errorf("alloc_dir/task_dir = %q, want /alloc and /local", got["alloc_dir"])
	}
	// The shim is pid 1; the shell and its pipeline are all there is.
	procs := strings.Fields(got["procs"])
	if len(procs) == 0 || procs[0] != "1" || len(procs) > 6 {
		t.Errorf("/proc shows pids %v, want the task's few", procs)
	}
	for _, p := range procs {
		if n, _ := strconv.Atoi(p); n > 50 {
			t.Errorf("/proc shows pid %d: not a fresh PID namespace", n)
		}
	}
	if !strings.Contains(got["dev"], "null") || strings.Contains(got["dev"], "sda") || strings.Contains(got["dev"], "kvm") {
		t.Errorf("/dev = %q", got["dev"])
	}
	if b, err := os.ReadFile(filepath.Join(cfg.AllocDir, "from-task")); err != nil || string(b) != "hi\n" {
		t.Errorf("alloc/from-task on the host: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, "local", "from-task")); err != nil {
		t.Errorf("local/from-task on the host: %v", err)
	}
	// Nothing of the task's root shows in the host's mount table.
	if mi := readFile(t, "/proc/self/mountinfo"); strings.Contains(mi, cfg.StateDir) || strings.Contains(mi, cfg.Dir) {
		t.Errorf("the task's mounts leaked into the host's mount namespace:\n%s", grepLines(mi, filepath.Dir(cfg.Dir)))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func TestIsolatedUserDenied(t *testing.T) {
	d := isolatedDriver(t)
	for _, u := range []string{"root", "0"} {
		cfg := isoTask(t, "id")
		cfg.User = u
		_, err := d.Start(t.Context(), cfg)
		if !errors.Is(err, ErrUserDenied) || !strings.Contains(err.Error(), "denylist") || !strings.Contains(err.Error(), `"root"`) {
			t.Errorf("user %q: Start = %v, want refused with the denylist named", u, err)
		}
	}
	// Another user runs as that user.
	cfg := isoTask(t, "echo uid=$(id -u)")
	cfg.User = "daemon"
	res := wait(t, d, start(t, d, cfg))
	if got := outputLines(taskOutput(t, cfg))["uid"]; !res.Successful() || got != "1" {
		t.Errorf("user daemon: exit %+v, uid %q", res, got)
	}
}

func TestIsolatedCommandOutsideRoot(t *testing.T) {
	d := isolatedDriver(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := isoTask(t, "")
	cfg.Config = map[string]any{"command": exe}
	_, err = d.Start(t.Context(), cfg)
	// Outside chroot_env, or under /tmp, which is the task's own inside.
	if err == nil || !(strings.Contains(err.Error(), "not inside the task's root") || strings.Contains(err.Error(), "not found")) {
		t.Errorf("Start of a host binary outside chroot_env = %v", err)
	}
}

func TestIsolatedPython(t *testing.T) {
	py, err := osexec.LookPath("python3")
	if err != nil {
		t.Skip("SKIPPED — NO python3 ON THIS HOST")
	}
	d := isolatedDriver(t)
	cfg := isoTask(t, "")
	cfg.Config = map[string]any{"command": "python3", "args": []any{"-c",
		"import ssl, json, socket, http.server, pwd; print('py=ok', pwd.getpwuid(65534).pw_name, socket.gethostbyname('localhost'))"}}
	_ = py
	res := wait(t, d, start(t, d, cfg))
	if out := taskOutput(t, cfg); !res.Successful() || !strings.Contains(out, "py=ok nobody 127.0.0.1") {
		t.Errorf("exit %+v, output %q, stderr %q", res, out, readFileMaybe(filepath.Join(cfg.AllocDir, "logs", "web.stderr.0")))
	}
}

func readFileMaybe(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// A memory hog is killed by the kernel in its cgroup, and the exit says
// so: the agent turns OOMKilled into the "OOM Killed" task event.
func TestIsolatedOOMKilled(t *testing.T) {
	d := isolatedDriver(t)
	if cg := d.cgroups(); !cg.enabled {
		t.Skipf("SKIPPED — CGROUP OOM KILL IS NOT TESTED ON THIS HOST: %s", cg.reason)
	}
	// 64 MiB of shell string in a 16 MiB cgroup.
	cfg := isoTask(t, `x=$(head -c 67108864 /dev/zero | tr '\0' a); echo ${#x}`)
	cfg.Resources.MemoryMB = 16
	res := wait(t, d, start(t, d, cfg))
	if !res.OOMKilled || res.Successful() {
		t.Errorf("exit = %+v, want OOMKilled", res)
	}
}

// Stop reaches the task through its host pid, Recover finds it again from
// the handle a crashed agent persisted, and the exit is recorded.
func TestIsolatedStopAndRecover(t *testing.T) {
	d := isolatedDriver(t)
	cfg := isoTask(t, `trap 'echo got-int; exit 3' INT; echo ready > local/ready; while :; do sleep 0.05; done`)
	h := start(t, d, cfg)
	waitFor(t, "task ready", exists(filepath.Join(cfg.Dir, "local", "ready")))
	st := state(t, h)
	// The shim's threads take the first few pids of the namespace.
	if ns := innermostPID(st.PID); !running(st.PID, st.StartTime) || ns <= 1 || ns == st.PID {
		t.Fatalf("handle pid %d: running %v, pid in its namespace %d", st.PID, running(st.PID, st.StartTime), ns)
	}
	if err := d.Stop(testCtx(t), h, "", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if res := wait(t, d, h); res.ExitCode != 3 {
		t.Errorf("exit = %+v, want 3 from the INT trap", res)
	}

	cfg2 := isoTask(t, `echo ready > local/ready; while [ ! -e local/go ]; do sleep 0.02; done; exit 7`)
	h2 := startInAgent(t, cfg2, agentIsolatedEnvVar+"=1")
	waitFor(t, "task ready", exists(filepath.Join(cfg2.Dir, "local", "ready")))
	if st := state(t, h2); !running(st.PID, st.StartTime) || !running(st.ShimPID, st.ShimStartTime) {
		t.Fatal("the agent's death took the isolated task with it")
	}
	d2 := isolatedDriver(t)
	if err := d2.Recover(testCtx(t), h2); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg2.Dir, "local", "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := wait(t, d2, h2); res.ExitCode != 7 {
		t.Errorf("recovered exit = %+v, want 7", res)
	}
	if err := d2.Destroy(testCtx(t), h2); err != nil {
		t.Error(err)
	}
}

// No per-task copy of host files: 100 running tasks' roots and task
// directories take well under 10 MB, and what a task sees of /usr is the
// host's own inode.
func TestIsolatedChrootDiskUsage(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED — 100 TASKS (-short)")
	}
	d := isolatedDriver(t)
	const n = 100
	st, err := os.Stat("/usr/bin/env")
	if err != nil {
		t.Skip("SKIPPED — NO /usr/bin/env")
	}
	host := st.Sys().(*syscall.Stat_t)
	want := fmt.Sprintf("%d", host.Ino)
	cfgs := make([]*drivers.TaskConfig, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		cfgs[i] = isoTask(t, `stat -c %i /usr/bin/env > local/ino.tmp && mv local/ino.tmp local/ino; exec sleep 300`)
		cfgs[i].ID = fmt.Sprintf("a%d/web", i)
		cfgs[i].AllocID = fmt.Sprintf("a%d", i)
	}
	handles := make([]*drivers.TaskHandle, n)
	for i := range n {
		wg.Go(func() {
			h, err := d.Start(t.Context(), cfgs[i])
			if err != nil {
				errs <- err
				return
			}
			handles[i] = h
		})
		if i%4 == 3 {
			wg.Wait()
		}
	}
	wg.Wait()
	t.Cleanup(func() {
		// t.Context() is done by now.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, h := range handles {
			if h != nil {
				_ = d.Destroy(ctx, h)
			}
		}
	})
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var dirs []string
	for _, cfg := range cfgs {
		waitFor(t, "task ready", exists(filepath.Join(cfg.Dir, "local", "ino")))
		if got := strings.TrimSpace(readFile(t, filepath.Join(cfg.Dir, "local", "ino"))); got != want {
			t.Fatalf("inode of /usr/bin/env inside = %s, on the host %s: not a bind mount", got, want)
		}
		dirs = append(dirs, cfg.Dir, cfg.StateDir)
	}
	out, err := osexec.Command("du", append([]string{"-sck"}, dirs...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	total, _ := strconv.Atoi(strings.Fields(lines[len(lines)-1])[0])
	t.Logf("disk usage of %d isolated tasks' roots and task directories: %d KiB", n, total)
	if total >= 10*1024 {
		t.Errorf("%d tasks use %d KiB, want under 10 MB", n, total)
	}
}

func TestPathMapRewrite(t *testing.T) {
	dirs := taskDirs{task: "/d/a1/web", local: "/d/a1/web/local", secrets: "/d/a1/web/secrets", tmp: "/d/a1/web/tmp", alloc: "/d/a1/alloc"}
	pm := newPathMap(chrootPlan(map[string]string{"/usr": "/usr"}, dirs), dirs.task)
	for in, want := range map[string]string{
		"/d/a1/web/local":                   "/local",
		"/d/a1/web/local/x.sh":              "/local/x.sh",
		"cat /d/a1/alloc/pid; ls /d/a1/web": "cat /alloc/pid; ls /",
		"/d/a1/web/other":                   "/other",
		"/d/a1/webby":                       "/d/a1/webby",
		"/d/a1/allocx":                      "/d/a1/allocx",
		"/usr/bin/python3":                  "/usr/bin/python3",
	} {
		if got := pm.rewrite(in); got != want {
			t.Errorf("rewrite(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"/usr/bin/env": "/usr/bin/env", "/local/run": "/d/a1/web/local/run", "/alloc": "/d/a1/alloc"} {
		if got, ok := pm.host(in); !ok || got != want {
			t.Errorf("host(%q) = %q, %v, want %q", in, got, ok, want)
		}
	}
	if got, ok := pm.host("/opt/x"); ok {
		t.Errorf("host(/opt/x) = %q, want not inside", got)
	}
}

// TestHostPID: the forking thread's children list answers when it names
// the task; a list that does not (stale, or of another thread) falls back
// to searching the shim's children and still finds it. Outside a PID
// namespace a process's innermost pid is its host pid, so the test
// process plays the shim.
func TestHostPID(t *testing.T) {
	child := osexec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	pid := child.Process.Pid
	for _, tc := range []struct {
		name   string
		forker string
	}{
		{"forker lists the task", strconv.Itoa(pid) + " "},
		{"forker lists others", strconv.Itoa(os.Getpid()) + " 1 "},
		{"forker read nothing", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := hostPID(pid, []byte(tc.forker))
			if err != nil || got != pid {
				t.Fatalf("hostPID(%d, %q) = %d, %v; want %d", pid, tc.forker, got, err, pid)
			}
		})
	}
	if got, err := hostPID(1<<22+1, []byte(strconv.Itoa(pid))); err == nil {
		t.Fatalf("hostPID of a pid no child has = %d, want an error", got)
	}
}
