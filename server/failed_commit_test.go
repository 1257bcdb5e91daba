package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/server/servertest"
)

// rolloutJob is a service job whose health an operator marks (manual),
// with auto_revert; version tells the commits apart.
func rolloutJob(version string) string {
	return fmt.Sprintf(`job "web" {
  datacenters = ["dc1"]
  update {
    max_parallel     = 1
    health_check     = "manual"
    min_healthy_time = "0s"
    auto_revert      = true
  }
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = [%q]
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

// markDeployment is markJob for the job web.
func markDeployment(t *testing.T, c *api.Client, version uint64, healthy bool) *cluster.Deployment {
	t.Helper()
	return markJob(t, c, "web", version, healthy)
}

// TestFailedCommitIsNotRetried: a commit whose deployment fails (and auto-
// reverts) is recorded as failed in the sync status with the reason; a
// further pass submits nothing; the next commit deploys normally.
func TestFailedCommitIsNotRetried(t *testing.T) {
	r := gittest.New(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	first := r.Commit("Add web", map[string]string{"jobs/web.hcl": rolloutJob("1000")})
	s := servertest.Single(t, withSource("apps", r.Dir, secret), noHeartbeats)
	c := s.Client
	registerNodes(t, c, 1)
	waitSync(t, c, "apps", "the first commit", applied(first))
	if d := markDeployment(t, c, 0, true); d.Status != cluster.DeploymentSuccessful {
		t.Fatalf("first deployment: %s (%s)", d.Status, d.StatusDescription)
	}

	bad := r.Commit("Break web", map[string]string{"jobs/web.hcl": rolloutJob("2000")})
	waitSync(t, c, "apps", "the bad commit", applied(bad))
	d := markDeployment(t, c, 1, false)
	if d.Status != cluster.DeploymentFailed || d.StatusDescription == "" {
		t.Fatalf("bad deployment: %s (%s)", d.Status, d.StatusDescription)
	}
	st := waitSync(t, c, "apps", "the bad commit recorded as failed", outcome(bad, cluster.CommitFailed))
	// The reason names the job and carries the deployment's own, which
	// `drover deployment status` shows as its Description.
	if errs := strings.Join(st.Commits[0].Errors, "\n"); !strings.Contains(errs, "job web: deployment") || !strings.Contains(errs, d.StatusDescription) {
		t.Errorf("failure reason = %q, want it to name job web and say %q", errs, d.StatusDescription)
	}
	if st.Commits[0].Subject != "Break web" {
		t.Errorf("subject = %q", st.Commits[0].Subject)
	}
	servertest.WaitFor(t, "the revert to the first commit's spec", func() bool {
		j := job(t, c, "web")
		return j.Version == 2 && j.Source != nil && j.Source.Commit == first
	})
	// The revert rolls out in a deployment of its own (manual health
	// here): `drover job status` then shows the job healthy on the
	// reverted version, not a failed latest deployment.
	if d := markDeployment(t, c, 2, true); d.Status != cluster.DeploymentSuccessful {
		t.Errorf("deployment of the reverted version: %s (%s), want successful", d.Status, d.StatusDescription)
	}

	// A further pass (kicked, and seen through the unmanaged job it
	// lists) submits nothing: the failed commit is not retried.
	n := versions(t, c, "web")
	if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("manual", 1, ""))}); err != nil {
		t.Fatal(err)
	}
	kick(t, s, "apps", []byte(`{}`), "s3cret")
	st = waitSync(t, c, "apps", "a pass over the failed commit", func(st *cluster.SyncStatus) bool {
		return slices.Contains(st.Unmanaged, "manual")
	})
	kick(t, s, "apps", []byte(`{}`), "s3cret")
	if v := versions(t, c, "web"); v != n {
		t.Errorf("web has %d versions, want %d: the failed commit was resubmitted", v, n)
	}
	if j := job(t, c, "web"); j.Source == nil || j.Source.Commit != first {
		t.Errorf("web source = %+v, want the first commit's (reverted)", j.Source)
	}
	if o := st.Commits[0]; o.Commit != bad || o.Outcome != cluster.CommitFailed {
		t.Errorf("newest outcome = %+v, want %s failed", o, bad)
	}

	// The next commit deploys normally.
	fix := r.Commit("Fix web", map[string]string{"jobs/web.hcl": rolloutJob("3000")})
	st = waitSync(t, c, "apps", "the fix", applied(fix))
	if st.Commits[0].Commit != fix || st.Commits[0].Outcome != cluster.CommitApplied {
		t.Errorf("newest outcome = %+v", st.Commits[0])
	}
	j := job(t, c, "web")
	if j.Source == nil || j.Source.Commit != fix || j.Spec.Groups[0].Tasks[0].Config["args"].([]any)[0] != "3000" {
		t.Fatalf("web after the fix: version %d source %+v", j.Version, j.Source)
	}
	if d := markDeployment(t, c, j.Version, true); d.Status != cluster.DeploymentSuccessful {
		t.Fatalf("fix deployment: %s (%s)", d.Status, d.StatusDescription)
	}
	if v := versions(t, c, "web"); v != n+1 {
		t.Errorf("web has %d versions, want %d", v, n+1)
	}
}
