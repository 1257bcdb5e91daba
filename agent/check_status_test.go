package agent

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/agent/allocrunner"
	"github.com/droverhq/drover/agent/localstate"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

// A real isolated exec task (busybox httpd serving its local/ directory)
// with an http check on local/health: the agent reports the check
// passing, then, once the file is removed, critical with the server's
// answer, then passing again once it is back; it reports only when the
// status changes, not at every interval; and the catalog's derivation
// takes the instance out, then back in.
func TestAgentReportsCheckStatusChanges(t *testing.T) {
	const busybox = "/usr/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("SKIPPED — CHECK STATUS REPORTING IS NOT TESTED: needs " + busybox + " (apt-get install busybox)")
	}
	ds := nodeDrivers(t, false) // skips loudly without root
	reg, err := drivers.NewRegistry(ds...)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	top := t.TempDir()
	allocs := filepath.Join(top, "data", "allocs")
	if err := os.MkdirAll(allocs, 0o711); err != nil {
		t.Fatal(err)
	}
	db, err := localstate.Open(filepath.Join(top, "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	job := &jobspec.Job{ID: "checks", Type: jobspec.JobTypeService, Groups: []*jobspec.Group{{Name: "g", Count: 1,
		Services: []jobspec.Service{{Name: "web", Port: "http", Provider: "nomad", Checks: []jobspec.Check{{
			Name: "alive", Type: "http", Path: "/health", Interval: 100 * time.Millisecond, Timeout: time.Second,
		}}}},
		Tasks: []*jobspec.Task{{
			Name: "t", Driver: "exec",
			Config:    map[string]any{"command": busybox, "args": []any{"httpd", "-f", "-p", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), "-h", "/local"}},
			Resources: jobspec.Resources{CPU: 20, MemoryMB: 32}, KillTimeout: time.Second,
			Restart: &jobspec.RestartPolicy{Mode: "fail"},
		}},
	}}}
	const id = "0c5d7a3e-1b2f-4c6d-8e9f-a0b1c2d3e4f5"
	dir := filepath.Join(allocs, id)
	var mu sync.Mutex
	var reports []*cluster.Allocation
	r, err := allocrunner.New(allocrunner.Config{
		Alloc: &cluster.Allocation{ID: id, JobID: job.ID, TaskGroup: "g", DesiredStatus: cluster.AllocDesiredRun,
			Resources: cluster.AllocResources{Ports: []cluster.AllocatedPort{{Label: "http", Value: port}}}},
		Job: job, Dir: dir, Drivers: reg, DB: db, IP: "127.0.0.1",
		OnUpdate: func(a *cluster.Allocation) { mu.Lock(); reports = append(reports, a); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() {
		r.Stop()
		select {
		case <-r.Done():
		case <-time.After(waitTimeout):
			t.Errorf("the allocation did not stop")
		}
		cancel()
		<-done
		_ = r.Destroy(context.Background())
	})
	health := filepath.Join(dir, "t", "local", "health")
	// The task directory exists once the runner has set it up.
	deadline := time.Now().Add(waitTimeout)
	for {
		if err := os.WriteFile(health, []byte("ok\n"), 0o644); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task's local directory never appeared")
		}
		time.Sleep(20 * time.Millisecond)
	}
	last := func() []cluster.CheckStatus {
		mu.Lock()
		defer mu.Unlock()
		if len(reports) == 0 {
			return nil
		}
		return reports[len(reports)-1].CheckStatuses
	}
	waitStatus := func(want string) cluster.CheckStatus {
		t.Helper()
		deadline := time.Now().Add(waitTimeout)
		for time.Now().Before(deadline) {
			if cs := last(); len(cs) == 1 && cs[0].Status == want {
				return cs[0]
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("check never reported %s; last report %+v", want, last())
		return cluster.CheckStatus{}
	}
	catalog := func() string {
		mu.Lock()
		a := *reports[len(reports)-1]
		mu.Unlock()
		regs := []*cluster.ServiceRegistration{{ID: "_nomad-task-" + id + "-group-g-web-http", Status: cluster.ServiceHealthPassing}}
		cluster.ApplyCheckStatuses(job, &a, regs)
		return regs[0].Status
	}

	st := waitStatus("passing")
	if st.Name != "alive" || st.Service != "web" || st.Task != "" {
		t.Fatalf("reported %+v, want check alive of group service web", st)
	}
	// Ten intervals of passing: no report.
	mu.Lock()
	n := len(reports)
	mu.Unlock()
	time.Sleep(time.Second)
	mu.Lock()
	if len(reports) != n {
		t.Errorf("%d reports while the check kept passing, want none", len(reports)-n)
	}
	mu.Unlock()

	if err := os.Remove(health); err != nil {
		t.Fatal(err)
	}
	st = waitStatus("critical")
	if st.Output != "HTTP 404" {
		t.Errorf("critical output %q, want HTTP 404", st.Output)
	}
	if got := catalog(); got != cluster.ServiceHealthCritical {
		t.Errorf("catalog health with a critical check: %s", got)
	}
	if err := os.WriteFile(health, []byte("ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitStatus("passing")
	if got := catalog(); got != cluster.ServiceHealthPassing {
		t.Errorf("catalog health once passing again: %s", got)
	}
}
