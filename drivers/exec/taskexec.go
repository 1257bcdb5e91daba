package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/droverhq/drover/drivers"
)

var _ drivers.Execer = (*Driver)(nil)

// maxExecOutput bounds what Exec keeps of each of stdout and stderr; the
// rest is read and dropped, so a chatty command cannot fill the agent's
// memory or block on a full pipe.
const maxExecOutput = 64 << 10

// Exec implements drivers.Execer: it runs cmd (no shell) in the running
// task's isolation, as script checks need. For an isolated task that is
// the task's mount, PID, IPC and UTS namespaces, its chroot, its user
// (the job's, else the default user; the user denylist applies), its
// cgroup, no_new_privs and the task's capability bounding set, in "/" of
// its root. Without isolation (raw_exec) it is a host process as the
// task's user in the task directory. Either way the environment is the
// task's only, never the agent's. A command that exits non-zero is not an
// error: ExecResult carries its code. When ctx ends first the command's
// process group is killed and ctx's error returned.
func (d *Driver) Exec(ctx context.Context, h *drivers.TaskHandle, cmd []string) (drivers.ExecResult, error) {
	t, err := d.tasks.Lookup(h)
	if err != nil {
		return drivers.ExecResult{}, err
	}
	if len(cmd) == 0 || cmd[0] == "" {
		return drivers.ExecResult{}, fmt.Errorf("%s: exec in %s: no command", d.cfg.Name, h.TaskID)
	}
	if h.Config == nil {
		return drivers.ExecResult{}, fmt.Errorf("%s: exec in %s: the handle has no task config", d.cfg.Name, h.TaskID)
	}
	if t.exit.Exited() || !running(t.st.PID, t.st.StartTime) {
		return drivers.ExecResult{}, fmt.Errorf("%s: exec in %s: the task is not running", d.cfg.Name, h.TaskID)
	}
	spec, err := d.execSpec(h.Config, t.st, cmd)
	if err != nil {
		return drivers.ExecResult{}, fmt.Errorf("%s: exec in %s: %w", d.cfg.Name, h.TaskID, err)
	}
	res, err := runExec(ctx, spec)
	if err != nil {
		return res, fmt.Errorf("%s: exec in %s: %w", d.cfg.Name, h.TaskID, err)
	}
	return res, nil
}

// execSpec is a command to run in a task, all decided before anything is
// entered or forked.
type execSpec struct {
	argv []string
	env  []string
	// dir is the working directory: "/" of the task's root when
	// isolated, else the task directory.
	dir  string
	cred *shimCredential
	// isolated: enter the namespaces and root of the task's process
	// (pid, start time) before running argv.
	isolated bool
	pid      int
	start    uint64
	// The task's cgroups, which the command joins.
	cgroup         string
	cgroupV1       []string
	cgroupV1Mounts []string
}

// execSpec resolves the user, environment and paths of cmd as Start
// resolved the task's own.
func (d *Driver) execSpec(cfg *drivers.TaskConfig, st handleState, cmd []string) (*execSpec, error) {
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil || cfg.Dir == "" {
		return nil, fmt.Errorf("task directory %q is not usable", cfg.Dir)
	}
	s := &execSpec{
		argv: append([]string(nil), cmd...), env: taskEnv(cfg.Env), dir: dir,
		pid: st.PID, start: st.StartTime, cgroup: st.Cgroup, cgroupV1: st.CgroupV1,
	}
	if len(st.CgroupV1) > 0 {
		s.cgroupV1Mounts = []string{filepath.Join(d.cfg.CgroupRoot, v1Memory), filepath.Join(d.cfg.CgroupRoot, v1CPU)}
	}
	userName := cfg.User
	if iso := d.cfg.Isolation; iso != nil {
		if userName == "" {
			userName = iso.DefaultUser
		}
		if err := iso.checkUser(userName); err != nil {
			return nil, err
		}
		pm := newPathMap(chrootPlan(iso.ChrootEnv, execTaskDirs(cfg, dir)), dir)
		for i, a := range s.argv {
			s.argv[i] = pm.rewrite(a)
		}
		for i, kv := range s.env {
			k, v, _ := strings.Cut(kv, "=")
			s.env[i] = k + "=" + pm.rewrite(v)
		}
		s.isolated, s.dir = true, "/"
	}
	if s.cred, err = taskCredential(userName); err != nil {
		return nil, err
	}
	return s, nil
}

// execTaskDirs are the task's directories as chroot planned them at
// Start, without creating or chowning anything: the task made them.
func execTaskDirs(cfg *drivers.TaskConfig, dir string) taskDirs {
	abs := func(p, def string) string {
		if p == "" {
			p = def
		}
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	dirs := taskDirs{
		task:    dir,
		local:   abs(cfg.LocalDir, filepath.Join(dir, "local")),
		secrets: abs(cfg.SecretsDir, filepath.Join(dir, "secrets")),
		tmp:     abs(cfg.TmpDir, filepath.Join(dir, "tmp")),
	}
	if cfg.AllocDir != "" {
		dirs.alloc = abs(cfg.AllocDir, "")
	}
	return dirs
}

// boundedBuffer keeps the first max bytes written to it and drops the
// rest, reporting every write as complete.
type boundedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// errExecNotIsolated refuses to "enter" a task that shares the agent's
// mount namespace: entering it would be running on the host.
var errExecNotIsolated = errors.New("the task runs in the host's mount namespace, not in an isolated root (started before isolation was on?); refusing to run the command on the host")
