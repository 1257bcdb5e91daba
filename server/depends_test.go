package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/server/servertest"
)

// orderedJob is a service job with manual health: the test decides when
// its deployment succeeds or fails.
func orderedJob(id, version string) string {
	return strings.Replace(rolloutJob(version), `job "web"`, fmt.Sprintf("job %q", id), 1)
}

const chainConfig = `job "api" {
  depends_on = ["postgres"]
}

job "web" {
  depends_on = ["api"]
}
`

// markJob waits for the deployment of the job version, marks its
// allocations healthy or not, and returns it once it is done.
func markJob(t *testing.T, c *api.Client, jobID string, version uint64, healthy bool) *cluster.Deployment {
	t.Helper()
	servertest.WaitFor(t, fmt.Sprintf("a deployment of %s version %d with its allocation", jobID, version), func() bool {
		ds, _, err := c.Jobs().Deployments(ctxT(t), jobID, nil)
		if err != nil {
			return false
		}
		var d *cluster.Deployment
		for _, x := range ds {
			if x.JobVersion == version {
				d = x
			}
		}
		if d == nil {
			return false
		}
		allocs, _, err := c.Jobs().Allocations(ctxT(t), jobID, nil)
		if err != nil {
			return false
		}
		var ids []string
		for _, a := range allocs {
			if a.DeploymentID == d.ID && !a.Terminal() {
				ids = append(ids, a.ID)
			}
		}
		if len(ids) == 0 {
			return false
		}
		req := &api.DeploymentAllocHealthRequest{Healthy: ids}
		if !healthy {
			req = &api.DeploymentAllocHealthRequest{Unhealthy: ids}
		}
		_, err = c.Deployments().SetAllocHealth(ctxT(t), d.ID, req)
		return err == nil
	})
	return waitDeploymentDone(t, c, jobID, version)
}

// jobVersion is the job's latest version, or -1 when it does not exist.
func jobVersion(t *testing.T, c *api.Client, id string) int {
	t.Helper()
	j, _, err := c.Jobs().Info(ctxT(t), id, nil)
	if api.IsNotFound(err) {
		return -1
	}
	if err != nil {
		t.Fatalf("job %s: %v", id, err)
	}
	return int(j.Version)
}

func waiting(sha string, prefix ...string) func(*cluster.SyncStatus) bool {
	return func(st *cluster.SyncStatus) bool {
		if len(st.Commits) == 0 || st.Commits[0].Commit != sha || st.Commits[0].Outcome != cluster.CommitRollingOut {
			return false
		}
		w := strings.Join(st.Commits[0].Waiting, "\n")
		for _, p := range prefix {
			if !strings.Contains(w, p) {
				return false
			}
		}
		return true
	}
}

// TestDependsOnRollsOutInWaves: one commit creates postgres, api and web
// (web depends on api, api on postgres). Each job is submitted only once
// the one it depends on has a successful deployment, and the sync status
// says who waits for what meanwhile. A later commit whose postgres
// deployment fails never rolls out api or web and is recorded as failed.
func TestDependsOnRollsOutInWaves(t *testing.T) {
	r := gittest.New(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files := func(v string) map[string]string {
		return map[string]string{
			"drover.hcl":        chainConfig,
			"jobs/postgres.hcl": orderedJob("postgres", v),
			"jobs/api.hcl":      orderedJob("api", v),
			"jobs/web.hcl":      orderedJob("web", v),
		}
	}
	first := r.Commit("Add postgres, api and web", files("1000"))
	s := servertest.Single(t, withSource("apps", r.Dir, secret), noHeartbeats)
	c := s.Client
	registerNodes(t, c, 1)

	st := waitSync(t, c, "apps", "wave 1 submitted", waiting(first, "api waits for postgres (deployment", "web waits for api (in this commit, not started yet)"))
	t.Logf("sync status while postgres rolls out:\n  %s", strings.Join(st.Commits[0].Waiting, "\n  "))
	if jobVersion(t, c, "api") != -1 || jobVersion(t, c, "web") != -1 {
		t.Fatal("api or web was submitted before postgres's deployment succeeded")
	}
	if st.LastApplied == first {
		t.Error("the commit is recorded as applied while jobs still wait")
	}
	markJob(t, c, "postgres", 0, true)

	waitSync(t, c, "apps", "wave 2 submitted", waiting(first, "web waits for api (deployment"))
	if jobVersion(t, c, "web") != -1 {
		t.Fatal("web was submitted before api's deployment succeeded")
	}
	markJob(t, c, "api", 0, true)

	st = waitSync(t, c, "apps", "wave 3 submitted", applied(first))
	if o := st.Commits[0]; o.Commit != first || o.Outcome != cluster.CommitApplied || len(o.Waiting) != 0 {
		t.Errorf("newest outcome = %+v, want the commit applied", o)
	}
	if len(st.Commits) != 1 {
		t.Errorf("outcomes = %+v, want one entry for the commit (the rolling_out one replaced)", st.Commits)
	}
	markJob(t, c, "web", 0, true)

	// A commit that changes all three, whose postgres fails.
	bad := r.Commit("Bump everything", files("2000"))
	waitSync(t, c, "apps", "the bump's wave 1", waiting(bad, "api waits for postgres"))
	if d := markJob(t, c, "postgres", 1, false); d.Status != cluster.DeploymentFailed {
		t.Fatalf("postgres deployment: %s", d.Status)
	}
	st = waitSync(t, c, "apps", "the bump recorded as failed, with the jobs it kept from rolling out", func(st *cluster.SyncStatus) bool {
		errs := strings.Join(st.Commits[0].Errors, "\n")
		return outcome(bad, cluster.CommitFailed)(st) && strings.Contains(errs, "job postgres: deployment") &&
			strings.Contains(errs, "api not rolled out: dependency postgres failed: deployment") &&
			strings.Contains(errs, "web not rolled out: dependency postgres failed")
	})
	t.Logf("failed commit reasons:\n  %s", strings.Join(st.Commits[0].Errors, "\n  "))
	for _, id := range []string{"api", "web"} {
		if v := jobVersion(t, c, id); v != 0 {
			t.Errorf("%s is at version %d, want 0: a failed dependency must stop its rollout", id, v)
		}
	}
}

// TestWavesDoNotPollTheRemote: while a commit of a remote source rolls
// out in waves, the reconciler re-checks the rollout every second
// without listing the remote's refs each time (a forge would see a
// request a second for the length of the rollout), and still submits the
// next wave as soon as the first is healthy.
func TestWavesDoNotPollTheRemote(t *testing.T) {
	w := gittest.New(t)
	sha := w.Commit("Add postgres and api", map[string]string{
		"drover.hcl":        "job \"api\" {\n  depends_on = [\"postgres\"]\n}\n",
		"jobs/postgres.hcl": orderedJob("postgres", "1000"),
		"jobs/api.hcl":      orderedJob("api", "1000"),
	})
	bare := w.Bare()
	hs := gittest.ServeHTTP(t, filepath.Dir(bare), "", "")
	s := servertest.Single(t, withSource("apps", hs.URL+"/remote.git", ""), noHeartbeats)
	c := s.Client
	registerNodes(t, c, 1)
	waitSync(t, c, "apps", "wave 1 submitted", waiting(sha, "api waits for postgres (deployment"))
	lists := hs.Lists.Load()
	time.Sleep(3500 * time.Millisecond) // three re-checks at least
	if n := hs.Lists.Load() - lists; n > 0 {
		t.Errorf("the remote's refs were listed %d more times while the commit waited", n)
	}
	markJob(t, c, "postgres", 0, true)
	waitSync(t, c, "apps", "wave 2 submitted", applied(sha))
	if jobVersion(t, c, "api") != 0 {
		t.Error("api was not submitted after postgres was healthy")
	}
}
