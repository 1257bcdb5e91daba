package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/server/servertest"
	"github.com/droverhq/drover/state"
)

// TestFailedRecordProvedWrongIsCorrected: a commit recorded failed (as an
// older Drover did on a single allocation's failure) whose deployment
// then succeeded is corrected at the next pass: applied and healthy, with
// what the record said and why it changed.
func TestFailedRecordProvedWrongIsCorrected(t *testing.T) {
	r := gittest.New(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sha := r.Commit("Add web", map[string]string{"jobs/web.hcl": rolloutJob("1000")})
	s := servertest.Single(t, withSource("apps", r.Dir, secret), noHeartbeats)
	c := s.Client
	registerNodes(t, c, 1)
	st := waitSync(t, c, "apps", "the commit", applied(sha))
	if o := st.Commits[0]; o.Health != cluster.HealthProgressing || len(o.Rollouts) != 1 || o.Rollouts[0].ID != "web" {
		t.Fatalf("outcome before the deployment ends = %+v, want progressing with web's rollout", o)
	}
	if d := markDeployment(t, c, 0, true); d.Status != cluster.DeploymentSuccessful {
		t.Fatalf("deployment: %s (%s)", d.Status, d.StatusDescription)
	}
	waitSync(t, c, "apps", "the rollout recorded healthy", func(st *cluster.SyncStatus) bool {
		return len(st.Commits) > 0 && st.Commits[0].Health == cluster.HealthHealthy
	})

	// Write the wrong record, as the old rule did.
	prev := s.State().Store().Snapshot().SyncStatus("apps")
	wrong := *prev
	wrong.Commits = append([]cluster.CommitOutcome{{Commit: sha, Subject: "Add web", Outcome: cluster.CommitFailed, Time: time.Now(),
		Errors: []string{"job web: allocation 1234 (web.g[0]) failed"}}}, prev.Commits...)
	check := prev.ModifyIndex
	if _, _, err := s.State().Apply(ctxT(t), state.MsgSyncStatusUpsert, &state.SyncStatusRequest{Status: &wrong, Now: time.Now(), CheckIndex: &check}); err != nil {
		t.Fatal(err)
	}
	kick(t, s, "apps", []byte(`{}`), "s3cret")
	st = waitSync(t, c, "apps", "the record corrected", func(st *cluster.SyncStatus) bool {
		return len(st.Commits) > 0 && st.Commits[0].Corrected != ""
	})
	o := st.Commits[0]
	if o.Outcome != cluster.CommitApplied || o.Health != cluster.HealthHealthy ||
		!strings.Contains(o.Corrected, "allocation 1234 (web.g[0]) failed") || !strings.Contains(o.Corrected, "deployment successful") {
		t.Fatalf("corrected outcome = %+v", o)
	}
	if v := versions(t, c, "web"); v != 1 {
		t.Errorf("web has %d versions, want 1: a correction submits nothing", v)
	}
}

// TestRolloutFollowedAcrossRestart: a commit's rollout recorded as
// progressing is followed on by the server after a restart, and recorded
// healthy when its deployment succeeds.
func TestRolloutFollowedAcrossRestart(t *testing.T) {
	r := gittest.New(t)
	sha := r.Commit("Add web", map[string]string{"jobs/web.hcl": rolloutJob("1000")})
	s := servertest.Single(t, withSource("apps", r.Dir, ""), noHeartbeats)
	registerNodes(t, s.Client, 1)
	waitSync(t, s.Client, "apps", "the commit", applied(sha))
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	s2 := servertest.Start(t, s.Config)
	servertest.WaitFor(t, "the restarted server to serve", func() bool {
		_, _, err := s2.Client.Sync().Info(ctxT(t), "apps", nil)
		return err == nil
	})
	c := s2.Client
	registerNodes(t, c, 1)
	if st := waitSync(t, c, "apps", "the status after the restart", applied(sha)); st.Commits[0].Health != cluster.HealthProgressing {
		t.Fatalf("outcome = %+v, want progressing", st.Commits[0])
	}
	if d := markDeployment(t, c, 0, true); d.Status != cluster.DeploymentSuccessful {
		t.Fatalf("deployment: %s (%s)", d.Status, d.StatusDescription)
	}
	waitSync(t, c, "apps", "the rollout recorded healthy after the restart", func(st *cluster.SyncStatus) bool {
		return len(st.Commits) > 0 && st.Commits[0].Commit == sha && st.Commits[0].Health == cluster.HealthHealthy
	})
}
