//go:build linux

package exec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// isolationCloneflags are the namespaces the agent starts an isolated
// task's shim in. No network namespace: exec tasks bind host ports, as
// in Nomad's exec driver without a group network.
const isolationCloneflags = unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS

// setupRoot builds the task's root at c.Root. It runs in the shim, pid 1
// of the new PID namespace, in its own mount namespace: every mount here
// is gone when the namespace's last process exits.
func setupRoot(c *chrootSpec) error {
	if os.Getpid() != 1 {
		// Not in the namespaces the agent starts an isolated shim in:
		// the mounts below would land in the host's mount namespace.
		return errors.New("the shim was not started in its own PID and mount namespaces")
	}
	// First, so that nothing mounted below propagates to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make the mount namespace private: %w", err)
	}
	root := c.Root
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755,size=1m"); err != nil {
		return fmt.Errorf("mount the root tmpfs on %s: %w", root, err)
	}
	for _, m := range c.Mounts {
		if err := bindInto(root, m); err != nil {
			return err
		}
	}
	if err := setupDev(root); err != nil {
		return err
	}
	proc := filepath.Join(root, "proc")
	if err := os.Mkdir(proc, 0o555); err != nil {
		return err
	}
	// A fresh procfs shows this PID namespace: the task's processes only.
	if err := unix.Mount("proc", proc, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	if err := unix.Mount("", root, "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "mode=755,size=1m"); err != nil {
		return fmt.Errorf("make the root read-only: %w", err)
	}
	return setHostname(c.Hostname) // hostname_linux.go
}

// bindInto bind-mounts m.Source at m.Target inside root, read-only unless
// m.Writable. A missing source is skipped (chroot_env lists paths not
// every host has); a symlink is recreated as the same symlink, so /bin ->
// usr/bin costs no mount.
func bindInto(root string, m chrootMount) error {
	if m.Volume {
		return bindVolume(root, m)
	}
	fi, err := os.Lstat(m.Source)
	if errors.Is(err, os.ErrNotExist) && !m.Writable {
		return nil
	}
	if err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	// Resolved inside root: a symlink made there earlier cannot lead a
	// later mount out of it.
	target, err := securejoin.SecureJoin(root, m.Target)
	if err != nil {
		return fmt.Errorf("chroot: target %s: %w", m.Target, err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		if m.Writable {
			return fmt.Errorf("chroot: the task's directory %s is a symlink", m.Source)
		}
		link, err := os.Readlink(m.Source)
		if err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
		if err := os.Symlink(link, target); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("chroot: %w", err)
		}
		return nil
	}
	if err := mountpoint(target, fi.IsDir()); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := unix.Mount(m.Source, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("chroot: bind %s on %s: %w", m.Source, m.Target, err)
	}
	flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_NOSUID | unix.MS_NODEV)
	if !m.Writable {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount("", target, "", flags, ""); err != nil {
		return fmt.Errorf("chroot: remount %s: %w", m.Target, err)
	}
	return nil
}

// mountpoint creates an empty directory or file to mount on.
func mountpoint(path string, dir bool) error {
	if dir {
		return os.MkdirAll(path, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// devices are the host device nodes an isolated task gets.
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// setupDev makes a minimal /dev: a few device nodes bound from the host's,
// the /proc/self/fd links, and a /dev/shm of its own.
func setupDev(root string) error {
	dev := filepath.Join(root, "dev")
	if err := os.Mkdir(dev, 0o755); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	for _, name := range devices {
		src, dst := "/dev/"+name, filepath.Join(dev, name)
		if _, err := os.Stat(src); err != nil {
			continue
		}
		if err := mountpoint(dst, false); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
		if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("chroot: bind %s: %w", src, err)
		}
		if err := unix.Mount("", dst, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_NOSUID|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("chroot: remount %s: %w", src, err)
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
	}
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o755); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := unix.Mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return fmt.Errorf("chroot: mount /dev/shm: %w", err)
	}
	return nil
}

// defaultCaps is the capability bounding set of an isolated task that runs
// as root, Nomad's default for exec. Tasks of other users end with no
// capabilities at all: changing uid from root clears them, and
// no_new_privs keeps setuid binaries and file capabilities from granting
// any back.
var defaultCaps = map[int]bool{
	unix.CAP_AUDIT_WRITE: true, unix.CAP_CHOWN: true, unix.CAP_DAC_OVERRIDE: true, unix.CAP_FOWNER: true,
	unix.CAP_FSETID: true, unix.CAP_KILL: true, unix.CAP_MKNOD: true, unix.CAP_NET_BIND_SERVICE: true,
	unix.CAP_SETFCAP: true, unix.CAP_SETGID: true, unix.CAP_SETPCAP: true, unix.CAP_SETUID: true,
	unix.CAP_SYS_CHROOT: true,
}

// startOnThread runs start on an OS thread of its own after prepare, and
// throws the thread away after: what prepare sets on the thread (cgroup v1
// membership, no_new_privs, the bounding set) is inherited by the child it
// forks, and must not stay with the shim. cleanup runs on the thread after
// start, for what must not wait until the thread is gone (a thread the
// runtime cannot end, the main one, is parked forever instead).
func startOnThread(prepare func() (cleanup func(), err error), start func() (*os.Process, error)) (*os.Process, error) {
	type result struct {
		p   *os.Process
		err error
	}
	c := make(chan result, 1)
	go func() {
		// No UnlockOSThread: the thread exits with this goroutine.
		runtime.LockOSThread()
		cleanup, err := prepare()
		var p *os.Process
		if err == nil {
			p, err = start()
		}
		if cleanup != nil {
			cleanup()
		}
		c <- result{p, err}
	}()
	r := <-c
	return r.p, r.err
}

// prepareThread readies the calling (locked) thread to fork the task. Its
// cleanup moves the thread back out of the task's cgroup v1 directories,
// which the shim's own memory must not be charged to.
func prepareThread(spec *shimSpec) (func(), error) {
	tid := strconv.Itoa(unix.Gettid())
	own := ownCgroupsV1(spec.CgroupV1Mounts)
	cleanup := func() {
		for _, dir := range own {
			_ = os.WriteFile(filepath.Join(dir, "tasks"), []byte(tid), 0)
		}
	}
	for _, dir := range spec.CgroupV1 {
		if err := os.WriteFile(filepath.Join(dir, "tasks"), []byte(tid), 0); err != nil {
			return cleanup, fmt.Errorf("enter cgroup %s: %w", dir, err)
		}
	}
	if spec.Chroot == nil {
		return cleanup, nil
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return cleanup, fmt.Errorf("set no_new_privs: %w", err)
	}
	asRoot := spec.Credential == nil || spec.Credential.UID == 0
	// Read once: the condition runs every iteration, and /proc/sys reads
	// are not free with a thousand shims starting.
	last := lastCap()
	for c := 0; c <= last; c++ {
		if asRoot && defaultCaps[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return cleanup, fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	return cleanup, nil
}

// ownCgroupsV1 returns the calling thread's cgroup in each v1 hierarchy
// mounted at mounts, from /proc/thread-self/cgroup.
func ownCgroupsV1(mounts []string) []string {
	if len(mounts) == 0 {
		return nil
	}
	b, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range mounts {
		controller := filepath.Base(m)
		for line := range strings.SplitSeq(string(b), "\n") {
			// hierarchy-ID:controller-list:path
			f := strings.SplitN(line, ":", 3)
			if len(f) == 3 && slices.Contains(strings.Split(f[1], ","), controller) {
				out = append(out, filepath.Join(m, f[2]))
			}
		}
	}
	return out
}

func lastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return unix.CAP_LAST_CAP
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return unix.CAP_LAST_CAP
	}
	return n
}

// hostPID returns the host's pid of the shim's child nsPID. The shim is in
// a PID namespace of its own but still sees the host's /proc (it mounted
// the new one only inside the task's root), where its children appear
// with their host pids and NSpid names the pid inside.
//
// forker is /proc/thread-self/children as the thread that forked the task
// read it before it exited: nearly always the answer, without the search
// below, whose last resort reads every process's status (two per task on
// a busy node).
func hostPID(nsPID int, forker []byte) (int, error) {
	for _, f := range strings.Fields(string(forker)) {
		if pid, err := strconv.Atoi(f); err == nil && innermostPID(pid) == nsPID {
			return pid, nil
		}
	}
	self, err := os.Readlink("/proc/self")
	if err != nil {
		return 0, err
	}
	threads, err := os.ReadDir("/proc/" + self + "/task")
	if err != nil {
		return 0, err
	}
	for _, th := range threads {
		b, err := os.ReadFile("/proc/" + self + "/task/" + th.Name() + "/children")
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && innermostPID(pid) == nsPID {
				return pid, nil
			}
		}
	}
	// The thread that forked the task may be exiting just now, moving
	// its children to another thread's list: look at every process.
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	want := []byte("PPid:\t" + self + "\n")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || innermostPID(pid) != nsPID {
			continue
		}
		if b, err := os.ReadFile("/proc/" + p.Name() + "/status"); err == nil && bytes.Contains(b, want) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no child with pid %d in the task's namespace among the shim's (host pid %s) children", nsPID, self)
}

// innermostPID is the pid process pid has in its own PID namespace.
func innermostPID(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("NSpid:")); ok {
			f := bytes.Fields(rest)
			if len(f) == 0 {
				return 0
			}
			n, _ := strconv.Atoi(string(f[len(f)-1]))
			return n
		}
	}
	return 0
}
