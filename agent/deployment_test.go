package agent

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

// python finds the real interpreter (not a version-manager shim, which
// needs the user's environment): a tiny HTTP health server.
func python(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Skipf("python3 not available: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// webJob is a service job of count 3 serving files over HTTP, whose check
// asks for path: "/" passes, "/missing" fails with a 404. version goes
// into the environment, so that changing it is a destructive update.
func webJob(py, version, path string, extra string) string {
	return fmt.Sprintf(`
job "web" {
  datacenters = ["dc1"]
  group "g" {
    count = 3
    network {
      port "http" {}
    }
    update {
      max_parallel     = 1
      min_healthy_time = "1s"
      healthy_deadline = "5s"
      progress_deadline = "20s"
      %s
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    service {
      name = "web"
      port = "http"
      check {
        type     = "http"
        path     = %q
        interval = "1s"
        timeout  = "1s"
      }
    }
    task "t" {
      driver = "exec"
      env {
        VERSION = %q
      }
      config {
        command = %q
        args    = ["-m", "http.server", "--bind", "127.0.0.1", "${DROVER_PORT_http}"]
      }
      resources {
        cpu    = 20
        memory = 32
      }
    }
  }
}`, extra, path, version, py)
}

// waitDeployment follows the job's deployments until the one of version
// reaches a terminal status.
func waitDeployment(t *testing.T, c *api.Client, jobID string, version uint64) *cluster.Deployment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var index uint64
	for {
		ds, meta, err := c.Deployments().List(ctx, &api.QueryOptions{Params: map[string]string{"job": jobID}, WaitIndex: index, WaitTime: 5 * time.Second})
		if err != nil {
			t.Fatalf("waiting for the deployment of %s version %d: %v", jobID, version, err)
		}
		for _, d := range ds {
			if d.JobVersion == version && !d.Active() {
				return d
			}
		}
		index = meta.LastIndex
	}
}

func startedAt(a *cluster.Allocation) time.Time {
	for _, st := range a.TaskStates {
		for _, e := range st.Events {
			if e.Type == "Started" {
				return e.Time
			}
		}
	}
	return time.Time{}
}

func TestRollingUpdateOneAtATimeGatedOnHealth(t *testing.T) {
	py := python(t)
	srv := servertest.Single(t)
	startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	cleanupTasks(t, srv, "web")

	submit(t, srv.Client, webJob(py, "1", "/", ""))
	d0 := waitDeployment(t, srv.Client, "web", 0)
	if d0.Status != cluster.DeploymentSuccessful {
		t.Fatalf("first deployment: %s (%s)", d0.Status, d0.StatusDescription)
	}

	submit(t, srv.Client, webJob(py, "2", "/", ""))
	d1 := waitDeployment(t, srv.Client, "web", 1)
	if d1.Status != cluster.DeploymentSuccessful || d1.StatusDescription != "Deployment completed successfully" {
		t.Fatalf("second deployment: %s (%s)", d1.Status, d1.StatusDescription)
	}
	g := d1.TaskGroups["g"]
	if g.PlacedAllocs != 3 || g.HealthyAllocs != 3 || g.UnhealthyAllocs != 0 {
		t.Errorf("group counters: %+v", g)
	}
	allocs := waitAllocs(t, srv.Client, "web", "three running allocations of version 1", func(as []*cluster.Allocation) bool {
		n := 0
		for _, a := range as {
			if a.JobVersion == 1 && a.ClientStatus == cluster.AllocClientRunning {
				n++
			}
		}
		return n == 3
	})
	var fresh []*cluster.Allocation
	for _, a := range allocs {
		if a.JobVersion == 1 && a.DeploymentID == d1.ID {
			fresh = append(fresh, a)
		}
	}
	if len(fresh) != 3 {
		t.Fatalf("want 3 allocations of deployment %s:\n%s", d1.ID, describeAllocs(allocs))
	}
	slices.SortFunc(fresh, func(a, b *cluster.Allocation) int { return a.CreateTime.Compare(b.CreateTime) })
	for i, a := range fresh {
		if a.DeploymentStatus == nil || a.DeploymentStatus.Healthy == nil || !*a.DeploymentStatus.Healthy {
			t.Fatalf("allocation %s not healthy: %+v", a.ID, a.DeploymentStatus)
		}
		// Healthy only after min_healthy_time of running with passing
		// checks.
		if got := a.DeploymentStatus.Timestamp.Sub(startedAt(a)); got < time.Second {
			t.Errorf("allocation %d healthy %v after start, before min_healthy_time", i, got)
		}
		if i == 0 {
			continue
		}
		prev := fresh[i-1]
		// One at a time: the next replacement is created only after the
		// previous one is healthy.
		if !a.CreateTime.After(prev.DeploymentStatus.Timestamp) || !startedAt(a).After(prev.DeploymentStatus.Timestamp) {
			t.Errorf("allocation %d created %v / started %v, before allocation %d became healthy at %v",
				i, a.CreateTime, startedAt(a), i-1, prev.DeploymentStatus.Timestamp)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	// The version is marked stable right after the deployment succeeds.
	var index uint64
	for {
		versions, meta, err := srv.Client.Jobs().Versions(ctx, "web", &api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second})
		if err != nil {
			t.Fatalf("versions 0 and 1 not both marked stable: %v", err)
		}
		stable := 0
		for _, v := range versions {
			if v.Stable {
				stable++
			}
		}
		if stable == 2 {
			break
		}
		index = meta.LastIndex
	}
}

func TestFailingCheckFailsDeploymentAndAutoReverts(t *testing.T) {
	py := python(t)
	srv := servertest.Single(t)
	startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	cleanupTasks(t, srv, "web")

	submit(t, srv.Client, webJob(py, "1", "/", "auto_revert = true"))
	if d := waitDeployment(t, srv.Client, "web", 0); d.Status != cluster.DeploymentSuccessful {
		t.Fatalf("first deployment: %s (%s)", d.Status, d.StatusDescription)
	}
	before := waitAllocs(t, srv.Client, "web", "three running", allStatus(cluster.AllocClientRunning, 3))
	old := map[string]bool{}
	for _, a := range before {
		old[a.ID] = true
	}

	submit(t, srv.Client, webJob(py, "2", "/missing", "auto_revert = true"))
	d1 := waitDeployment(t, srv.Client, "web", 1)
	want := "Failed due to unhealthy allocations - rolling back to job version 0"
	if d1.Status != cluster.DeploymentFailed || d1.StatusDescription != want {
		t.Fatalf("deployment of version 1: %s (%s), want failed (%s)", d1.Status, d1.StatusDescription, want)
	}
	if g := d1.TaskGroups["g"]; g.UnhealthyAllocs != 1 || g.PlacedAllocs != 1 {
		t.Errorf("max_parallel = 1: want one placed, unhealthy allocation, got %+v", g)
	}
	// The revert is version 2, with version 0's specification.
	d2 := waitDeployment(t, srv.Client, "web", 2)
	if d2.Status != cluster.DeploymentSuccessful {
		t.Fatalf("revert deployment: %s (%s)", d2.Status, d2.StatusDescription)
	}
	allocs := waitAllocs(t, srv.Client, "web", "three running allocations of version 2", func(as []*cluster.Allocation) bool {
		n := 0
		for _, a := range as {
			if a.JobVersion == 2 && a.ClientStatus == cluster.AllocClientRunning && !a.Terminal() {
				n++
			}
		}
		return n == 3
	})
	// The failed allocation was judged unhealthy at healthy_deadline.
	for _, a := range allocs {
		if a.JobVersion != 1 {
			continue
		}
		ds := a.DeploymentStatus
		if ds == nil || ds.Healthy == nil || *ds.Healthy {
			t.Errorf("allocation %s of version 1: want unhealthy, got %+v", a.ID, ds)
		} else if got := ds.Timestamp.Sub(a.CreateTime); got < 5*time.Second {
			// healthy_deadline runs from when the agent starts tracking,
			// which is after the servers created the allocation.
			t.Errorf("allocation %s unhealthy %v after it was created, before healthy_deadline", a.ID, got)
		}
	}
	// Two old allocations were never touched: updated in place to the
	// reverted version, never stopped.
	kept := 0
	for _, a := range allocs {
		if old[a.ID] && !a.Terminal() {
			kept++
			if st := a.TaskStates["t"]; st.Restarts != 0 || hasEvent(st, "Killed", "") {
				t.Errorf("old allocation %s was interrupted:\n%s", a.ID, describeAllocs([]*cluster.Allocation{a}))
			}
		}
	}
	if kept != 2 {
		t.Errorf("want the 2 old allocations not replaced by the failed batch kept, got %d:\n%s", kept, describeAllocs(allocs))
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	job, _, err := srv.Client.Jobs().Info(ctx, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	if job.Version != 2 || job.Spec.Groups[0].Tasks[0].Env["VERSION"] != "1" {
		t.Errorf("job after revert: version %d env %v, want version 2 with VERSION=1", job.Version, job.Spec.Groups[0].Tasks[0].Env)
	}
}

func TestCanaryAutoPromoteThenRollingUpdate(t *testing.T) {
	py := python(t)
	srv := servertest.Single(t)
	startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	cleanupTasks(t, srv, "web")
	canary := "canary = 1\n      auto_promote = true"
	submit(t, srv.Client, webJob(py, "1", "/", canary))
	if d := waitDeployment(t, srv.Client, "web", 0); d.Status != cluster.DeploymentSuccessful || d.TaskGroups["g"].DesiredCanaries != 0 {
		t.Fatalf("first deployment (no canaries: nothing to replace): %s (%s) %+v", d.Status, d.StatusDescription, d.TaskGroups["g"])
	}
	submit(t, srv.Client, webJob(py, "2", "/", canary))
	d1 := waitDeployment(t, srv.Client, "web", 1)
	g := d1.TaskGroups["g"]
	if d1.Status != cluster.DeploymentSuccessful || !g.Promoted || g.DesiredCanaries != 1 || len(g.PlacedCanaries) != 1 || g.HealthyAllocs != 3 {
		t.Fatalf("canary deployment: %s (%s) %+v", d1.Status, d1.StatusDescription, g)
	}
	allocs := waitAllocs(t, srv.Client, "web", "three running allocations of version 1", func(as []*cluster.Allocation) bool {
		n := 0
		for _, a := range as {
			if a.JobVersion == 1 && !a.Terminal() && a.ClientStatus == cluster.AllocClientRunning {
				n++
			}
		}
		return n == 3
	})
	// The canary ran next to the old allocations: none of them stopped
	// before it was healthy.
	var can *cluster.Allocation
	for _, a := range allocs {
		if a.ID == g.PlacedCanaries[0] {
			can = a
		}
	}
	if can == nil || can.DeploymentStatus == nil || !can.DeploymentStatus.Canary {
		t.Fatalf("canary %s not found or not flagged:\n%s", g.PlacedCanaries[0], describeAllocs(allocs))
	}
	for _, a := range allocs {
		if a.JobVersion != 0 {
			continue
		}
		if st := a.TaskStates["t"]; st == nil || st.FinishedAt.Before(can.DeploymentStatus.Timestamp) {
			t.Errorf("old allocation %s stopped before the canary was healthy at %v", a.ID, can.DeploymentStatus.Timestamp)
		}
	}
}

func TestFailingCanaryNeverPromotedAutoRevertKeepsOldAllocations(t *testing.T) {
	py := python(t)
	srv := servertest.Single(t)
	startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	cleanupTasks(t, srv, "web")
	canary := "canary = 1\n      auto_promote = true\n      auto_revert = true"
	submit(t, srv.Client, webJob(py, "1", "/", canary))
	if d := waitDeployment(t, srv.Client, "web", 0); d.Status != cluster.DeploymentSuccessful {
		t.Fatalf("first deployment: %s (%s)", d.Status, d.StatusDescription)
	}
	before := waitAllocs(t, srv.Client, "web", "three running", allStatus(cluster.AllocClientRunning, 3))

	submit(t, srv.Client, webJob(py, "2", "/missing", canary))
	d1 := waitDeployment(t, srv.Client, "web", 1)
	want := "Failed due to unhealthy allocations - rolling back to job version 0"
	if g := d1.TaskGroups["g"]; d1.Status != cluster.DeploymentFailed || d1.StatusDescription != want || g.Promoted || len(g.PlacedCanaries) != 1 || g.PlacedAllocs != 1 {
		t.Fatalf("canary deployment: %s (%s) %+v, want failed (%s), one canary, never promoted", d1.Status, d1.StatusDescription, g, want)
	}
	allocs := waitAllocs(t, srv.Client, "web", "version 2 on the old allocations, the canary stopped", func(as []*cluster.Allocation) bool {
		n, canaryLive := 0, false
		for _, a := range as {
			if a.JobVersion == 2 && !a.Terminal() {
				n++
			}
			if a.JobVersion == 1 && !a.Terminal() {
				canaryLive = true
			}
		}
		return n == 3 && !canaryLive
	})
	// The old allocations were never interrupted: the same three, updated
	// in place, never restarted or killed.
	for _, old := range before {
		var now *cluster.Allocation
		for _, a := range allocs {
			if a.ID == old.ID {
				now = a
			}
		}
		if now == nil || now.Terminal() || now.JobVersion != 2 {
			t.Errorf("old allocation %s: %+v, want it running, updated in place to version 2", old.ID, now)
			continue
		}
		if st := now.TaskStates["t"]; st.Restarts != 0 || hasEvent(st, "Killed", "") || hasEvent(st, "Terminated", "") {
			t.Errorf("old allocation %s was interrupted:\n%s", old.ID, describeAllocs([]*cluster.Allocation{now}))
		}
	}
}
