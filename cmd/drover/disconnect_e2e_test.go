package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
)

// TestDisconnectStopOnClientAfter is issue 15's acceptance test for
// disconnects on the real binary: an agent reaches its server only
// through a TCP proxy the test controls. Cut off, the agent itself stops
// the task of a group with disconnect { stop_on_client_after = "5s" }
// (its host process is gone within 5s + a heartbeat interval + the kill
// timeout), while a group with only lost_after, and one with no
// disconnect block, keep running. The server meanwhile shows the first
// and last lost and the lost_after one unknown. With contact restored,
// the statuses the server shows are honest: the stopped allocation lost,
// the unknown one running again under the same process.
//
// raw_exec, as in TestServerAndTwoAgents: the test checks the tasks'
// host PIDs, which an exec task's PID namespace hides. It needs only
// /bin/sh and sleep.
func TestDisconnectStopOnClientAfter(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "server.hcl")
	// A short TTL, so that the cut-off node is marked down quickly.
	writeFile(t, cfgFile, "heartbeat_ttl = \"2s\"\nheartbeat_grace = \"1s\"\n")
	s := startServer(t, "-config", cfgFile)
	c := s.client

	proxy := startTCPProxy(t, s.httpAddr)
	agentDir := t.TempDir()
	args := []string{"agent", "-servers", proxy.addr(), "-data-dir", agentDir, "-node-name", "cut",
		"-join-token-file", clientJoinTokenFile(s.dataDir)}
	agent := startProc(t, "drover agent cut", hermeticEnv(), append(args, withRawExec(t)...)...)
	_ = agent
	waitNodes(t, c, 1)

	dir := t.TempDir()
	jobs := map[string]string{
		"cut":   `disconnect { stop_on_client_after = "5s" }`,
		"known": `disconnect { lost_after = "1h" }`,
		"plain": ``,
	}
	for id, block := range jobs {
		writeFile(t, filepath.Join(dir, id+".nomad.hcl"), disconnectJob(id, block))
		if r := s.cli(t, dir, "job", "run", "-detach", id+".nomad.hcl"); r.code != 0 {
			t.Fatalf("job run %s: %s", id, r)
		}
	}
	allocOf := map[string]*cluster.Allocation{}
	pidOf := map[string]int{}
	for id := range jobs {
		as := followAllocs(t, c, id, id+" to run", func(as []*cluster.Allocation) bool { return len(running(as)) == 1 })
		allocOf[id] = running(as)[0]
		pidOf[id] = readPID(t, filepath.Join(agentDir, "allocs", allocOf[id].ID, "alloc", "pid"))
		if !pidAlive(pidOf[id]) {
			t.Fatalf("%s: task %d is not running", id, pidOf[id])
		}
	}
	t.Cleanup(func() {
		// The tasks outlive their agent by design; this test owns them.
		for _, pid := range pidOf {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
	// The replacements placed after the reconnect are stopped through
	// the agent before it goes, with contact restored first (cleanups run
	// last registered first) in case the test ended while cut off.
	stopJobsAtCleanup(t, c, s.env, dir, "cut", "known", "plain")
	t.Cleanup(proxy.restore)

	// Cut the agent off.
	cut := time.Now()
	proxy.cut()
	// 5s of stop_on_client_after, up to a heartbeat interval (a third
	// of the 2s TTL) since the last heartbeat, 2s of kill_timeout, and
	// slack for a shared machine.
	const bound = 5*time.Second + time.Second + 2*time.Second + 5*time.Second
	deadline := cut.Add(bound)
	for pidAlive(pidOf["cut"]) {
		if time.Now().After(deadline) {
			t.Fatalf("the cut-off agent's stop_on_client_after task %d still runs %v after the cut\nagent output:\n%s",
				pidOf["cut"], bound, agent.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	gone := time.Since(cut)
	t.Logf("task stopped %v after the cut", gone)
	if gone < 4*time.Second {
		t.Errorf("task stopped %v after the cut, before stop_on_client_after (5s) could have run out", gone)
	}
	for _, id := range []string{"known", "plain"} {
		if !pidAlive(pidOf[id]) {
			t.Errorf("%s: task %d, in a group without stop_on_client_after, died with the contact", id, pidOf[id])
		}
	}
	if !strings.Contains(agent.out.String(), "no contact with servers for 5s") {
		t.Errorf("the agent's log does not say why it stopped the task:\n%s", agent.out.String())
	}

	// The server's view while the node is away: "known" unknown (within
	// lost_after), the two others lost.
	followAllocs(t, c, "known", "the lost_after allocation to be unknown", func(as []*cluster.Allocation) bool {
		return allocStatusOf(as, allocOf["known"].ID) == cluster.AllocClientUnknown
	})
	for _, id := range []string{"cut", "plain"} {
		followAllocs(t, c, id, id+"'s allocation to be lost", func(as []*cluster.Allocation) bool {
			return allocStatusOf(as, allocOf[id].ID) == cluster.AllocClientLost
		})
	}
	if r := s.cli(t, dir, "job", "status", "known"); r.code != 0 || !strings.Contains(r.stdout, "unknown") || !strings.Contains(r.stdout, "Unknown") {
		t.Errorf("job status known does not show the unknown allocation: %s", r)
	}
	if r := s.cli(t, dir, "alloc", "status", allocOf["known"].ID); r.code != 0 || !strings.Contains(r.stdout, "unknown") {
		t.Errorf("alloc status does not show unknown: %s", r)
	}

	// Restore contact: the agent reports everything again.
	proxy.restore()
	as := followAllocs(t, c, "known", "the unknown allocation to run again", func(as []*cluster.Allocation) bool {
		return allocStatusOf(as, allocOf["known"].ID) == cluster.AllocClientRunning
	})
	if a := allocByID(as, allocOf["known"].ID); a.DesiredStatus != cluster.AllocDesiredRun {
		t.Errorf("known: reconnected allocation desired %q, want run (no replacement could run meanwhile)", a.DesiredStatus)
	}
	if !pidAlive(pidOf["known"]) {
		t.Errorf("known: task %d did not survive the reconnect", pidOf["known"])
	}
	as = followAllocs(t, c, "cut", "the stopped allocation's report and a replacement", func(as []*cluster.Allocation) bool {
		a := allocByID(as, allocOf["cut"].ID)
		return a != nil && a.TaskStates["s"] != nil && a.TaskStates["s"].State == cluster.TaskStateDead && len(running(as)) == 1
	})
	a := allocByID(as, allocOf["cut"].ID)
	if a.ClientStatus != cluster.AllocClientLost || !strings.Contains(a.ClientDescription, "no contact with servers") {
		t.Errorf("cut: the allocation the agent stopped shows %q (%q), want lost, saying why", a.ClientStatus, a.ClientDescription)
	}
	if !strings.Contains(allocsText([]*cluster.Allocation{a}), "no contact with servers for 5s") {
		t.Errorf("cut: no task event says why the task was stopped:%s", allocsText([]*cluster.Allocation{a}))
	}
	// The plain job's allocation was lost: the agent stops it now.
	followAllocs(t, c, "plain", "the lost allocation's task to stop and a replacement to run", func(as []*cluster.Allocation) bool {
		a := allocByID(as, allocOf["plain"].ID)
		return a != nil && a.DesiredStatus == cluster.AllocDesiredStop && !clientLive([]*cluster.Allocation{a}) && len(running(as)) == 1
	})
	waitUntil(t, "the lost allocation's task to be gone", func() bool { return !pidAlive(pidOf["plain"]) })
}

func allocStatusOf(as []*cluster.Allocation, id string) string {
	if a := allocByID(as, id); a != nil {
		return a.ClientStatus
	}
	return ""
}

func allocByID(as []*cluster.Allocation, id string) *cluster.Allocation {
	for _, a := range as {
		if a.ID == id {
			return a
		}
	}
	return nil
}

func disconnectJob(id, block string) string {
	return fmt.Sprintf(`
job %q {
  datacenters = ["dc1"]
  group "g" {
    %s
    restart {
      attempts = 0
      mode     = "fail"
    }
    task "s" {
      driver       = "raw_exec"
      kill_timeout = "2s"
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
}
`, id, block)
}

// tcpProxy forwards loopback TCP connections to a target until cut: then
// it drops every open connection and refuses new ones (accepts and closes
// them) until restored. It stands for the network between an agent and
// its servers.
type tcpProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	down   bool
	closed bool
	conns  map[net.Conn]struct{}
}

func startTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down || p.closed {
			p.mu.Unlock()
			in.Close()
			continue
		}
		p.conns[in] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.forward(in) })
	}
}

func (p *tcpProxy) forward(in net.Conn) {
	defer p.drop(in)
	out, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	p.mu.Lock()
	if p.down || p.closed {
		p.mu.Unlock()
		out.Close()
		return
	}
	p.conns[out] = struct{}{}
	p.mu.Unlock()
	defer p.drop(out)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	// Either side ending ends both; the other copy returns on the
	// closed connection.
	in.Close()
	out.Close()
	<-done
}

func (p *tcpProxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// cut drops every connection and refuses new ones.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
}

func (p *tcpProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func (p *tcpProxy) close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	if err := p.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return
	}
	p.wg.Wait()
}
