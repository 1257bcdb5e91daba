package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers/qemu/qemutest"
)

// poolJob is an exec job of busybox sleeping, in node pool "edge".
func poolJob(id, typ string, count int) string {
	return fmt.Sprintf(`
job %q {
  datacenters = ["dc1"]
  type        = %q
  node_pool   = "edge"
  group "g" {
    count = %d
    task "t" {
      driver = "exec"
      config {
        command = "/bin/busybox"
        args    = ["sleep", "1000"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}`, id, typ, count)
}

// TestNodePoolPinsJobs is issue 15's node pool acceptance on the real
// binary: two agents, one configured with node_pool = "edge" (which
// creates the pool) and one in "default"; a service job of count 3 and
// a system job, both in pool edge, run only on the edge agent, and the
// node pool commands show the pools and the jobs.
func TestNodePoolPinsJobs(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED — NODE POOLS END TO END ARE NOT TESTED: the exec driver's chroot needs the agent to run as root")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Logf("/bin/busybox: %v", err)
		t.Skip(qemutest.SkipNoBusybox)
	}
	s := startServer(t, "-node-name", "s1")
	s.startAgent(t, "edge-1", t.TempDir(), withAgentConfig(t, "node_pool = \"edge\"\n")...)
	s.startAgent(t, "plain-1", t.TempDir())
	nodes := waitNodes(t, s.client, 2)
	nodeName := map[string]string{}
	for _, n := range nodes {
		nodeName[n.ID] = n.Name
	}

	dir := t.TempDir()
	cli := func(args ...string) result {
		t.Helper()
		return s.cli(t, dir, args...)
	}
	// Registered after the agents', so it runs first: tasks outlive a
	// stopped agent.
	stopJobsAtCleanup(t, s.client, s.env, dir, "edge-web", "edge-sys")

	// 1. The agent's node_pool created the pool; apply describes it.
	r := cli("node", "pool", "list")
	for _, want := range []string{"all", "default", "edge"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("node pool list lacks %q\n%s", want, r)
		}
	}
	writeFile(t, filepath.Join(dir, "edge.nomad.hcl"), `
node_pool "edge" {
  description = "Nodes at the edge"
  meta {
    owner = "sre"
  }
}`)
	if r := cli("node", "pool", "apply", "edge.nomad.hcl"); r.code != 0 || !strings.Contains(r.stdout, `Successfully applied node pool "edge"!`) {
		t.Fatalf("node pool apply: %s", r)
	}
	if r := cli("node", "pool", "info", "edge"); r.code != 0 || !strings.Contains(r.stdout, "Nodes at the edge") || !strings.Contains(r.stdout, "owner") {
		t.Fatalf("node pool info edge: %s", r)
	}
	if r := cli("node", "status"); r.code != 0 || !strings.Contains(r.stdout, "Node Pool") || !strings.Contains(r.stdout, "edge") {
		t.Errorf("node status does not show the pools: %s", r)
	}

	// 2. A service job of count 3 in edge: every allocation on edge-1.
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), poolJob("edge-web", "service", 3))
	if r := cli("job", "run", "web.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run edge-web: %s", r)
	}
	allocs := followAllocs(t, s.client, "edge-web", "three allocations to run", func(as []*cluster.Allocation) bool { return len(running(as)) == 3 })
	for _, a := range allocs {
		if nodeName[a.NodeID] != "edge-1" {
			t.Errorf("allocation %s of edge-web on %s, outside pool edge", a.Name, nodeName[a.NodeID])
		}
	}

	// 3. A system job in edge runs on edge-1 alone.
	writeFile(t, filepath.Join(dir, "sys.nomad.hcl"), poolJob("edge-sys", "system", 1))
	if r := cli("job", "run", "sys.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run edge-sys: %s", r)
	}
	allocs = followAllocs(t, s.client, "edge-sys", "the system job to run", func(as []*cluster.Allocation) bool { return len(running(as)) == 1 })
	if len(allocs) != 1 || nodeName[allocs[0].NodeID] != "edge-1" {
		t.Errorf("edge-sys allocations: %s, want one on edge-1", allocsText(allocs))
	}

	// 4. The pool's jobs and nodes; a pool in use is not deleted.
	r = cli("node", "pool", "jobs", "edge")
	if r.code != 0 || !strings.Contains(r.stdout, "edge-web") || !strings.Contains(r.stdout, "edge-sys") {
		t.Errorf("node pool jobs edge: %s", r)
	}
	r = cli("node", "pool", "nodes", "edge")
	if r.code != 0 || !strings.Contains(r.stdout, "edge-1") || strings.Contains(r.stdout, "plain-1") {
		t.Errorf("node pool nodes edge: %s", r)
	}
	r = cli("node", "pool", "delete", "edge")
	if r.code != 1 || !strings.Contains(r.stderr, `node pool "edge" has nodes in regions: [global]`) {
		t.Errorf("node pool delete of a pool in use: want exit 1 naming its nodes\n%s", r)
	}

	// 5. A job in a pool nobody made is refused, with Nomad's message.
	writeFile(t, filepath.Join(dir, "lost.nomad.hcl"), strings.Replace(poolJob("lost", "service", 1), `"edge"`, `"nowhere"`, 1))
	r = cli("job", "run", "lost.nomad.hcl")
	if r.code != 1 || !strings.Contains(r.stderr, `job "lost" is in nonexistent node pool "nowhere"`) {
		t.Errorf("job run in a missing pool: want exit 1 with Nomad's message\n%s", r)
	}
}
