//go:build linux

package exec

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/droverhq/drover/logrotate"
)

const (
	// reapGrace bounds how long the shim reaps what the task's process
	// group left behind before it records the exit and leaves.
	reapGrace = time.Second
	// drainGrace bounds how long the shim waits for the log pipes to
	// reach EOF: a process that escaped the group may hold them open.
	drainGrace = 2 * time.Second
)

// runTask starts the task, answers the agent, and supervises the task until
// it exits. An error means the task never started.
func runTask(log *slog.Logger, spec *shimSpec, answer func(shimStarted)) (shimStatus, error) {
	// Catch, rather than ignore, the signals a terminal or a careless
	// `kill` would send the shim: a caught signal is reset to its default
	// in the task at exec, an ignored one would stay ignored there and the
	// task could not be stopped with it.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		for s := range sigs {
			log.Warn("exec shim ignores signal; stop the task instead", "signal", s)
		}
	}()
	defer func() {
		signal.Stop(sigs)
		close(sigs)
	}()

	// Orphans of the task re-parent to us, so we can reap them.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		log.Warn("cannot become child subreaper; orphans of the task go to init", "err", err)
	}

	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return shimStatus{}, err
	}
	defer devNull.Close()

	var drains sync.WaitGroup
	stdout, closeOut, err := logPipe(log, spec, "stdout", devNull, &drains)
	if err != nil {
		return shimStatus{}, err
	}
	stderr, closeErr, err := logPipe(log, spec, "stderr", devNull, &drains)
	if err != nil {
		closeOut()
		return shimStatus{}, err
	}

	sys := &syscall.SysProcAttr{Setsid: true}
	if c := spec.Credential; c != nil {
		sys.Credential = &syscall.Credential{Uid: c.UID, Gid: c.GID, Groups: c.Groups}
	}
	if spec.Cgroup != "" {
		cg, err := os.Open(spec.Cgroup)
		if err != nil {
			closeOut()
			closeErr()
			return shimStatus{}, fmt.Errorf("open cgroup: %w", err)
		}
		defer cg.Close()
		sys.UseCgroupFD, sys.CgroupFD = true, int(cg.Fd())
	}
	if c := spec.Chroot; c != nil {
		if err := setupRoot(c); err != nil {
			closeOut()
			closeErr()
			return shimStatus{}, fmt.Errorf("build the task's root: %w", err)
		}
		sys.Chroot = c.Root
	}
	// The task's host pid (hostPID), read on the forking thread while it
	// still lives: the thread exits after, handing its children on.
	var forker []byte
	proc, err := startOnThread(func() (func(), error) { return prepareThread(spec) }, func() (*os.Process, error) {
		p, err := os.StartProcess(spec.Path, spec.Argv, &os.ProcAttr{
			Dir:   spec.Dir,
			Env:   spec.Env,
			Files: []*os.File{devNull, stdout, stderr},
			Sys:   sys,
		})
		if err == nil && spec.Chroot != nil {
			forker, _ = os.ReadFile("/proc/thread-self/children")
		}
		return p, err
	})
	// The task holds its own copies of the pipes' write ends now; ours
	// must go or the drains never see EOF.
	if stdout != devNull {
		stdout.Close()
	}
	if stderr != devNull {
		stderr.Close()
	}
	if err != nil {
		closeOut()
		closeErr()
		drains.Wait()
		return shimStatus{}, fmt.Errorf("start %s: %w", spec.Path, err)
	}
	pid := proc.Pid
	// The agent knows the task by its pid on the host; in a PID
	// namespace of its own that is not the pid we see.
	host := pid
	if spec.Chroot != nil {
		if host, err = hostPID(pid, forker); err != nil {
			_ = proc.Kill()
			reap(log, pid)
			closeOut()
			closeErr()
			drains.Wait()
			return shimStatus{}, fmt.Errorf("find the task's host pid: %w", err)
		}
	}
	// Not reaped yet, so /proc/<pid> exists even if the task already
	// exited.
	start, err := procStartTime(host)
	if err != nil {
		log.Error("read task start time", "err", err)
	}
	log.Info("task started", "task_pid", host, "ns_pid", pid, "path", spec.Path)
	answer(shimStarted{PID: host, StartTime: start})

	ws := reap(log, pid)
	// Whatever the task left in its process group dies with it, like
	// Nomad's executor: a task is its whole group, not its first process.
	if err := unix.Kill(-pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		log.Warn("kill task's process group", "err", err)
	}
	reapRest(log, time.Now().Add(reapGrace))
	_ = proc.Release()

	drained := make(chan struct{})
	go func() { drains.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(drainGrace):
		log.Warn("log pipes still open after the task exited; a process escaped its process group")
	}
	closeOut()
	closeErr()

	st := shimStatus{ExitCode: ws.ExitStatus(), ExitedAt: time.Now(), OOMKilled: cgroupOOMKilled(spec.Cgroup)}
	for _, dir := range spec.CgroupV1 {
		st.OOMKilled = st.OOMKilled || cgroupOOMKilled(dir)
	}
	if ws.Signaled() {
		st.Signal = int(ws.Signal())
		st.ExitCode = 128 + st.Signal
	}
	return st, nil
}

// reap waits for the task's exit, reaping orphans that re-parent to us
// along the way.
func reap(log *slog.Logger, pid int) unix.WaitStatus {
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, 0, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			// ECHILD: the task is not our child any more, which cannot
			// happen; report it as killed rather than spin.
			log.Error("wait for task", "err", err)
			return unix.WaitStatus(unix.SIGKILL)
		case wpid == pid:
			return ws
		}
	}
}

// reapRest reaps the killed process group and any orphans until none are
// left or the deadline passes; survivors re-parent to init when we exit.
func reapRest(log *slog.Logger, deadline time.Time) {
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil: // ECHILD: nothing left
			return
		case wpid > 0:
			continue
		}
		if time.Now().After(deadline) {
			log.Warn("processes outside the task's process group outlive it")
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logPipe returns the file the task writes one stream to, a func to close
// the rotated writer, and starts the copy from the pipe into rotated files.
func logPipe(log *slog.Logger, spec *shimSpec, stream string, devNull *os.File, drains *sync.WaitGroup) (*os.File, func(), error) {
	if spec.LogDisabled {
		return devNull, func() {}, nil
	}
	w, err := logrotate.New(logrotate.Config{
		Dir:         spec.LogDir,
		Name:        spec.LogName + "." + stream,
		MaxFiles:    spec.LogMaxFiles,
		MaxFileSize: spec.LogMaxBytes,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("open %s log: %w", stream, err)
	}
	r, wp, err := os.Pipe()
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	drains.Go(func() {
		defer r.Close()
		if _, err := io.Copy(w, r); err != nil {
			// Keep draining: a full disk must not block the task on a
			// full pipe.
			log.Error("write task log; discarding the rest", "stream", stream, "err", err)
			_, _ = io.Copy(io.Discard, r)
		}
	})
	return wp, func() { w.Close() }, nil
}
