package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers/qemu/qemutest"
)

// qemuPIDs returns the PIDs of live processes whose command line
// contains marker (the test's own initrd path, unique to the test).
func qemuPIDs(marker string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(b), marker) || !strings.HasPrefix(filepath.Base(strings.SplitN(string(b), "\x00", 2)[0]), "qemu-system") {
			continue
		}
		if pidAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestQEMUJobThroughAgent(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip(qemutest.SkipNoQEMU)
	}
	vmDir := t.TempDir()
	g := qemutest.BuildGuest(t, vmDir)
	disk := filepath.Join(vmDir, "disk.img")
	if err := os.WriteFile(disk, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}

	s := startServer(t, "-node-name", "s1")
	c := s.client
	agentDir := t.TempDir()
	// The node lets jobs boot images from vmDir and pass a kernel, an
	// initrd and its command line; by default it allows neither.
	qemuConfig := withAgentConfig(t, fmt.Sprintf(`plugin "qemu" {
  config {
    image_paths    = [%q]
    args_allowlist = ["-kernel", "-initrd", "-append"]
  }
}
`, vmDir))
	agent := s.startAgent(t, "qemunode", agentDir, qemuConfig...)
	waitNodes(t, c, 1)

	dir := t.TempDir()
	jobID := "qemu-e2e"
	writeFile(t, filepath.Join(dir, "vm.nomad.hcl"), fmt.Sprintf(`
job %q {
  datacenters = ["dc1"]
  group "vm" {
    network {
      port "http" {
        to = 80
      }
    }
    task "guest" {
      driver = "qemu"
      config {
        image_path        = %q
        graceful_shutdown = true
        args              = ["-kernel", %q, "-initrd", %q, "-append", "console=ttyS0 quiet panic=-1"]
      }
      resources {
        cpu    = 500
        memory = 256
      }
      kill_timeout = "30s"
    }
  }
}`, jobID, disk, g.Kernel, g.Initrd))
	cli := func(args ...string) result {
		t.Helper()
		return s.cli(t, dir, args...)
	}
	t.Cleanup(func() {
		// Whatever failed, leave no VM behind.
		for _, pid := range qemuPIDs(g.Initrd) {
			t.Logf("killing leftover qemu %d", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	if r := cli("job", "run", "vm.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run: %s", r)
	}
	allocs := followAllocs(t, c, jobID, "the VM to run", func(as []*cluster.Allocation) bool { return len(running(as)) == 1 })
	alloc := running(allocs)[0]
	url := allocHTTPURL(t, alloc, 80)
	hc := &http.Client{Timeout: 2 * time.Second}
	get := func() (string, bool) {
		resp, err := hc.Get(url)
		if err != nil {
			return err.Error(), false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %q", resp.StatusCode, b), resp.StatusCode == http.StatusOK && string(b) == "hello from the guest\n"
	}
	t0 := time.Now()
	waitUntil(t, "HTTP 200 from the guest at "+url, func() bool { _, ok := get(); return ok })
	t.Logf("guest served HTTP %v after the allocation ran", time.Since(t0).Round(time.Millisecond))

	pids := qemuPIDs(g.Initrd)
	if len(pids) != 1 {
		t.Fatalf("qemu processes of this test: %v, want one", pids)
	}
	pid := pids[0]

	// The console, through drover alloc logs.
	r := waitLogs(t, s.env, dir, alloc.ID, "guest", "guest: ready")

	// kill -9 the agent: the VM runs on, and a new agent on the same data
	// dir re-attaches to it.
	agent.stop(syscall.SIGKILL)
	if !pidAlive(pid) {
		t.Fatalf("qemu %d died with its agent", pid)
	}
	agent = s.startAgent(t, "qemunode", agentDir, qemuConfig...)
	waitUntil(t, "the restarted agent to re-attach", func() bool {
		return strings.Contains(agent.out.String(), "re-attached to task")
	})
	time.Sleep(2 * time.Second)
	if got := qemuPIDs(g.Initrd); len(got) != 1 || got[0] != pid {
		t.Fatalf("qemu processes after the agent restart: %v, want only %d", got, pid)
	}
	if body, ok := get(); !ok {
		t.Fatalf("GET after the agent restart: %s", body)
	}

	// Stop the job: the guest powers off on ACPI's button (QMP
	// system_powerdown), well before the kill timeout.
	stopStart := time.Now()
	if r = cli("job", "stop", jobID); r.code != 0 {
		t.Fatalf("job stop: %s", r)
	}
	waitUntil(t, "qemu to exit", func() bool { return !pidAlive(pid) })
	if took := time.Since(stopStart); took >= 30*time.Second {
		t.Errorf("qemu exited %v after job stop: killed at the timeout, not powered off", took)
	}
	followAllocs(t, c, jobID, "the allocation to stop", func(as []*cluster.Allocation) bool { return len(running(as)) == 0 })
	r = runDrover(t, dir, s.env, "alloc", "logs", alloc.ID[:8], "guest")
	if !strings.Contains(r.stdout, "guest: power button pressed, powering off") {
		t.Errorf("the guest never saw the power button; console:\n%s", r)
	}
}
