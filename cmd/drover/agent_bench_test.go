package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// The agent's benchmarks run real processes: a drover server and one
// drover agent, so that the agent's own memory can be read from /proc.

func startBenchCluster(b *testing.B) (*api.Client, *proc) {
	b.Helper()
	s := startServer(b, "-log-level", "warn")
	c := s.client
	a := s.startAgent(b, "bench", b.TempDir(), "-log-level", "warn")
	deadline := time.Now().Add(agentWait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		nodes, _, err := c.Nodes().List(ctx, nil)
		cancel()
		if err == nil && len(nodes) == 1 && nodes[0].Status == cluster.NodeStatusReady {
			return c, a
		}
		if time.Now().After(deadline) {
			b.Fatalf("no ready node: %v\n%s", err, a.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sleepJob(b *testing.B, id string, count int) *jobspec.Job {
	b.Helper()
	f, diags := jobspec.Parse(id+".hcl", []byte(fmt.Sprintf(`
job %q {
  datacenters = ["dc1"]
  group "g" {
    count = %d
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["100000"]
      }
      resources {
        cpu    = 1
        memory = 10
      }
    }
  }
}`, id, count)), nil)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	return f.Job
}

// runSleepJob submits a job of count sleeps and waits until all run; the
// job is stopped, and its tasks awaited, when the benchmark ends.
func runSleepJob(b *testing.B, c *api.Client, id string, count int) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	if _, err := c.Jobs().Register(ctx, &api.JobRegisterRequest{Job: sleepJob(b, id, count)}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if _, err := c.Jobs().Deregister(ctx, id, false); err != nil {
			b.Errorf("stop %s: %v", id, err)
			return
		}
		waitAllocsB(ctx, b, c, id, func(as []*cluster.Allocation) bool {
			for _, a := range as {
				if a.ClientStatus == cluster.AllocClientRunning || a.ClientStatus == cluster.AllocClientPending {
					return false
				}
			}
			return true
		})
	})
	waitAllocsB(ctx, b, c, id, func(as []*cluster.Allocation) bool { return len(running(as)) == count })
	return time.Since(start)
}

func waitAllocsB(ctx context.Context, b *testing.B, c *api.Client, id string, cond func([]*cluster.Allocation) bool) {
	var index uint64
	for {
		allocs, meta, err := c.Jobs().Allocations(ctx, id, &api.QueryOptions{WaitIndex: index, WaitTime: 30 * time.Second})
		if err != nil {
			b.Fatalf("follow %s: %v", id, err)
		}
		if cond(allocs) {
			return
		}
		index = meta.LastIndex
	}
}

// rssMB reads a process's resident set size.
func rssMB(pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(kb) / 1024
		}
	}
	return 0
}

// shimPIDs finds the exec shims this benchmark's drover binary runs.
func shimPIDs() []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	want := []byte(droverBin + "\x00__exec-shim")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.HasPrefix(cmd, want) {
			out = append(out, pid)
		}
	}
	return out
}

// BenchmarkAgentRSS100 reports the agent's RSS with 100 running
// allocations, and the RSS of each task's exec shim (separate processes).
func BenchmarkAgentRSS100(b *testing.B) {
	c, agent := startBenchCluster(b)
	idle := rssMB(agent.cmd.Process.Pid)
	runSleepJob(b, c, "rss", 100)
	shims := shimPIDs()
	var shimTotal float64
	for _, pid := range shims {
		shimTotal += rssMB(pid)
	}
	b.ReportMetric(idle, "agent-idle-MB")
	b.ReportMetric(rssMB(agent.cmd.Process.Pid), "agent-MB")
	if len(shims) > 0 {
		b.ReportMetric(shimTotal/float64(len(shims)), "shim-MB/task")
	}
	b.ReportMetric(float64(len(shims)), "shims")
}

// BenchmarkAgent1000Allocs reports how long one agent takes to start
// 1,000 allocations placed at once: from the job's submission to every
// allocation reported running.
func BenchmarkAgent1000Allocs(b *testing.B) {
	c, agent := startBenchCluster(b)
	d := runSleepJob(b, c, "thousand", 1000)
	b.ReportMetric(d.Seconds(), "total-s")
	b.ReportMetric(rssMB(agent.cmd.Process.Pid), "agent-MB")
}
