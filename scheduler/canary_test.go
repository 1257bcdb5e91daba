package scheduler

import (
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// canaryRollout runs version 0 of a 3-allocation job with canary = 1 to a
// successful deployment, then registers version 1 and returns its plan.
func canaryRollout(t *testing.T) (*memState, *Plan) {
	t.Helper()
	update := func(j *jobspec.Job) {
		grp(j).Update = &jobspec.UpdateStrategy{MaxParallel: 1, Canary: 1, ProgressDeadline: 10 * time.Minute}
	}
	img := func(v string) func(*jobspec.Job) {
		return func(j *jobspec.Job) { grp(j).Tasks[0].Config["image"] = v }
	}
	st := newMemState(nodes(4)...)
	p := run(t, st, job(3, update), 1)
	if p.Deployment == nil || p.Deployment.TaskGroups["web"].DesiredCanaries != 0 || len(placed(p)) != 3 {
		t.Fatalf("first version: nothing to replace, so no canaries: %+v, %d placed", p.Deployment, len(placed(p)))
	}
	st.apply(p)
	st.setClient(cluster.AllocClientRunning)
	setHealthy(st, 0)
	p.Deployment.Status = cluster.DeploymentSuccessful

	p = run(t, st, job(3, update, img("nginx:2")), 2)
	return st, p
}

func setHealthy(st *memState, version uint64) {
	healthy := true
	for i, a := range st.allocs {
		if a.JobVersion == version && a.DesiredStatus == cluster.AllocDesiredRun {
			c := *a
			ds := cluster.AllocDeploymentStatus{Healthy: &healthy}
			if a.DeploymentStatus != nil {
				ds.Canary = a.DeploymentStatus.Canary
			}
			c.DeploymentStatus = &ds
			st.allocs[i] = &c
		}
	}
}

func TestCanaryPlacedNextToOldAllocations(t *testing.T) {
	st, p := canaryRollout(t)
	d := p.Deployment
	if d == nil || d.TaskGroups["web"].DesiredCanaries != 1 || d.TaskGroups["web"].Promoted {
		t.Fatalf("deployment of version 1: %+v", d)
	}
	can := placed(p)
	if a := p.Annotations["web"]; a.Canary != 1 || a.DestructiveUpdate != 0 || len(can) != 1 || len(stopped(p)) != 0 {
		t.Fatalf("want one canary and nothing stopped: annotations %+v placed %d stopped %d", a, len(can), len(stopped(p)))
	}
	if can[0].DeploymentStatus == nil || !can[0].DeploymentStatus.Canary || can[0].PreviousAllocation != "" || can[0].DeploymentID != d.ID {
		t.Fatalf("canary allocation: %+v", can[0])
	}
	st.apply(p)
	st.setClient(cluster.AllocClientRunning)

	// While it becomes healthy, and once healthy but not promoted:
	// nothing more, and the old allocations keep serving.
	for _, healthy := range []bool{false, true} {
		if healthy {
			setHealthy(st, 1)
		}
		if p := reprocess(t, st, 3); !p.IsNoOp() {
			t.Fatalf("healthy=%v, not promoted: want no changes, got annotations %+v", healthy, p.Annotations["web"])
		}
	}

	// Promoted: the old allocation the canary shadows stops, and the
	// rollout goes on with max_parallel = 1.
	d.TaskGroups["web"].Promoted = true
	p = reprocess(t, st, 4)
	if a := p.Annotations["web"]; a.DestructiveUpdate != 1 || len(placed(p)) != 1 || len(stopped(p)) != 2 {
		t.Fatalf("after promotion: annotations %+v placed %d stopped %d", a, len(placed(p)), len(stopped(p)))
	}
	dups := 0
	for _, a := range stopped(p) {
		if a.JobVersion != 0 {
			t.Errorf("stopped %s of version %d; only old allocations should stop", a.Name, a.JobVersion)
		}
		if a.Name == can[0].Name && a.DesiredDescription == descDuplicate {
			dups++
		}
	}
	if dups != 1 {
		t.Errorf("the old allocation named %s should stop as replaced by the canary", can[0].Name)
	}
}

func TestCanaryStoppedWhenDeploymentFails(t *testing.T) {
	st, p := canaryRollout(t)
	d := p.Deployment
	st.apply(p)
	st.setClient(cluster.AllocClientRunning)
	d.Status = cluster.DeploymentFailed
	p = reprocess(t, st, 3)
	s := stopped(p)
	if len(placed(p)) != 0 || len(s) != 1 || s[0].JobVersion != 1 || s[0].DesiredDescription != descCanaryFailed {
		t.Fatalf("failed deployment: want only the canary stopped, got placed %d stopped %+v", len(placed(p)), s)
	}
}

func TestCanaryWaitsWhilePaused(t *testing.T) {
	st, p := canaryRollout(t)
	p.Deployment.Status = cluster.DeploymentPaused
	// The plan was not applied: the paused deployment places no canary.
	st.deployments["default/web"] = p.Deployment
	if p := reprocess(t, st, 3); len(placed(p)) != 0 {
		t.Fatalf("paused: placed %d", len(placed(p)))
	}
}
