package server_test

import (
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

// TestNewVersionSettingAutoPromotePromotes: canaries wait for an
// operator; a new version that only adds auto_promote = true (what a
// commit does in GitOps) finishes the rollout without `drover deployment
// promote`. The simulated clients report health without the canary flag:
// the server keeps it, and the scheduler places one canary, not three.
func TestNewVersionSettingAutoPromotePromotes(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	c := s.Client
	registerNodes(t, c, 2)
	stop := healthReporter(ctxT(t), t, c, "web")
	defer stop()
	register := func(args, update string) {
		t.Helper()
		j := parseJob(t, webJob("web", 3, update))
		j.Groups[0].Tasks[0].Config["args"] = []any{args}
		if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: j}); err != nil {
			t.Fatal(err)
		}
	}
	register("1000", `update {
    max_parallel     = 1
    min_healthy_time = "0s"
  }`)
	if d := waitDeploymentDone(t, c, "web", 0); d.Status != cluster.DeploymentSuccessful {
		t.Fatalf("first deployment: %s", d.Status)
	}
	canary := `update {
    max_parallel     = 1
    canary           = 1
    min_healthy_time = "0s"
  }`
	register("2000", canary)
	servertest.WaitFor(t, "the canary healthy and its deployment waiting for promotion", func() bool {
		ds, _, err := c.Jobs().Deployments(ctxT(t), "web", nil)
		if err != nil {
			return false
		}
		for _, d := range ds {
			if g := d.TaskGroups["web"]; d.JobVersion == 1 && g != nil && g.HealthyAllocs == 1 && len(g.PlacedCanaries) == 1 && !g.Promoted {
				return d.Status == cluster.DeploymentRunning
			}
		}
		return false
	})
	time.Sleep(300 * time.Millisecond)
	if d := latestDeployment(t, c, "web"); d.JobVersion != 1 || d.Status != cluster.DeploymentRunning {
		t.Fatalf("without auto_promote the deployment went on: %+v", d)
	}

	register("2000", `update {
    max_parallel     = 1
    canary           = 1
    auto_promote     = true
    min_healthy_time = "0s"
  }`)
	d := waitDeploymentDone(t, c, "web", 2)
	if d.Status != cluster.DeploymentSuccessful {
		t.Fatalf("deployment of the version with auto_promote: %s (%s)", d.Status, d.StatusDescription)
	}
	allocs, _, err := c.Jobs().Allocations(ctxT(t), "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range allocs {
		if !a.Terminal() {
			if a.JobVersion != 2 {
				t.Errorf("allocation %s still on version %d", a.Name, a.JobVersion)
			}
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d live allocations, want 3", n)
	}
}

func latestDeployment(t *testing.T, c *api.Client, jobID string) *cluster.Deployment {
	t.Helper()
	ds, _, err := c.Jobs().Deployments(ctxT(t), jobID, nil)
	if err != nil || len(ds) == 0 {
		t.Fatalf("deployments of %s: %v", jobID, err)
	}
	best := ds[0]
	for _, d := range ds {
		if d.CreateIndex > best.CreateIndex {
			best = d
		}
	}
	return best
}
