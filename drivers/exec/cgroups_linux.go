//go:build linux

package exec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/droverhq/drover/jobspec"
)

// probeCgroups checks that root is a cgroup v2 mount with the cpu and memory
// controllers, and that we can make Drover's parent cgroup and delegate both
// controllers to it. It creates the parent as a side effect; that is the
// only honest test of "can we".
func probeCgroups(root, parentName string) cgroupSupport {
	no := func(format string, args ...any) cgroupSupport {
		return cgroupSupport{reason: fmt.Sprintf(format, args...)}
	}
	b, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if errors.Is(err, os.ErrNotExist) {
		return probeCgroupsV1(root, parentName)
	}
	if err != nil {
		return no("read %s/cgroup.controllers: %v", root, err)
	}
	have := strings.Fields(string(b))
	for _, c := range []string{"cpu", "memory"} {
		if !slices.Contains(have, c) {
			return no("cgroup v2 controller %q is not available at %s (available: %q)", c, root, have)
		}
	}
	parent := filepath.Join(root, parentName)
	if err := enableControllers(root); err != nil {
		return no("%v", err)
	}
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return no("create cgroup %s: %v", parent, err)
	}
	if err := enableControllers(parent); err != nil {
		return no("%v", err)
	}
	return cgroupSupport{enabled: true, version: 2, parent: parent}
}

// probeCgroupsV1 checks for cgroup v1's memory and cpu hierarchies under
// root (root/memory, root/cpu) and makes Drover's parent cgroup in each.
func probeCgroupsV1(root, parentName string) cgroupSupport {
	parents := map[string]string{}
	for c, probe := range map[string]string{v1Memory: "memory.limit_in_bytes", v1CPU: "cpu.shares"} {
		if _, err := os.Stat(filepath.Join(root, c, probe)); err != nil {
			return cgroupSupport{reason: fmt.Sprintf("neither cgroup v2 at %s nor the cgroup v1 %s controller at %s: %v", root, c, filepath.Join(root, c), err)}
		}
		p := filepath.Join(root, c, parentName)
		if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return cgroupSupport{reason: fmt.Sprintf("create cgroup %s: %v", p, err)}
		}
		parents[c] = p
	}
	return cgroupSupport{enabled: true, version: 1, v1Parents: parents}
}

// createCgroupV1 makes the task's cgroup in each v1 hierarchy and writes
// its limits. The shim moves the thread that forks the task into them
// first, so the task is born inside, as CLONE_INTO_CGROUP does on v2.
func createCgroupV1(parents map[string]string, name string, r jobspec.Resources) ([]string, error) {
	var dirs []string
	fail := func(err error) ([]string, error) {
		for _, d := range dirs {
			_ = removeCgroup(d)
		}
		return nil, err
	}
	limits := cgroupLimitsV1(r)
	for _, c := range []string{v1Memory, v1CPU} {
		dir := filepath.Join(parents[c], name)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fail(fmt.Errorf("create cgroup %s: %w", dir, err))
		}
		dirs = append(dirs, dir)
		for _, f := range limits[c] {
			path := filepath.Join(dir, f.Name)
			if f.Optional {
				if _, err := os.Stat(path); err != nil {
					continue
				}
			}
			if err := os.WriteFile(path, []byte(f.Value), 0); err != nil {
				return fail(fmt.Errorf("set %s=%s in cgroup %s: %w", f.Name, f.Value, dir, err))
			}
		}
	}
	return dirs, nil
}

// enableControllers delegates cpu and memory to dir's children. Writing is
// skipped when they already are, because writing fails with EBUSY in a
// cgroup that holds processes (the "no internal processes" rule), even
// when it would change nothing.
func enableControllers(dir string) error {
	path := filepath.Join(dir, "cgroup.subtree_control")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	on := strings.Fields(string(b))
	if slices.Contains(on, "cpu") && slices.Contains(on, "memory") {
		return nil
	}
	if err := os.WriteFile(path, []byte("+cpu +memory"), 0); err != nil {
		return fmt.Errorf("enable cpu and memory controllers in %s: %w", path, err)
	}
	return nil
}

// createCgroup makes the task's cgroup and writes its limits. The shim
// starts the task directly inside it (CLONE_INTO_CGROUP), so no process of
// the task ever runs unlimited.
func createCgroup(parent, name string, r jobspec.Resources) (string, error) {
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	for file, v := range cgroupLimits(r) {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(v), 0); err != nil {
			_ = removeCgroup(dir)
			return "", fmt.Errorf("set %s=%s in cgroup %s: %w", file, v, dir, err)
		}
	}
	return dir, nil
}

// killCgroup SIGKILLs every process in the cgroup, including any that left
// the task's process group. cgroup.kill needs Linux 5.14; on older kernels
// the process-group kill is all there is.
func killCgroup(dir string) {
	if dir == "" {
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0); err == nil || !errors.Is(err, os.ErrNotExist) {
		return
	}
	// cgroup v1 (or an old kernel): kill what cgroup.procs lists.
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// removeCgroup removes the task's cgroup. Killed processes leave it
// asynchronously, so rmdir is retried briefly while it reports EBUSY.
func removeCgroup(dir string) error {
	if dir == "" {
		return nil
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := os.Remove(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		killCgroup(dir)
		time.Sleep(20 * time.Millisecond)
	}
}

// cgroupOOMKilled reports whether the kernel OOM-killed a process in the
// cgroup, from the oom_kill counter in memory.events (v2) or
// memory.oom_control (v1, Linux 4.13 and later).
func cgroupOOMKilled(dir string) bool {
	if dir == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(dir, "memory.events"))
	if errors.Is(err, os.ErrNotExist) {
		b, err = os.ReadFile(filepath.Join(dir, "memory.oom_control"))
	}
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == "oom_kill" {
			n, _ := strconv.Atoi(v)
			return n > 0
		}
	}
	return false
}
