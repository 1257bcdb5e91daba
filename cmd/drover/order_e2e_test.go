package main

import (
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
)

// TestE2EJobOrderPostgresAPIWeb: web depends on api, api on postgres
// (drover.hcl). A commit that creates the three, and then one that
// changes the three, roll them out in that order: no allocation of a
// job's new version starts before every allocation of the new version of
// the job it depends on is healthy.
func TestE2EJobOrderPostgresAPIWeb(t *testing.T) {
	rc := startRolloutCluster(t)
	update := `max_parallel     = 2
min_healthy_time = "1s"
health_check     = "checks"
healthy_deadline = "20s"
progress_deadline = "40s"`
	const config = "job \"api\" {\n  depends_on = [\"postgres\"]\n}\n\njob \"web\" {\n  depends_on = [\"api\"]\n}\n"
	files := func(v string) map[string]string {
		return map[string]string{
			"drover.hcl":   config,
			"postgres.hcl": healthJob("postgres", 2, v, true, update, ""),
			"api.hcl":      healthJob("api", 2, v, true, update, ""),
			"web.hcl":      healthJob("web", 2, v, true, update, ""),
		}
	}
	repo := gittest.New(t)
	for i, v := range []string{"v1", "v2"} {
		repo.Commit("postgres, api and web "+v, files(v))
		r := rc.reconcileOnce(t, repo.Dir)
		if r.code != 0 {
			t.Fatalf("reconcile %s: want exit 0:\n%s", v, r)
		}
		for _, want := range []string{"Rollout order (depends_on in drover.hcl)", "Wave 1/3: postgres\n", "Wave 2/3: api (after postgres)\n", "Wave 3/3: web (after api)\n"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("reconcile %s output lacks %q", v, want)
			}
		}
		version := uint64(i)
		chain := []string{"postgres", "api", "web"}
		for _, id := range chain {
			rc.deploymentStatusVersion(t, id, version)
			if d := rc.deployment(t, id, version); d.Status != cluster.DeploymentSuccessful {
				t.Errorf("%s version %d: deployment %s (%s)", id, version, d.Status, d.StatusDescription)
			}
		}
		for k := 1; k < len(chain); k++ {
			dep, job := chain[k-1], chain[k]
			var depHealthy, jobCreated time.Time
			for _, a := range rc.allocs(t, dep) {
				if a.JobVersion == version && a.DesiredStatus == cluster.AllocDesiredRun {
					if h := timesOf(a).healthy; h.IsZero() {
						t.Errorf("%s allocation %s of version %d never healthy", dep, shortID(a.ID), version)
					} else if h.After(depHealthy) {
						depHealthy = h
					}
				}
			}
			for _, a := range rc.allocs(t, job) {
				if a.JobVersion == version && (jobCreated.IsZero() || a.CreateTime.Before(jobCreated)) {
					jobCreated = a.CreateTime
				}
			}
			if jobCreated.IsZero() || !jobCreated.After(depHealthy) {
				t.Errorf("%s %s: its first allocation was created at %s, before %s was healthy at %s",
					job, v, jobCreated.Format("15:04:05.000"), dep, depHealthy.Format("15:04:05.000"))
			} else {
				t.Logf("%s %s: all healthy at %s; %s's first allocation created %v later", dep, v, depHealthy.Format("15:04:05.000"), job, jobCreated.Sub(depHealthy).Round(time.Millisecond))
			}
		}
	}
}

// TestE2ENodeOrderLeaderLast: a group with rollout { order_by =
// "${meta.role}", order = ["follower", "leader"] } over the three nodes
// (node-a is the leader) replaces the followers' allocations first and
// the leader's last, one at a time; `drover job plan` shows that order
// beforehand.
func TestE2ENodeOrderLeaderLast(t *testing.T) {
	rc := startRolloutCluster(t)
	update := `max_parallel     = 1
min_healthy_time = "1s"
health_check     = "checks"
healthy_deadline = "20s"
progress_deadline = "40s"`
	rollout := "rollout {\n  order_by = \"${meta.role}\"\n  order    = [\"follower\", \"leader\"]\n}\n"
	repo := gittest.New(t)
	repo.Commit("vault v1", map[string]string{"vault.hcl": healthJob("vault", 3, "v1", true, update, rollout)})
	if r := rc.reconcileOnce(t, repo.Dir); r.code != 0 {
		t.Fatalf("reconcile v1: want exit 0:\n%s", r)
	}
	before := running(rc.allocs(t, "vault"))
	if len(before) != 3 {
		t.Fatalf("v1: want 3 running allocations:%s", allocsText(rc.allocs(t, "vault")))
	}

	next := healthJob("vault", 3, "v2", true, update, rollout)
	writeFile(t, repo.Dir+"/vault.hcl", next)
	plan := rc.cli(t, repo.Dir, "job", "plan", "vault.hcl")
	idx := strings.Index(plan.stdout, `Rollout order for group "g" (order_by ${meta.role}):`)
	if idx < 0 {
		t.Fatalf("job plan does not show the rollout order:\n%s", plan)
	}
	lines := strings.Split(plan.stdout[idx:], "\n")
	if len(lines) < 4 || !strings.Contains(lines[3], "node-a") || !strings.Contains(lines[3], "leader") ||
		!strings.Contains(lines[1], "follower") || !strings.Contains(lines[2], "follower") {
		t.Errorf("job plan order = %q, want the two followers then node-a (leader)", lines[:min(len(lines), 4)])
	}

	t0 := time.Now()
	repo.Commit("vault v2", map[string]string{"vault.hcl": next})
	if r := rc.reconcileOnce(t, repo.Dir); r.code != 0 {
		t.Fatalf("reconcile v2: want exit 0:\n%s", r)
	}
	rc.deploymentStatus(t, "vault")
	allocs := rc.allocs(t, "vault")
	timeline(t, t0, allocs)
	type stop struct {
		node string
		at   time.Time
	}
	var stops []stop
	for _, a := range allocs {
		if a.JobVersion != 0 {
			continue
		}
		at := timesOf(a).stopped
		if at.IsZero() {
			t.Fatalf("v1 allocation %s on %s was never stopped:%s", shortID(a.ID), a.NodeName, allocsText(allocs))
		}
		stops = append(stops, stop{a.NodeName, at})
	}
	if len(stops) != 3 {
		t.Fatalf("want 3 stopped v1 allocations:%s", allocsText(allocs))
	}
	last := stops[0]
	for _, s := range stops[1:] {
		if s.at.After(last.at) {
			last = s
		}
	}
	if last.node != "node-a" {
		t.Errorf("the last v1 allocation stopped was on %s, want node-a (the leader)", last.node)
	}
	for _, s := range stops {
		t.Logf("v1 allocation on %s stopped at +%v", s.node, s.at.Sub(t0).Round(time.Millisecond))
	}
}
