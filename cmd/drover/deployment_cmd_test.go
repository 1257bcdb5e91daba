package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/server/servertest"
)

func rolloutJob(version string) string {
	return fmt.Sprintf(`job "web" {
  datacenters = ["dc1"]
  group "frontend" {
    count = 3
    update {
      max_parallel = 1
      auto_revert  = true
    }
    task "server" {
      driver = "exec"
      env {
        VERSION = %q
      }
      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`, version)
}

// TestDeploymentCommandsInProcess steers a rolling update with the
// deployment commands against a real in-process server. The test plays
// the agent's part of reporting health through the node API (the agent's
// own health checks are tested in the agent package).
func TestDeploymentCommandsInProcess(t *testing.T) {
	s := servertest.Single(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node := &cluster.Node{ID: "10000000-0000-4000-8000-000000000000", Name: "n1", Datacenter: "dc1",
		Attributes: map[string]string{"kernel.name": "linux"},
		Resources:  cluster.NodeResources{CPU: 8000, MemoryMB: 8192},
		Drivers:    map[string]cluster.DriverInfo{"exec": {Detected: true, Healthy: true}}}
	reg, err := s.Client.Nodes().Register(ctx, node)
	if err != nil {
		t.Fatal(err)
	}
	// The node's own calls carry the secret the servers made for it.
	asNode := s.Client.WithNodeSecret(reg.NodeSecret)
	register := func(version string) {
		t.Helper()
		f, diags := jobspec.Parse("web.hcl", []byte(rolloutJob(version)), nil)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if _, err := s.Client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: f.Job}); err != nil {
			t.Fatal(err)
		}
	}
	// waitFor follows the job's allocations and deployments until cond.
	waitFor := func(what string, cond func([]*cluster.Allocation, []*cluster.Deployment) bool) ([]*cluster.Allocation, []*cluster.Deployment) {
		t.Helper()
		for {
			allocs, _, err := s.Client.Jobs().Allocations(ctx, "web", nil)
			if err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			deps, _, err := s.Client.Jobs().Deployments(ctx, "web", nil)
			if err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			if cond(allocs, deps) {
				return allocs, deps
			}
			select {
			case <-ctx.Done():
				t.Fatalf("timed out waiting for %s", what)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	// report plays the agent: every live allocation whose health is
	// unknown runs, and is healthy.
	report := func() int {
		t.Helper()
		allocs, _, err := s.Client.Jobs().Allocations(ctx, "web", nil)
		if err != nil {
			t.Fatal(err)
		}
		var up []*cluster.Allocation
		healthy := true
		for _, a := range allocs {
			if a.Terminal() || a.DeploymentStatus != nil && a.DeploymentStatus.Healthy != nil {
				continue
			}
			up = append(up, &cluster.Allocation{ID: a.ID, ClientStatus: cluster.AllocClientRunning,
				DeploymentStatus: &cluster.AllocDeploymentStatus{Healthy: &healthy, Timestamp: time.Now()}})
		}
		if len(up) > 0 {
			if _, err := asNode.Nodes().UpdateAllocs(ctx, node.ID, up); err != nil {
				t.Fatal(err)
			}
		}
		return len(up)
	}
	deployment := func(deps []*cluster.Deployment, version uint64) *cluster.Deployment {
		for _, d := range deps {
			if d.JobVersion == version {
				return d
			}
		}
		return nil
	}
	live := func(allocs []*cluster.Allocation, version uint64) int {
		n := 0
		for _, a := range allocs {
			if a.JobVersion == version && !a.Terminal() {
				n++
			}
		}
		return n
	}
	addr := clientOptions{address: s.Client.Address()}
	cli := func(args ...string) (int, string, string) {
		var c capture
		code := run(ctx, append([]string{args[0], args[1], "-address", addr.address}, args[2:]...), c.stdio())
		return code, c.out.String(), c.err.String()
	}

	// Version 0: three placements at once, healthy: successful, stable.
	register("1")
	waitFor("3 allocations", func(as []*cluster.Allocation, _ []*cluster.Deployment) bool { return live(as, 0) == 3 })
	report()
	_, deps := waitFor("deployment 0 successful", func(_ []*cluster.Allocation, ds []*cluster.Deployment) bool {
		d := deployment(ds, 0)
		return d != nil && d.Status == cluster.DeploymentSuccessful
	})
	d0 := deployment(deps, 0)

	// Version 1: one replacement at a time.
	register("2")
	_, deps = waitFor("the first replacement", func(as []*cluster.Allocation, ds []*cluster.Deployment) bool {
		return live(as, 1) == 1 && deployment(ds, 1) != nil
	})
	d1 := deployment(deps, 1)
	if code, out, errOut := cli("deployment", "pause", d1.ID[:8]); code != 0 || !strings.Contains(out, "paused (Deployment is paused)") {
		t.Fatalf("pause: exit %d\n%s%s", code, out, errOut)
	}
	// Healthy while paused: the deployment counts it, but no next batch.
	report()
	waitFor("the healthy verdict counted", func(_ []*cluster.Allocation, ds []*cluster.Deployment) bool {
		return deployment(ds, 1).TaskGroups["frontend"].HealthyAllocs == 1
	})
	time.Sleep(300 * time.Millisecond) // let a wrongly triggered batch show up
	if allocs, _, _ := s.Client.Jobs().Allocations(ctx, "web", nil); live(allocs, 1) != 1 {
		t.Fatalf("a paused deployment placed another batch: %d allocations of version 1", live(allocs, 1))
	}
	if code, out, errOut := cli("deployment", "resume", d1.ID[:8]); code != 0 || !strings.Contains(out, "running (Deployment is running)") {
		t.Fatalf("resume: exit %d\n%s%s", code, out, errOut)
	}
	waitFor("the second replacement", func(as []*cluster.Allocation, _ []*cluster.Deployment) bool { return live(as, 1) == 2 })

	code, out, errOut := cli("deployment", "status", d1.ID[:8])
	if code != 0 || !strings.Contains(out, "Status      = running") || !strings.Contains(out, "frontend    true         3        2       1        0") {
		t.Errorf("deployment status: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("$ drover deployment status %s\n%s", d1.ID[:8], out)

	// Fail by hand: auto_revert registers version 0's specification again
	// as version 2, which replaces version 1's allocations and updates
	// the untouched old one in place.
	code, out, errOut = cli("deployment", "fail", d1.ID[:8])
	if code != 0 || !strings.Contains(out, "failed (Deployment marked as failed - rolling back to job version 0)") {
		t.Fatalf("fail: exit %d\n%s%s", code, out, errOut)
	}
	waitFor("the revert, version 2, to be fully placed", func(as []*cluster.Allocation, ds []*cluster.Deployment) bool {
		report()
		d := deployment(ds, 2)
		return d != nil && d.Status == cluster.DeploymentSuccessful && live(as, 2) == 3 && live(as, 1) == 0
	})
	job, _, err := s.Client.Jobs().Info(ctx, "web", nil)
	if err != nil || job.Version != 2 || job.Spec.Groups[0].Tasks[0].Env["VERSION"] != "1" {
		t.Fatalf("after the revert: %v version %d env %v", err, job.Version, job.Spec.Groups[0].Tasks[0].Env)
	}

	code, out, errOut = cli("deployment", "list", "-job", "web")
	if code != 0 || strings.Count(out, "\n") != 4 || !strings.Contains(out, "Deployment marked as failed - rolling back to job version 0") {
		t.Errorf("deployment list: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("$ drover deployment list\n%s", out)
	// A finished deployment cannot change.
	if code, _, errOut := cli("deployment", "pause", d0.ID); code != 1 || !strings.Contains(errOut, "only a running or paused deployment can change") {
		t.Errorf("pause of a finished deployment: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := cli("deployment", "promote", deployment(deps, 1).ID); code != 1 || !strings.Contains(errOut, "is failed") {
		t.Errorf("promote of a failed deployment: exit %d\n%s", code, errOut)
	}
}
