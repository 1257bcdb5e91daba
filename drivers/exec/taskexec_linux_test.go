//go:build linux

package exec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/drivers"
)

// execProbe prints what a command sees of where it runs.
const execProbe = `
echo uid=$(id -u)
test ! -e /root && echo root_hidden=yes
cat /etc/shadow >/dev/null 2>&1; echo shadow=$?
echo mark=$TASK_MARK
echo token=$DROVER_TOKEN
echo task_dir=$NOMAD_TASK_DIR
echo pwd=$(pwd)
echo procs=$(ls /proc | grep -cE '^[0-9]+$')
echo pid1=$(tr '\0' ' ' </proc/1/cmdline)
echo nnp=$(grep NoNewPrivs /proc/self/status | tr -d '\t')
echo caps=$(grep CapEff /proc/self/status | tr -d '\t')
echo cgroup=$(grep -E ':memory:|^0::' /proc/self/cgroup | head -1)
echo hi > /usr/x 2>/dev/null; echo w_usr=$?
`

// The script-check attack of issue 13, against isolated exec: the agent
// has DROVER_TOKEN in its environment and runs as root; a command run in
// the task sees uid 65534, the task's chroot and PID namespace, the
// task's environment (its paths as the task sees them) and not the
// agent's, and stays in the task's cgroup with no capabilities.
func TestExecIsolated(t *testing.T) {
	t.Setenv("DROVER_TOKEN", "agent-secret")
	d := isolatedDriver(t)
	cfg := isoTask(t, "exec sleep 1000")
	cfg.Env["TASK_MARK"] = "in-task"
	h := start(t, d, cfg)
	res, err := d.Exec(testCtx(t), h, []string{"sh", "-c", execProbe})
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", res.ExitCode, res.Stdout, res.Stderr)
	}
	got := outputLines(string(res.Stdout))
	t.Logf("exec saw:\n%s", res.Stdout)
	for k, want := range map[string]string{
		"uid": "65534", "root_hidden": "yes", "shadow": "1", "mark": "in-task", "token": "",
		"task_dir": "/local", "pwd": "/", "nnp": "NoNewPrivs:1", "caps": "CapEff:0000000000000000",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if got["w_usr"] == "0" {
		t.Error("the command could write to /usr")
	}
	if n := got["procs"]; n == "" || len(n) > 1 {
		t.Errorf("the command sees %s processes, want the task's few", n)
	}
	if !strings.Contains(got["pid1"], os.Args[0]) {
		t.Errorf("pid 1 of the command's namespace is %q, want the task's shim (%s)", got["pid1"], os.Args[0])
	}
	st := state(t, h)
	if cg := append([]string{st.Cgroup}, st.CgroupV1...); len(st.CgroupV1) > 0 || st.Cgroup != "" {
		name := filepath.Base(cg[len(cg)-1])
		if !strings.Contains(got["cgroup"], name) {
			t.Errorf("the command's cgroup is %q, want the task's (%s)", got["cgroup"], name)
		}
	}

	// An exit code is a result, not an error; PATH is the task's.
	res, err = d.Exec(testCtx(t), h, []string{"sh", "-c", "exit 3"})
	if err != nil || res.ExitCode != 3 {
		t.Errorf("exit 3: %+v, %v", res, err)
	}
	if _, err := d.Exec(testCtx(t), h, []string{"no-such-command"}); err == nil || !strings.Contains(err.Error(), `"no-such-command" not found`) {
		t.Errorf("unknown command: %v", err)
	}
	// A command the task's root does not hold is not found, even though
	// the host has it.
	if _, err := d.Exec(testCtx(t), h, []string{os.Args[0]}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("the test binary, outside the task's root: %v", err)
	}
}

// A command that outlives its context is killed, with its children.
func TestExecTimeout(t *testing.T) {
	d := isolatedDriver(t)
	h := start(t, d, isoTask(t, "exec sleep 1000"))
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := d.Exec(ctx, h, []string{"sh", "-c", "sleep 100 & sleep 100"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the deadline", err)
	}
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("Exec returned after %v", took)
	}
}

// A task that exited cannot be entered, and one that never was isolated
// (a handle from before isolation) is refused rather than run on the host.
func TestExecRefusals(t *testing.T) {
	d := isolatedDriver(t)
	h := start(t, d, isoTask(t, "exit 0"))
	wait(t, d, h)
	if _, err := d.Exec(testCtx(t), h, []string{"id"}); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("exec in an exited task: %v", err)
	}

	host := newDriver(t)
	hh := start(t, host, shTask(t, "exec sleep 1000"))
	foreign := *hh
	foreign.TaskID = "foreign/web"
	d.tasks.Put(foreign.TaskID, &task{st: state(t, hh), stop: make(chan struct{})})
	defer d.tasks.Delete(foreign.TaskID)
	if _, err := d.Exec(testCtx(t), &foreign, []string{"id"}); !errors.Is(err, errExecNotIsolated) {
		t.Errorf("exec into a host process through the isolated driver: %v", err)
	}
}

// Without isolation (raw_exec) the command is a host process in the task
// directory, as the task's user, but still with the task's environment
// only.
func TestExecHost(t *testing.T) {
	t.Setenv("DROVER_TOKEN", "agent-secret")
	d := newDriver(t)
	cfg := shTask(t, "exec sleep 1000")
	cfg.Env["TASK_MARK"] = "in-task"
	if os.Geteuid() == 0 {
		cfg.User = "nobody"
		for _, dir := range []string{cfg.Dir, cfg.AllocDir, filepath.Dir(cfg.AllocDir)} {
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	h := start(t, d, cfg)
	res, err := d.Exec(testCtx(t), h, []string{"sh", "-c", "echo uid=$(id -u); echo mark=$TASK_MARK; echo token=$DROVER_TOKEN; echo pwd=$(pwd)"})
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	got := outputLines(string(res.Stdout))
	want := map[string]string{"mark": "in-task", "token": "", "pwd": cfg.Dir}
	if os.Geteuid() == 0 {
		want["uid"] = "65534"
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q (stdout %q, stderr %q)", k, got[k], w, res.Stdout, res.Stderr)
		}
	}
}

func TestBoundedBuffer(t *testing.T) {
	b := &boundedBuffer{max: 4}
	for _, s := range []string{"ab", "cdef", "gh"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := b.buf.String(); got != "abcd" {
		t.Errorf("kept %q, want abcd", got)
	}
}

var _ drivers.Execer = (*Driver)(nil)
