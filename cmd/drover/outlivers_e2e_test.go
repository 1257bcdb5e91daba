package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Every drover process these tests start runs the binary TestMain built
// (droverBin, in a directory of this run's own): servers, agents, dev
// clusters and the exec driver's shims, which the agent starts from its
// own binary. So a live process whose argv[0] is droverBin once the tests
// are over is one a test failed to stop: most often an exec task's shim
// that a stopped drover agent left running (by design: the next agent
// re-attaches), because the test's cleanup did not stop its job first
// (see stopJobsAtCleanup). The shim ignores SIGTERM, so nothing else
// would end it.

// outliver is such a process.
type outliver struct {
	pid   int
	args  string
	files []string // what it has open under the temp dir: which test's
}

func (o outliver) String() string {
	s := fmt.Sprintf("pid %d: %s", o.pid, o.args)
	if len(o.files) > 0 {
		s += "\n    files: " + strings.Join(o.files, "\n           ")
	}
	return s
}

// outlivers lists the live processes started from bin. It reads /proc:
// elsewhere it finds none.
func outlivers(bin string) []outliver {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []outliver
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || !pidAlive(pid) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if argv[0] != bin {
			continue
		}
		out = append(out, outliver{pid: pid, args: strings.Join(argv, " "), files: openFilesUnder(pid, os.TempDir())})
	}
	return out
}

// openFilesUnder lists the files pid has open below dir: a test's
// t.TempDir is named after the test.
func openFilesUnder(pid int, dir string) []string {
	fdDir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return nil
	}
	var files []string
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) && !slices.Contains(files, target) {
			files = append(files, target)
		}
	}
	return files
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var kids []int
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parens.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, child)
		}
	}
	return kids
}

// checkOutlivers waits up to grace for the processes started from bin to
// exit (a shim writes its task's status and exits just after the agent
// learns of the exit), then reports those left to w and kills them and
// their children's process groups (an exec task runs in a group of its
// own; an isolated one in the shim's PID namespace, which ends with the
// shim). It returns how many it found.
func checkOutlivers(w io.Writer, bin string, grace time.Duration) int {
	deadline := time.Now().Add(grace)
	left := outlivers(bin)
	for len(left) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		left = outlivers(bin)
	}
	if len(left) == 0 {
		return 0
	}
	fmt.Fprintf(w, "FAIL: %d drover process(es) outlived the tests; a test's cleanup must stop its jobs before its agent stops "+
		"(tasks outlive a drover agent by design; stopJobsAtCleanup does it). Killing them:\n", len(left))
	for _, o := range left {
		fmt.Fprintf(w, "  %s\n", o)
		for _, child := range childrenOf(o.pid) {
			_ = syscall.Kill(-child, syscall.SIGKILL)
			_ = syscall.Kill(child, syscall.SIGKILL)
		}
		_ = syscall.Kill(o.pid, syscall.SIGKILL)
	}
	return len(left)
}
