package docker

import (
	"bufio"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// The script-check attack of issue 13, against docker: the agent has
// DROVER_TOKEN in its environment and runs as root; a command run in a
// task with user = "65534" runs in the container as 65534, with the
// task's environment and not the agent's, and sees the container's
// filesystem and processes, not the host's.
func TestExecInContainer(t *testing.T) {
	t.Setenv("DROVER_TOKEN", "agent-secret")
	d := newDriver(t)
	ensureBusyboxImage(t, d)
	a := newTestAlloc(t, "exec1")
	cfg := a.shellTask(t, "web", "exec sleep 1000")
	cfg.User = "65534"
	cfg.Env = map[string]string{"TASK_MARK": "in-task"}
	h := start(t, d, cfg)

	res, err := d.Exec(testCtx(t), h, []string{"/bin/busybox", "sh", "-c", `
bb=/bin/busybox
echo uid=$($bb id -u)
echo mark=$TASK_MARK
echo token=$DROVER_TOKEN
test ! -e /etc/shadow && echo shadow=absent
echo procs=$($bb ls /proc | $bb grep -cE '^[0-9]+$')
echo hi >&2
exit 4`})
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	t.Logf("exec saw:\n%s", res.Stdout)
	got := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(res.Stdout)))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			got[k] = v
		}
	}
	for k, want := range map[string]string{"uid": "65534", "mark": "in-task", "token": "", "shadow": "absent"} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if n := got["procs"]; n == "" || len(n) > 1 {
		t.Errorf("the command sees %s processes, want the container's few", n)
	}
	if res.ExitCode != 4 || strings.TrimSpace(string(res.Stderr)) != "hi" {
		t.Errorf("exit %d, stderr %q; want 4 and hi", res.ExitCode, res.Stderr)
	}

	// Output does not outlive a context that ends first.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := d.Exec(ctx, h, []string{"/bin/busybox", "sleep", "30"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow command: err = %v, want the deadline", err)
	}
	if res, err := d.Exec(testCtx(t), h, []string{"/no/such/command"}); err == nil && res.ExitCode == 0 {
		t.Errorf("a missing command succeeded: %+v", res)
	}
}
