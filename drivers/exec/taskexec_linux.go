//go:build linux

package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/droverhq/drover/drivers"
)

// execWaitDelay bounds how long Exec waits for the command's output after
// it exited (or was killed): a background child may hold the pipes.
const execWaitDelay = time.Second

// taskNamespaces are the namespaces Exec enters, in order: the mount
// namespace last, since it changes what /proc paths mean.
var taskNamespaces = []string{"ipc", "uts", "pid", "mnt"}

// runExec runs s, in the task's namespaces and root when s.isolated. The
// entering is done in this process, on an OS thread of its own that is
// thrown away after (startOnThread): the thread leaves the agent's
// filesystem context (unshare CLONE_FS), joins the task's namespaces
// (setns), chroots into the task's root through /proc/<pid>/root, and
// forks the command, which inherits all of it, as the task's user. No
// helper binary has to exist on the host or inside the task.
func runExec(ctx context.Context, s *execSpec) (drivers.ExecResult, error) {
	var enter *taskEntry
	if s.isolated {
		var err error
		if enter, err = openTaskEntry(s.pid, s.start); err != nil {
			return drivers.ExecResult{}, err
		}
		defer enter.close()
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return drivers.ExecResult{}, err
	}
	defer devNull.Close()
	sys := &syscall.SysProcAttr{Setpgid: true}
	if c := s.cred; c != nil {
		sys.Credential = &syscall.Credential{Uid: c.UID, Gid: c.GID, Groups: c.Groups}
	}
	if s.cgroup != "" {
		cg, err := os.Open(s.cgroup)
		if err != nil {
			return drivers.ExecResult{}, fmt.Errorf("open the task's cgroup: %w", err)
		}
		defer cg.Close()
		sys.UseCgroupFD, sys.CgroupFD = true, int(cg.Fd())
	}
	// The thread's way back out of the task's cgroup v1 directories, open
	// before it chroots: its paths mean nothing inside the task's root.
	var back []*os.File
	for _, dir := range ownCgroupsV1(s.cgroupV1Mounts) {
		if f, err := os.OpenFile(filepath.Join(dir, "tasks"), os.O_WRONLY, 0); err == nil {
			back = append(back, f)
			defer f.Close()
		}
	}

	stdout := &boundedBuffer{max: maxExecOutput}
	stderr := &boundedBuffer{max: maxExecOutput}
	var cmd *exec.Cmd
	prepare := func() (func(), error) {
		tid := []byte(strconv.Itoa(unix.Gettid()))
		cleanup := func() {
			for _, f := range back {
				_, _ = f.Write(tid)
			}
		}
		// prepareThread enters the cgroups and, for an isolated task,
		// sets no_new_privs and the task's bounding set; its own cleanup
		// works by path, so ours replaces it.
		ps := &shimSpec{CgroupV1: s.cgroupV1, Credential: s.cred}
		if s.isolated {
			ps.Chroot = &chrootSpec{}
		}
		if _, err := prepareThread(ps); err != nil {
			return cleanup, err
		}
		if enter != nil {
			return cleanup, enter.enter()
		}
		return cleanup, nil
	}
	start := func() (*os.Process, error) {
		// On the prepared thread: an isolated task's PATH and command
		// are looked up inside its root.
		path, err := resolveCommandIn(s.argv[0], s.dir, envValue(s.env, "PATH"), func(p string) (string, bool) { return p, true })
		if err != nil {
			return nil, err
		}
		cmd = &exec.Cmd{
			Path: path, Args: s.argv, Env: s.env, Dir: s.dir,
			Stdin: devNull, Stdout: stdout, Stderr: stderr,
			SysProcAttr: sys, WaitDelay: execWaitDelay,
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		return cmd.Process, nil
	}
	proc, err := onThrowawayThread(prepare, start)
	if err != nil {
		return drivers.ExecResult{}, err
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var ctxErr error
	select {
	case err = <-waited:
	case <-ctx.Done():
		ctxErr = ctx.Err()
		// The leader is not reaped until Wait returns, so its pid still
		// names this process group.
		_ = unix.Kill(-proc.Pid, unix.SIGKILL)
		err = <-waited
	}
	res := drivers.ExecResult{Stdout: stdout.buf.Bytes(), Stderr: stderr.buf.Bytes()}
	if ps := cmd.ProcessState; ps != nil {
		res.ExitCode = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.ExitCode = 128 + int(ws.Signal())
		}
	}
	if ctxErr != nil {
		return res, fmt.Errorf("%s: %w", s.argv[0], ctxErr)
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) && !errors.Is(err, exec.ErrWaitDelay) {
		return res, err
	}
	return res, nil
}

// onThrowawayThread is startOnThread for a thread that must never run Go
// code again: one that entered a task. The runtime ends a thread whose
// goroutine exits while locked to it, except the main thread, which it
// parks instead; a main thread parked inside a task would pin the task's
// namespaces and be what /proc/self shows. So a goroutine that finds
// itself on the main thread keeps it locked, which forces the goroutine
// it starts onto another thread, and lets that one do the work.
func onThrowawayThread(prepare func() (func(), error), start func() (*os.Process, error)) (*os.Process, error) {
	type result struct {
		p   *os.Process
		err error
	}
	c := make(chan result, 1)
	var run func(locked chan<- struct{})
	run = func(locked chan<- struct{}) {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			inner := make(chan struct{})
			go run(inner)
			<-inner // it holds another thread now, so the main one may go
			runtime.UnlockOSThread()
			return
		}
		if locked != nil {
			close(locked)
		}
		// No UnlockOSThread: the thread exits with this goroutine.
		cleanup, err := prepare()
		var p *os.Process
		if err == nil {
			p, err = start()
		}
		if cleanup != nil {
			cleanup()
		}
		c <- result{p, err}
	}
	go run(nil)
	r := <-c
	return r.p, r.err
}

// taskEntry holds what entering a task needs, opened while the task's pid
// was verified to still name it: its namespaces and its root.
type taskEntry struct {
	ns   []*os.File
	root *os.File
}

func openTaskEntry(pid int, start uint64) (*taskEntry, error) {
	proc := "/proc/" + strconv.Itoa(pid)
	own, err := os.Readlink("/proc/thread-self/ns/mnt")
	if err != nil {
		return nil, err
	}
	if theirs, err := os.Readlink(proc + "/ns/mnt"); err != nil {
		return nil, fmt.Errorf("the task's mount namespace: %w", err)
	} else if theirs == own {
		return nil, errExecNotIsolated
	}
	e := &taskEntry{}
	for _, ns := range taskNamespaces {
		f, err := os.Open(proc + "/ns/" + ns)
		if err != nil {
			e.close()
			return nil, fmt.Errorf("open the task's %s namespace: %w", ns, err)
		}
		e.ns = append(e.ns, f)
	}
	if e.root, err = os.OpenFile(proc+"/root", unix.O_PATH|unix.O_DIRECTORY, 0); err != nil {
		e.close()
		return nil, fmt.Errorf("open the task's root: %w", err)
	}
	// Opened after the check would be a recycled pid's.
	if !running(pid, start) {
		e.close()
		return nil, errors.New("the task exited")
	}
	return e, nil
}

// enter moves the calling thread, locked and to be thrown away, into the
// task: namespaces, then root.
func (e *taskEntry) enter() error {
	// Setting the mount namespace needs a filesystem context of the
	// thread's own, not the one the runtime's threads share.
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare the filesystem context: %w", err)
	}
	for i, f := range e.ns {
		if err := unix.Setns(int(f.Fd()), 0); err != nil {
			return fmt.Errorf("enter the task's %s namespace: %w", taskNamespaces[i], err)
		}
	}
	if err := unix.Fchdir(int(e.root.Fd())); err != nil {
		return fmt.Errorf("enter the task's root: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot into the task's root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir into the task's root: %w", err)
	}
	return nil
}

func (e *taskEntry) close() {
	for _, f := range e.ns {
		f.Close()
	}
	if e.root != nil {
		e.root.Close()
	}
}
