//go:build linux

package exec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// shimProcAttr puts the shim in a new session: it must not get the
// agent's terminal or process-group signals, and must outlive the agent.
// The shim of an isolated task starts in the task's new namespaces, pid 1
// of its PID namespace (see Isolation).
func shimProcAttr(isolated bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setsid: true}
	if isolated {
		a.Cloneflags = isolationCloneflags
	}
	return a
}

// procStat is what /proc/<pid>/stat tells us about a process.
type procStat struct {
	state     byte
	startTime uint64 // clock ticks after boot; with the pid, names one process
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// comm (field 2) may hold spaces and parentheses; the fields we want
	// follow the last ')'. There, state is field 3 and starttime field 22.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: no ')'", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %d fields after comm", pid, len(f))
	}
	start, err := strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat starttime: %w", pid, err)
	}
	return procStat{state: f[0][0], startTime: start}, nil
}

func procStartTime(pid int) (uint64, error) {
	st, err := readProcStat(pid)
	return st.startTime, err
}

// running reports whether the process that had start time start at pid is
// still running. A zombie has exited; a different start time means the pid
// was recycled and our process is long gone.
func running(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := readProcStat(pid)
	return err == nil && st.startTime == start && st.state != 'Z' && st.state != 'X'
}

// signalGroup sends sig to the process group led by pid, but only while
// the leader is the process we started: a recycled pid is never signalled.
// It reports whether the signal was sent.
//
// The check and the kill are two steps. The window between them is safe in
// practice: our leader can only be replaced at that pid after it exited,
// was reaped by the shim and the kernel wrapped around pid_max.
func signalGroup(pid int, start uint64, sig syscall.Signal) (bool, error) {
	if !running(pid, start) {
		return false, nil
	}
	err := unix.Kill(-pid, sig)
	if errors.Is(err, unix.ESRCH) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("signal process group %d with %v: %w", pid, sig, err)
	}
	return true, nil
}

// waitGone blocks until the process (pid, start) is not running, and
// reports true; or until stop is closed, and reports false. It waits on a
// pidfd through the runtime poller, which works for processes that are not
// our children (a recovered shim); kernels without pidfd (< 5.3) fall back
// to a modest ticker.
func waitGone(stop <-chan struct{}, pid int, start uint64) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return true
	}
	if err != nil {
		return pollGone(stop, pid, start)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return pollGone(stop, pid, start)
	}
	// Nonblocking, so os.NewFile registers it with the runtime poller.
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	// Check after opening: the pidfd is bound to whatever held the pid at
	// open time, so a match now means it is bound to our process.
	if !running(pid, start) {
		return true
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return pollGone(stop, pid, start)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-stop:
			_ = f.SetReadDeadline(time.Unix(1, 0)) // wakes rc.Read
		case <-done:
		}
	})
	err = rc.Read(func(fd uintptr) bool {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		return err == nil && n > 0
	})
	close(done)
	wg.Wait()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	// A pidfd that cannot be polled (err != nil otherwise) still must not
	// end the wait early.
	if err != nil {
		return pollGone(stop, pid, start)
	}
	return true
}

func pollGone(stop <-chan struct{}, pid int, start uint64) bool {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for running(pid, start) {
		select {
		case <-stop:
			return false
		case <-t.C:
		}
	}
	return true
}
