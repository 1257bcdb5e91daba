package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

// devCluster is `drover dev` (a server and an agent in one process) on
// free ports, with a client for the API and an environment for the CLI.
// The end-to-end tests that need one cluster and one node start it with
// startDevCluster rather than by hand.
type devCluster struct {
	proc   *proc
	client *api.Client
	env    []string // the CLI's: hermeticEnv with DROVER_ADDR (clipped)
	addr   string   // the API's host:port
	data   string   // -data-dir
}

// startDevCluster starts `drover dev` in a temporary data dir and waits
// until its server is healthy and its node ready. extra flags follow the
// standard ones: "-repo", dir for the GitOps loop, "-host-volume",
// "name=path", or any other flag of drover dev. The process is stopped
// with SIGTERM at the test's cleanup, which stops its tasks too (drover
// dev's StopTasksOnShutdown).
func startDevCluster(t testing.TB, extra ...string) *devCluster {
	t.Helper()
	dataDir, httpAddr := t.TempDir(), freeAddr(t)
	env := hermeticEnv()
	args := append([]string{"dev", "-data-dir", dataDir, "-http-addr", httpAddr, "-raft-addr", freeAddr(t), "-node-name", "devnode"}, extra...)
	p := startProc(t, "drover dev", env, args...)
	c, err := api.NewClient(api.Config{Address: "http://" + httpAddr})
	if err != nil {
		t.Fatal(err)
	}
	p.waitHealthy(c, false)
	waitNodes(t, c, 1)
	// Clipped, so that a test's append(d.env, ...) copies instead of
	// writing into a backing array another append shares.
	cliEnv := slices.Clip(append(env, "DROVER_ADDR=http://"+httpAddr))
	return &devCluster{proc: p, client: c, env: cliEnv, addr: httpAddr, data: dataDir}
}

// cli runs drover in dir against the cluster and logs the command and
// what it printed.
func (d *devCluster) cli(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := runDrover(t, dir, d.env, args...)
	t.Logf("$ drover %s\n%s", strings.Join(args, " "), r)
	return r
}

// stopJobsAtCleanup stops the jobs at the test's cleanup and waits until
// none of their allocations runs on the client (see stopJobsAtCleanup).
func (d *devCluster) stopJobsAtCleanup(t *testing.T, dir string, ids ...string) {
	t.Helper()
	stopJobsAtCleanup(t, d.client, d.env, dir, ids...)
}

// stopJobsAtCleanup stops the jobs at the test's cleanup, with the CLI
// in env, and waits until none of their allocations runs on a client.
// Call it after starting the agents: cleanups run last in, first out, so
// the tasks are stopped while their agent still runs. A drover agent
// leaves its tasks running when it stops (so that the next one
// re-attaches, as Nomad's does), and a task left so outlives the test;
// drover dev stops its tasks on shutdown, but a test should not lean on
// it. A job already stopped or never run is no error.
func stopJobsAtCleanup(t *testing.T, c *api.Client, env []string, dir string, ids ...string) {
	t.Helper()
	t.Cleanup(func() {
		for _, id := range ids {
			r := runDrover(t, dir, env, "job", "stop", id)
			t.Logf("$ drover job stop %s\n%s", id, r)
			followAllocs(t, c, id, "the tasks of "+id+" to stop", func(as []*cluster.Allocation) bool { return !clientLive(as) })
		}
	})
}

// skipNoExecBusybox is why the tests of isolated exec tasks skip: they
// run busybox inside the task's chroot, which needs root and a static
// /bin/busybox (Debian's busybox-static; 'make deps' installs it).
const skipNoExecBusybox = "SKIP: needs root (the exec driver's isolation) and /bin/busybox (apt-get install busybox-static)"

// requireExecBusybox skips, loudly, where isolated exec tasks running
// /bin/busybox cannot run.
func requireExecBusybox(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip(skipNoExecBusybox)
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Logf("/bin/busybox: %v", err)
		t.Skip(skipNoExecBusybox)
	}
}
