package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
)

// syncJob is a service job of two healthsrv instances whose task first
// runs a shell guard: with failOnce, each commit's first start fails
// (exit 1) and leaves a marker so that the next one runs; with needFix,
// every start fails until the file fix exists (a fix applied by hand).
// Tasks are never restarted in place (the allocation fails), a failed
// allocation is rescheduled twice at most, and the deployment has a
// progress deadline and auto_revert, as a Nomad user would write it.
// canary adds one canary that waits for `drover deployment promote`.
// The task is raw_exec, which drover dev enables: its guard reads and
// writes files of the test's dir, and healthsrv is built outside exec's
// chroot.
func syncJob(version, dir string, failOnce, needFix, canary bool) string {
	guard := ""
	switch {
	case failOnce:
		m := filepath.Join(dir, "failed-once-"+version)
		guard = fmt.Sprintf("if [ ! -e %s ]; then touch %s; echo failing once >&2; exit 1; fi; ", m, m)
	case needFix:
		guard = fmt.Sprintf("if [ ! -e %s ]; then echo missing %s >&2; exit 1; fi; ", filepath.Join(dir, "fix"), filepath.Join(dir, "fix"))
	}
	canaryLine := ""
	if canary {
		canaryLine = "\n      canary           = 1"
	}
	return fmt.Sprintf(`job "web" {
  datacenters = ["dc1"]
  group "g" {
    count = 2
    network {
      port "http" {}
    }
    update {
      max_parallel      = 1
      health_check      = "task_states"
      min_healthy_time  = "1s"
      healthy_deadline  = "10s"
      progress_deadline = "15s"
      auto_revert       = true%s
    }
    restart {
      attempts = 0
      mode     = "fail"
    }
    reschedule {
      attempts       = 2
      interval       = "1h"
      delay          = "1s"
      delay_function = "constant"
      unlimited      = false
    }
    task "srv" {
      driver = "raw_exec"
      env {
        VERSION = %q
      }
      config {
        command = "/bin/sh"
        args    = ["-c", %q]
      }
      resources {
        cpu    = 20
        memory = 32
      }
    }
  }
}
`, canaryLine, version, guard+"exec "+healthsrv.bin+" -pidfile ${NOMAD_ALLOC_DIR}/healthsrv.pid")
}

// TestE2ESyncOutcomeFollowsCluster drives `drover dev --repo` with
// commits and checks that `drover sync status`, `sync wait`, `sync
// retry` and `history` say what the cluster did, with their exit codes:
//   - a commit whose first new allocation fails once and is rescheduled
//     ends applied and healthy (not failed on the first failure);
//   - a commit whose deployment really fails ends failed (exit 3), and
//     after a fix applied by hand `drover sync retry` ends healthy with
//     the retry in history;
//   - a canary waiting for promotion is rolling out (exit 2), healthy
//     once promoted; an invalid commit is rejected (exit 3).
func TestE2ESyncOutcomeFollowsCluster(t *testing.T) {
	gittest.RequireGit(t)
	buildHealthsrv(t)
	scratch := t.TempDir()
	r := gittest.New(t)
	r.Commit("Add web", map[string]string{"web.nomad.hcl": syncJob("1", scratch, false, false, false)})

	dev := startDevCluster(t, "-repo", r.Dir)
	c := dev.client
	rc := &rolloutCluster{Addr: "http://" + dev.addr, Client: c, Env: dev.env}
	t.Cleanup(rc.stopTasks(t))
	cli := func(args ...string) result { t.Helper(); return rc.cli(t, scratch, args...) }
	expect := func(res result, code int, want ...string) {
		t.Helper()
		if res.code != code {
			t.Fatalf("exit %d, want %d:\n%s", res.code, code, res)
		}
		for _, w := range want {
			if !strings.Contains(res.stdout, w) {
				t.Fatalf("output lacks %q:\n%s", w, res)
			}
		}
	}

	expect(cli("sync", "wait", "dev", "-timeout", "2m"), 0, "dev: in sync")
	expect(cli("sync", "status", "dev"), 0, "in sync", "applied, healthy")

	// 1. The first new allocation fails once; its reschedule runs.
	flaky := r.Commit("Flaky start", map[string]string{"web.nomad.hcl": syncJob("2", scratch, true, false, false)})
	expect(cli("sync", "wait", "dev", "-commit", flaky, "-timeout", "2m"), 0, "dev: in sync")
	st := expect2(t, cli("sync", "status", "dev"), 0)
	if !strings.Contains(st, shortSHA(flaky)+"  applied, healthy") || strings.Contains(st, "failed") {
		t.Fatalf("sync status after a rescheduled failure:\n%s", st)
	}
	failedAllocs := 0
	for _, a := range rc.allocs(t, "web") {
		if a.JobVersion == 1 && a.ClientStatus == cluster.AllocClientFailed {
			failedAllocs++
		}
	}
	if failedAllocs != 1 {
		t.Fatalf("%d failed allocations of version 1, want 1 (the test must make one fail):\n%s", failedAllocs, allocsText(rc.allocs(t, "web")))
	}
	if d := rc.deployment(t, "web", 1); d.Status != cluster.DeploymentSuccessful {
		t.Fatalf("deployment of version 1: %s (%s)", d.Status, d.StatusDescription)
	}

	// 2. A deployment that really fails: every start fails until a file
	// exists. It is recorded failed (exit 3) and reverted.
	broken := r.Commit("Needs a fix", map[string]string{"web.nomad.hcl": syncJob("3", scratch, false, true, false)})
	expect(cli("sync", "wait", "dev", "-commit", broken, "-timeout", "3m"), 3, "failed: the rollout of "+shortSHA(broken))
	expect(cli("sync", "status", "dev"), 3, "failed: the rollout of "+shortSHA(broken), "drover sync retry dev")
	waitUntil(t, "the revert to version 1's spec", func() bool {
		j, _, err := c.Jobs().Info(t.Context(), "web", nil)
		return err == nil && j.Version >= 3 && j.Source != nil && j.Source.Commit == flaky
	})
	// Nothing to retry on a healthy commit; a failed one retries.
	if res := cli("sync", "retry", "nosuch"); res.code != 1 || !strings.Contains(res.stderr, `no source "nosuch"`) {
		t.Fatalf("retry of an unknown source: %s", res)
	}
	if err := os.WriteFile(filepath.Join(scratch, "fix"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	expect(cli("sync", "retry", "dev"), 0, "Retry 1 of "+shortSHA(broken))
	expect(cli("sync", "wait", "dev", "-timeout", "2m"), 0, "dev: in sync")
	expect(cli("sync", "status", "dev"), 0, shortSHA(broken)+"  applied, healthy (retry 1)", shortSHA(broken)+"  failed")
	if res := cli("sync", "retry", "dev"); res.code != 1 || !strings.Contains(res.stderr, "nothing to retry") {
		t.Fatalf("retry of a healthy commit: %s", res)
	}
	hist := cli("history", "web")
	expect(hist, 0, shortSHA(broken)+" (retry 1)")
	j, _, err := c.Jobs().Info(t.Context(), "web", nil)
	if err != nil || j.Source == nil || j.Source.Commit != broken || j.Source.Retry != 1 {
		t.Fatalf("web after the retry: %+v %v", j, err)
	}

	// 3. A canary that waits for promotion is rolling out, not failed.
	canary := r.Commit("Canary", map[string]string{"web.nomad.hcl": syncJob("4", scratch, false, false, true)})
	var d *cluster.Deployment
	waitUntil(t, "the canary deployment", func() bool {
		j, _, err := c.Jobs().Info(t.Context(), "web", nil)
		if err != nil || j.Source == nil || j.Source.Commit != canary {
			return false
		}
		ds, _, err := c.Deployments().List(t.Context(), &api.QueryOptions{Params: map[string]string{"job": "web"}})
		if err != nil {
			return false
		}
		for _, x := range ds {
			if x.JobVersion == j.Version {
				d = x
			}
		}
		return d != nil && d.TaskGroups["g"] != nil && d.TaskGroups["g"].HealthyAllocs >= 1
	})
	expect(cli("sync", "wait", "dev", "-timeout", "2s"), 2, "not in sync after -timeout 2s")
	expect(cli("sync", "status", "dev"), 2, "rolling out "+shortSHA(canary))
	expect(cli("deployment", "promote", d.ID[:8]), 0)
	expect(cli("sync", "wait", "dev", "-timeout", "2m"), 0, "dev: in sync")

	// 4. An invalid commit is rejected: exit 3 from both.
	bad := r.Commit("Typo", map[string]string{"web.nomad.hcl": strings.Replace(syncJob("5", scratch, false, false, false), "count = 2", "cuont = 2", 1)})
	expect(cli("sync", "wait", "dev", "-commit", bad, "-timeout", "1m"), 3, "rejected: "+shortSHA(bad))
	expect(cli("sync", "status", "dev"), 3, "rejected: "+shortSHA(bad), "cuont")
}

// expect2 checks the exit code and returns stdout.
func expect2(t *testing.T, res result, code int) string {
	t.Helper()
	if res.code != code {
		t.Fatalf("exit %d, want %d:\n%s", res.code, code, res)
	}
	return res.stdout
}
