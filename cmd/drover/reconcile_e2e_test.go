package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
)

// rawJob is a raw_exec service job running command.
func rawJob(id string, count int, command string) string {
	return fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  group "g" {
    count = %d
    task "t" {
      driver = "raw_exec"
      config {
        command = %q
        args    = ["1000"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
`, id, count, command)
}

func waitApplied(t *testing.T, c *api.Client, sha string) *cluster.SyncStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), agentWait)
	defer cancel()
	var index uint64
	for {
		st, meta, err := c.Sync().Info(ctx, "dev", &api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second})
		if err != nil {
			t.Fatalf("waiting for %s to be applied: %v", shortSHA(sha), err)
		}
		if st.LastApplied == sha || len(st.Commits) > 0 && st.Commits[0].Commit == sha {
			return st
		}
		index = meta.LastIndex
	}
}

// TestGitOpsLoopAndReconcileOnce is the acceptance walk-through: drover
// dev --repo deploys every commit (the newcomer's loop), history and sync
// status show what happened, and reconcile --once exits 2/0/0/3.
func TestGitOpsLoopAndReconcileOnce(t *testing.T) {
	r := gittest.New(t)
	first := r.Commit("Add web", map[string]string{"web.hcl": rawJob("web", 1, "/bin/sleep")})
	dev := startDevCluster(t, "-repo", r.Dir)
	c := dev.client
	waitApplied(t, c, first)
	cli := func(dir string, args ...string) result {
		t.Helper()
		return dev.cli(t, dir, args...)
	}

	// Edit, commit: the new allocations run.
	start := time.Now()
	scale := r.Commit("Scale web to 2", map[string]string{"web.hcl": rawJob("web", 2, "/bin/sleep")})
	followAllocs(t, c, "web", "two running allocations", func(as []*cluster.Allocation) bool {
		n := 0
		for _, a := range running(as) {
			if a.JobVersion == 1 {
				n++
			}
		}
		return n == 2
	})
	t.Logf("commit → allocations running: %v", time.Since(start))
	if res := cli(r.Dir, "history", "web"); res.code != 0 || !strings.Contains(res.stdout, shortSHA(scale)) || !strings.Contains(res.stdout, "Scale web to 2") {
		t.Errorf("history web does not show the commit:\n%s", res)
	}
	if res := cli(r.Dir, "job", "status", "web"); !strings.Contains(res.stdout, shortSHA(scale)) {
		t.Errorf("job status does not show the commit:\n%s", res)
	}

	// A syntax error is rejected with its position; the jobs keep running.
	broken := r.Commit("Break web", map[string]string{"web.hcl": "job \"web\" {\n  group \"g\" {\n    count = = 3\n"})
	waitApplied(t, c, broken)
	if res := cli(r.Dir, "sync", "status"); !strings.Contains(res.stdout, "web.hcl:3:13") || !strings.Contains(res.stdout, "rejected") {
		t.Errorf("sync status does not show web.hcl:3:13:\n%s", res)
	}
	if j, _, err := c.Jobs().Info(context.Background(), "web", nil); err != nil || j.Source.Commit != scale {
		t.Errorf("web after the broken commit: %v %+v", err, j)
	}

	// reconcile --once, from another repository, as CI would.
	ci := gittest.New(t)
	ci.Commit("Add batchy", map[string]string{"sleeper.hcl": rawJob("sleeper", 2, "/bin/sleep")})
	once := func(extra ...string) result {
		return cli(ci.Dir, append([]string{"reconcile", "--once", "--repo", ".", "--min-healthy", "1s", "--timeout", "60s"}, extra...)...)
	}
	if res := once("--dry-run"); res.code != 2 || !strings.Contains(res.stdout, "1 to create") {
		t.Errorf("dry-run with changes: want exit 2 and a plan:\n%s", res)
	}
	if res := once(); res.code != 0 || !strings.Contains(res.stdout, "The rollout is healthy.\n") {
		t.Errorf("apply: want exit 0 after a healthy rollout (one job: \"The rollout is healthy.\"):\n%s", res)
	}
	if res := once("--dry-run"); res.code != 0 {
		t.Errorf("dry-run when the cluster matches: want exit 0:\n%s", res)
	}
	ci.Commit("Crash", map[string]string{"sleeper.hcl": rawJob("sleeper", 2, "/bin/false")})
	if res := once(); res.code != 3 || !strings.Contains(res.stdout, "Rollout failed") {
		t.Errorf("a crashing task: want exit 3:\n%s", res)
	}
	j, _, err := c.Jobs().Info(context.Background(), "sleeper", nil)
	if err != nil || j.Source == nil || j.Source.Name != "ci" || j.Source.Subject != "Crash" {
		t.Errorf("sleeper's provenance: %v %+v", err, j)
	}
}
