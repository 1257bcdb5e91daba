package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

// The client agent end to end: real drover processes (dev, server,
// agents), real tasks, the CLI as a user runs it.

// agentWait bounds each wait of these tests; generous, the machine is
// shared.
const agentWait = 90 * time.Second

// proc is a drover process the test owns.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan error
}

func startProc(t testing.TB, name string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(droverBin, args...)
	cmd.Env = env
	p := &proc{t: t, name: name, cmd: cmd, out: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	// The pid tells a restarted process's output from its predecessor's.
	p.name = fmt.Sprintf("%s (pid %d)", name, cmd.Process.Pid)
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		p.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("%s output:\n%s", p.name, p.out.String())
		}
	})
	return p
}

// stop signals the process and waits for it; a no-op once it exited.
func (p *proc) stop(sig syscall.Signal) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(agentWait):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.t.Errorf("%s did not exit within %v of %v", p.name, agentWait, sig)
	}
}

// waitHealthy polls the process's health endpoint until it answers ok:
// the one wait that cannot be a blocking query.
func (p *proc) waitHealthy(c *api.Client, agent bool) {
	p.t.Helper()
	deadline := time.Now().Add(agentWait)
	for {
		select {
		case err := <-p.done:
			p.t.Fatalf("%s exited early: %v\n%s", p.name, err, p.out.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		h, err := c.Agent().Health(ctx)
		cancel()
		if err == nil && (agent && h.Client != nil && h.Client.OK || !agent && h.Server != nil && h.Server.OK) {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not healthy after %v: %v\n%s", p.name, agentWait, err, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// followAllocs follows a job's allocations with blocking queries until
// cond holds.
func followAllocs(t testing.TB, c *api.Client, jobID, what string, cond func([]*cluster.Allocation) bool) []*cluster.Allocation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), agentWait)
	defer cancel()
	var index uint64
	var last []*cluster.Allocation
	for {
		allocs, meta, err := c.Jobs().Allocations(ctx, jobID, &api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second})
		if err != nil {
			t.Fatalf("waiting for %s: %v\nlast: %s", what, err, allocsText(last))
		}
		last = allocs
		if cond(allocs) {
			return allocs
		}
		index = meta.LastIndex
	}
}

func allocsText(allocs []*cluster.Allocation) string {
	var b strings.Builder
	for _, a := range allocs {
		fmt.Fprintf(&b, "\n  %s node=%s desired=%s client=%s (%s)", a.ID[:8], a.NodeName, a.DesiredStatus, a.ClientStatus, a.ClientDescription)
		for name, st := range a.TaskStates {
			fmt.Fprintf(&b, "\n    %s %s restarts=%d", name, st.State, st.Restarts)
			for _, e := range st.Events {
				fmt.Fprintf(&b, "\n      %s: %s", e.Type, e.Message)
			}
		}
	}
	return b.String()
}

// running returns the allocations that run and are meant to.
func running(allocs []*cluster.Allocation) []*cluster.Allocation {
	var out []*cluster.Allocation
	for _, a := range allocs {
		if a.ClientStatus == cluster.AllocClientRunning && a.DesiredStatus == cluster.AllocDesiredRun {
			out = append(out, a)
		}
	}
	return out
}

// allocHTTPURL is the host URL of the allocation's "http" port, which
// must map to port to inside the task; it fails the test otherwise.
func allocHTTPURL(t *testing.T, alloc *cluster.Allocation, to int) string {
	t.Helper()
	var port cluster.AllocatedPort
	for _, p := range alloc.Resources.Ports {
		if p.Label == "http" {
			port = p
		}
	}
	if port.Value == 0 || port.To != to {
		t.Fatalf("allocation ports %+v: want http mapped to %d", alloc.Resources.Ports, to)
	}
	host := port.HostIP
	if host == "" || host == "0.0.0.0" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port.Value)) + "/"
}

// clientLive reports whether a client still runs (or is about to run)
// one of the allocations, whatever the servers want of it.
func clientLive(allocs []*cluster.Allocation) bool {
	return slices.ContainsFunc(allocs, func(a *cluster.Allocation) bool {
		return a.ClientStatus == cluster.AllocClientPending || a.ClientStatus == cluster.AllocClientRunning
	})
}

// readPID waits for the pid file a task writes and returns its last pid.
func readPID(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(agentWait)
	for {
		b, err := os.ReadFile(path)
		if f := strings.Fields(string(b)); err == nil && len(f) > 0 && strings.HasSuffix(string(b), "\n") {
			n, err := strconv.Atoi(f[len(f)-1])
			if err == nil {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pidAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie has exited.
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z'
}

// groupGone reports whether no process is left in the process group.
func groupGone(pgid int) bool {
	return syscall.Kill(-pgid, 0) == syscall.ESRCH
}

// waitNodes follows the node list until n nodes are ready.
func waitNodes(t testing.TB, c *api.Client, n int) []*api.NodeListStub {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), agentWait)
	defer cancel()
	var index uint64
	for {
		nodes, meta, err := c.Nodes().List(ctx, &api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second})
		if err != nil {
			t.Fatalf("waiting for %d ready nodes: %v", n, err)
		}
		ready := 0
		for _, nd := range nodes {
			if nd.Status == cluster.NodeStatusReady {
				ready++
			}
		}
		if ready >= n {
			return nodes
		}
		index = meta.LastIndex
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(agentWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitLogs waits until `drover alloc logs` of the allocation's task
// (the only one where task is "") prints want on stdout, with the CLI in
// env, and returns that result.
func waitLogs(t *testing.T, env []string, dir, allocID, task, want string) result {
	t.Helper()
	args := []string{"alloc", "logs", allocID[:8]}
	if task != "" {
		args = append(args, task)
	}
	var r result
	deadline := time.Now().Add(agentWait)
	for {
		r = runDrover(t, dir, env, args...)
		if r.code == 0 && strings.Contains(r.stdout, want) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("allocation %s's log never contained %q:\n%s", allocID[:8], want, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDevRunsJobAndShowsLogs(t *testing.T) {
	dev := startDevCluster(t)
	c := dev.client

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "printer.nomad.hcl"), `
job "printer" {
  datacenters = ["dc1"]
  group "p" {
    task "say" {
      # raw_exec, which drover dev enables: the test checks by its host
      # pid that the task ends with drover dev.
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo $$ > $NOMAD_ALLOC_DIR/pid; for i in 1 2 3; do echo line-$i from $NOMAD_TASK_NAME; done; echo oops >&2; exec sleep 1000"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}`)
	cli := func(args ...string) result {
		t.Helper()
		return dev.cli(t, dir, args...)
	}
	if r := cli("job", "run", "printer.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run: %s", r)
	}
	allocs := followAllocs(t, c, "printer", "the task to run", func(as []*cluster.Allocation) bool { return len(running(as)) == 1 })
	id := allocs[0].ID
	pid := readPID(t, filepath.Join(dev.data, "agent", "allocs", id, "alloc", "pid"))

	want := "line-1 from say\nline-2 from say\nline-3 from say\n"
	var r result
	waitUntil(t, "the log lines", func() bool {
		r = runDrover(t, dir, dev.env, "alloc", "logs", id[:8])
		return r.code == 0 && r.stdout == want
	})
	if r = cli("alloc", "logs", "-tail", "-n", "1", id[:8], "say"); r.code != 0 || r.stdout != "line-3 from say\n" {
		t.Errorf("alloc logs -tail -n 1: %s", r)
	}
	if r = cli("alloc", "logs", "-stderr", id[:8]); r.code != 0 || r.stdout != "oops\n" {
		t.Errorf("alloc logs -stderr: %s", r)
	}
	if r = cli("alloc", "logs", id[:8], "nosuch"); r.code != 1 || !strings.Contains(r.stderr, `no task "nosuch"`) {
		t.Errorf("alloc logs with a wrong task: %s", r)
	}
	// drover dev stops its tasks when it stops.
	dev.proc.stop(syscall.SIGTERM)
	if pidAlive(pid) {
		t.Errorf("task %d outlived drover dev", pid)
	}
}

func TestServerAndTwoAgents(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "server.hcl")
	// A short TTL, so that a stopped agent's allocations move quickly.
	writeFile(t, cfgFile, "heartbeat_ttl = \"2s\"\nheartbeat_grace = \"1s\"\n")
	s := startServer(t, "-config", cfgFile, "-node-name", "s1")
	c := s.client

	dataDirs := map[string]string{"a1": t.TempDir(), "a2": t.TempDir()}
	// raw_exec, enabled on these agents: the test kills the task by its
	// pid and checks its process group, and an exec task's $$ is its pid
	// in its own PID namespace, not the host's.
	startAgent := func(name string) *proc {
		return s.startAgent(t, name, dataDirs[name], withRawExec(t, "-meta", "e2e=yes")...)
	}
	agents := map[string]*proc{}
	for _, name := range []string{"a1", "a2"} {
		agents[name] = startAgent(name)
	}
	nodes := waitNodes(t, c, 2)
	nodeName := map[string]string{}
	for _, n := range nodes {
		nodeName[n.ID] = n.Name
	}

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "sleeper.nomad.hcl"), `
job "sleeper" {
  datacenters = ["dc1"]
  group "g" {
    restart {
      attempts = 5
      interval = "30m"
      delay    = "200ms"
      mode     = "fail"
    }
    task "s" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo $$ >> $NOMAD_ALLOC_DIR/pid; exec sleep 1000"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}`)
	cli := func(args ...string) result {
		t.Helper()
		return s.cli(t, dir, args...)
	}
	if r := cli("job", "run", "sleeper.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run: %s", r)
	}
	allocs := followAllocs(t, c, "sleeper", "the task to run", func(as []*cluster.Allocation) bool { return len(running(as)) == 1 })
	alloc := running(allocs)[0]
	host := nodeName[alloc.NodeID]
	other := map[string]string{"a1": "a2", "a2": "a1"}[host]
	pidFile := filepath.Join(dataDirs[host], "allocs", alloc.ID, "alloc", "pid")
	pid := readPID(t, pidFile)

	// 1. Kill the task: restarted per the restart policy, new PID.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	allocs = followAllocs(t, c, "sleeper", "the task to restart", func(as []*cluster.Allocation) bool {
		for _, a := range as {
			if st := a.TaskStates["s"]; a.ID == alloc.ID && st != nil && st.Restarts == 1 && st.State == cluster.TaskStateRunning {
				return true
			}
		}
		return false
	})
	if !strings.Contains(allocsText(allocs), "Restarting: Task restarting in 200ms") {
		t.Errorf("no Restarting event: %s", allocsText(allocs))
	}
	waitUntil(t, "a new pid", func() bool { return readPID(t, pidFile) != pid })
	pid = readPID(t, pidFile)
	if !pidAlive(pid) {
		t.Fatalf("restarted task %d is not running", pid)
	}

	// 2. kill -9 the agent and start it again: the task runs on under
	// the same PID and the new agent watches it.
	agents[host].stop(syscall.SIGKILL)
	if !pidAlive(pid) {
		t.Fatalf("task %d died with its agent", pid)
	}
	agents[host] = startAgent(host)
	waitUntil(t, "the restarted agent to re-attach", func() bool {
		return strings.Contains(agents[host].out.String(), "re-attached to task")
	})
	if got := readPID(t, pidFile); got != pid || !pidAlive(pid) {
		t.Fatalf("task pid %d after the agent restart, want %d still running", got, pid)
	}
	// It really watches it: a crash now is restarted by the new agent.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	followAllocs(t, c, "sleeper", "the re-attached task to restart", func(as []*cluster.Allocation) bool {
		for _, a := range as {
			if st := a.TaskStates["s"]; a.ID == alloc.ID && st != nil && st.Restarts == 2 && st.State == cluster.TaskStateRunning {
				return true
			}
		}
		return false
	})
	waitUntil(t, "a new pid", func() bool { return readPID(t, pidFile) != pid })
	pid = readPID(t, pidFile)

	// 3. Stop the agent for good: after the heartbeat TTL its node is
	// down and the allocation is replaced on the other agent.
	agents[host].stop(syscall.SIGTERM)
	allocs = followAllocs(t, c, "sleeper", "the allocation to move to "+other, func(as []*cluster.Allocation) bool {
		for _, a := range running(as) {
			if nodeName[a.NodeID] == other {
				return true
			}
		}
		return false
	})
	// The stopped agent's task runs on, as tasks outlive agents; this
	// test owns it and ends it.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	var moved *cluster.Allocation
	for _, a := range running(allocs) {
		if nodeName[a.NodeID] == other {
			moved = a
		}
	}
	newPidFile := filepath.Join(dataDirs[other], "allocs", moved.ID, "alloc", "pid")
	newPid := readPID(t, newPidFile)
	if !pidAlive(newPid) {
		t.Fatalf("replacement task %d is not running", newPid)
	}

	// 4. Stop the job: the task's whole process group is gone.
	if r := cli("job", "stop", "sleeper"); r.code != 0 {
		t.Fatalf("job stop: %s", r)
	}
	followAllocs(t, c, "sleeper", "the allocation to complete", func(as []*cluster.Allocation) bool {
		for _, a := range as {
			if a.ID == moved.ID {
				return a.ClientStatus == cluster.AllocClientComplete
			}
		}
		return false
	})
	if !groupGone(newPid) {
		t.Errorf("process group %d still has processes after job stop", newPid)
	}
}

// TestAgentSecureByDefault is issue 13 on the real binary: an agent
// started without a configuration file runs an exec task isolated (as
// nobody, in a chroot that does not show the host's files, with the
// task's directories at /alloc, /local, ...) and has raw_exec off, so a
// job that uses raw_exec is not placed, for "missing drivers".
func TestAgentSecureByDefault(t *testing.T) {
	s := startServer(t, "-node-name", "s1")
	s.startAgent(t, "a1", t.TempDir())
	waitNodes(t, s.client, 1)
	dir := t.TempDir()
	// Registered after the agent's, so it runs first: tasks outlive a
	// stopped agent.
	stopJobsAtCleanup(t, s.client, s.env, dir, "whoami")

	// The job file's directory exists on the host, not in the task's root.
	writeFile(t, filepath.Join(dir, "whoami.nomad.hcl"), `
job "whoami" {
  datacenters = ["dc1"]
  group "g" {
    task "id" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "id -u; echo $NOMAD_ALLOC_DIR; if [ -e `+dir+` ]; then echo host visible; else echo host hidden; fi; exec sleep 1000"]
      }
      resources {
        cpu    = 20
        memory = 32
      }
    }
  }
}`)
	writeFile(t, filepath.Join(dir, "raw.nomad.hcl"), `
job "raw" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}`)

	// 1. exec: nobody (65534), in a chroot.
	if r := s.cli(t, dir, "job", "run", "whoami.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run whoami: want exit 0\n%s", r)
	}
	allocs := followAllocs(t, s.client, "whoami", "the exec task to run", func(as []*cluster.Allocation) bool { return len(running(as)) == 1 })
	want := "65534\n/alloc\nhost hidden\n"
	var r result
	waitUntil(t, "the exec task's output", func() bool {
		r = runDrover(t, dir, s.env, "alloc", "logs", allocs[0].ID[:8], "id")
		return r.code == 0 && r.stdout == want
	})
	t.Logf("$ drover alloc logs %s id\n%s", allocs[0].ID[:8], r)

	// 2. raw_exec is off: the plan and the run say why nothing is placed.
	r = s.cli(t, dir, "job", "plan", "raw.nomad.hcl")
	if r.code != 2 {
		t.Errorf("job plan of a raw_exec job: want exit 2 (changes)\n%s", r)
	}
	for _, want := range []string{"- WARNING: Failed to place all allocations.", `Task Group "g" (failed to place 1 allocation):`, `* Constraint "missing drivers": 1 node excluded by filter`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("job plan of a raw_exec job lacks %q\n%s", want, r)
		}
	}
	r = s.cli(t, dir, "job", "run", "raw.nomad.hcl")
	if r.code != 2 || !strings.Contains(r.stdout, "failed to place all allocations") || !strings.Contains(r.stdout, "missing drivers") {
		t.Errorf("job run of a raw_exec job: want exit 2 naming the missing driver\n%s", r)
	}
	r = s.cli(t, dir, "job", "status", "-json", "raw")
	var st jobStatusView
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil {
		t.Fatalf("job status -json raw: want exit 0 and JSON\n%s", r)
	}
	if len(st.Allocations) != 0 {
		t.Errorf("the raw_exec job has %d allocations, want none:%s", len(st.Allocations), allocsText(st.Allocations))
	}
}
