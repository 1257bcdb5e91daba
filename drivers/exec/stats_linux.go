//go:build linux

package exec

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/droverhq/drover/drivers"
)

var _ drivers.StatsReporter = (*Driver)(nil)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times. It is 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// Stats implements drivers.StatsReporter. With a cgroup it covers every
// process of the task; without one only the task's main process, because
// its children cannot be found reliably once they leave its process group.
func (d *Driver) Stats(ctx context.Context, h *drivers.TaskHandle) (*drivers.TaskStats, error) {
	t, err := d.tasks.Lookup(h)
	if err != nil {
		return nil, err
	}
	if t.exit.Exited() || !running(t.st.PID, t.st.StartTime) {
		return nil, fmt.Errorf("exec: stats of %s: task is not running", h.TaskID)
	}
	s := &drivers.TaskStats{Time: time.Now()}
	if t.st.Cgroup != "" {
		err = cgroupStats(t.st.Cgroup, s)
	} else {
		err = procStats(t.st.PID, s)
	}
	if err != nil {
		return nil, fmt.Errorf("exec: stats of %s: %w", h.TaskID, err)
	}
	return s, nil
}

func cgroupStats(dir string, s *drivers.TaskStats) error {
	b, err := os.ReadFile(filepath.Join(dir, "memory.current"))
	if err != nil {
		return err
	}
	if s.MemoryRSSByte, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err != nil {
		return err
	}
	b, err = os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		usec, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "user_usec":
			s.CPUUserTime = time.Duration(usec) * time.Microsecond
		case "system_usec":
			s.CPUSystemTime = time.Duration(usec) * time.Microsecond
		}
	}
	return nil
}

func procStats(pid int, s *drivers.TaskStats) error {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return fmt.Errorf("parse /proc/%d/stat", pid)
	}
	// After comm: utime is field 14, stime 15, rss (pages) 24.
	f := bytes.Fields(b[i+1:])
	if len(f) < 22 {
		return fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	num := func(field int) uint64 {
		n, _ := strconv.ParseUint(string(f[field-3]), 10, 64)
		return n
	}
	s.CPUUserTime = time.Duration(num(14)) * time.Second / clockTicks
	s.CPUSystemTime = time.Duration(num(15)) * time.Second / clockTicks
	s.MemoryRSSByte = num(24) * uint64(os.Getpagesize())
	return nil
}
