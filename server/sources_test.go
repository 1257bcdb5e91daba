package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/reconciler"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// withSource configures one source; poll is long so that only fsnotify
// and webhooks trigger passes.
func withSource(name, url, secretFile string) func(*server.Config) {
	return func(c *server.Config) {
		sc := reconciler.DefaultSourceConfig()
		sc.Name, sc.URL, sc.PollInterval, sc.WebhookSecretFile = name, url, time.Hour, secretFile
		c.Sources = append(c.Sources, sc)
	}
}

// waitSync waits, with blocking queries, until the source's status holds.
func waitSync(t *testing.T, c *api.Client, name, what string, cond func(*cluster.SyncStatus) bool) *cluster.SyncStatus {
	t.Helper()
	ctx := ctxT(t)
	var index uint64
	for {
		st, meta, err := c.Sync().Info(ctx, name, &api.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second})
		if err != nil {
			t.Fatalf("waiting for %s: sync status: %v", what, err)
		}
		if cond(st) {
			return st
		}
		index = meta.LastIndex
	}
}

func applied(sha string) func(*cluster.SyncStatus) bool {
	return func(st *cluster.SyncStatus) bool { return st.LastApplied == sha }
}

func outcome(sha, o string) func(*cluster.SyncStatus) bool {
	return func(st *cluster.SyncStatus) bool {
		return len(st.Commits) > 0 && st.Commits[0].Commit == sha && st.Commits[0].Outcome == o
	}
}

func job(t *testing.T, c *api.Client, id string) *cluster.Job {
	t.Helper()
	j, _, err := c.Jobs().Info(ctxT(t), id, nil)
	if err != nil {
		t.Fatalf("job %s: %v", id, err)
	}
	return j
}

func versions(t *testing.T, c *api.Client, id string) int {
	t.Helper()
	vs, _, err := c.Jobs().Versions(ctxT(t), id, nil)
	if err != nil {
		t.Fatalf("versions of %s: %v", id, err)
	}
	return len(vs)
}

// TestSourceLifecycle walks a local repository through the acceptance
// cases: first sync with provenance, an invalid commit rejected with
// file:line:col, the next good commit, a deleted file pruned, a mass
// prune refused then allowed, idempotence, and a server restart.
func TestSourceLifecycle(t *testing.T) {
	r := gittest.New(t)
	first := r.Commit("Add web, api and db", map[string]string{
		"drover.hcl":   `paths = ["jobs/**"]` + "\n",
		"jobs/web.hcl": gittest.Job("web", 1),
		"jobs/api.hcl": gittest.Job("api", 1),
		"jobs/db.hcl":  gittest.Job("db", 1),
	})
	s := servertest.Single(t, withSource("apps", r.Dir, ""))
	c := s.Client
	waitSync(t, c, "apps", "the first commit", applied(first))

	web := job(t, c, "web")
	src := web.Source
	if src == nil || src.Name != "apps" || src.Commit != first || src.Author != "Ada Author" || src.AuthorEmail != "ada@example.com" ||
		src.Subject != "Add web, api and db" || src.Path != "jobs/web.hcl" || src.Ref != "main" || src.CommitTime.IsZero() || src.Repo != r.Dir {
		t.Fatalf("provenance = %+v", src)
	}

	// An invalid file: nothing of the commit applies.
	bad := r.Commit("Break web", map[string]string{
		"jobs/web.hcl": strings.Replace(gittest.Job("web", 5), "count = 5", "count = = 5", 1),
		"jobs/api.hcl": gittest.Job("api", 4),
	})
	st := waitSync(t, c, "apps", "the invalid commit", outcome(bad, cluster.CommitRejected))
	if st.LastApplied != first || st.LastSeen != bad {
		t.Errorf("after a rejected commit: last applied %s, last seen %s", st.LastApplied, st.LastSeen)
	}
	if errs := strings.Join(st.Commits[0].Errors, "\n"); !strings.Contains(errs, "jobs/web.hcl:4:13: ") {
		t.Errorf("rejection errors do not point at jobs/web.hcl:4:13:\n%s", errs)
	}
	if j := job(t, c, "api"); j.Spec.Groups[0].Count != 1 || j.Source.Commit != first {
		t.Errorf("api changed by a rejected commit: count %d from %s", j.Spec.Groups[0].Count, j.Source.Commit)
	}

	// The fix deploys.
	good := r.Commit("Fix web", map[string]string{"jobs/web.hcl": gittest.Job("web", 2)})
	waitSync(t, c, "apps", "the fixed commit", applied(good))
	if j := job(t, c, "web"); j.Spec.Groups[0].Count != 2 || j.Source.Commit != good {
		t.Errorf("web = count %d from %s", j.Spec.Groups[0].Count, j.Source.Commit)
	}
	if j := job(t, c, "api"); j.Spec.Groups[0].Count != 4 {
		t.Errorf("api count = %d: the good commit's other change did not deploy", j.Spec.Groups[0].Count)
	}
	dbVersions := versions(t, c, "db")

	// Deleting a file stops the job, with the deleting commit as its source.
	r.Remove("jobs/db.hcl")
	del := r.Commit("Remove db", nil)
	waitSync(t, c, "apps", "the deletion", applied(del))
	if j := job(t, c, "db"); !j.Stop || j.Source == nil || j.Source.Commit != del || j.Source.Path != "jobs/db.hcl" {
		t.Errorf("db after its file was removed: stop=%v source=%+v", j.Stop, j.Source)
	}
	if v := versions(t, c, "db"); v != dbVersions+1 {
		t.Errorf("db has %d versions, want %d", v, dbVersions+1)
	}

	// Removing every file is refused...
	r.Remove("jobs")
	wipe := r.Commit("Remove everything", nil)
	st = waitSync(t, c, "apps", "the mass prune", outcome(wipe, cluster.CommitRejected))
	if !strings.Contains(st.Commits[0].Errors[0], "allow_mass_prune") || job(t, c, "web").Stop {
		t.Errorf("mass prune: %v; web stopped: %v", st.Commits[0].Errors, job(t, c, "web").Stop)
	}
	// ...unless allowed.
	allowed := r.Commit("Really remove everything", map[string]string{"drover.hcl": "paths = [\"jobs/**\"]\nallow_mass_prune = true\n"})
	waitSync(t, c, "apps", "the allowed mass prune", applied(allowed))
	if !job(t, c, "web").Stop || !job(t, c, "api").Stop {
		t.Error("allowed mass prune did not stop web and api")
	}

	// Back again; then a restart: the same commit is not applied twice.
	back := r.Commit("Bring web back", map[string]string{"jobs/web.hcl": gittest.Job("web", 3)})
	waitSync(t, c, "apps", "web back", applied(back))
	webVersions := versions(t, c, "web")
	cfg := s.Config
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	s2 := servertest.Start(t, cfg)
	servertest.WaitFor(t, "the restarted server to lead", func() bool { return servertest.Leader([]*servertest.Server{s2}) != nil })
	// A commit made while the server was down is applied on restart.
	newest := r.Commit("While down", map[string]string{"jobs/api.hcl": gittest.Job("api", 1)})
	waitSync(t, s2.Client, "apps", "the commit made during the restart", applied(newest))
	if v := versions(t, s2.Client, "web"); v != webVersions {
		t.Errorf("web has %d versions after the restart, want %d: a commit was applied twice", v, webVersions)
	}
}

// TestDriftAndUnmanaged changes a managed job by hand and checks that the
// next pass reports and heals it, and that an unmanaged job is listed but
// never touched.
func TestDriftAndUnmanaged(t *testing.T) {
	r := gittest.New(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	first := r.Commit("Add web", map[string]string{"jobs/web.hcl": gittest.Job("web", 1)})
	s := servertest.Single(t, withSource("apps", r.Dir, secret))
	c := s.Client
	waitSync(t, c, "apps", "the first commit", applied(first))

	// By hand: change web, add an unmanaged job.
	for _, spec := range []string{webJob("web", 7, ""), webJob("manual", 1, "")} {
		if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, spec)}); err != nil {
			t.Fatal(err)
		}
	}
	kick(t, s, "apps", []byte(`{}`), "s3cret")
	st := waitSync(t, c, "apps", "drift to be healed", func(st *cluster.SyncStatus) bool { return len(st.Drift) > 0 })
	if d := st.Drift[0]; d.JobID != "web" || !d.Healed || d.Commit != first || !strings.Contains(d.Detail, "outside Git") {
		t.Errorf("drift = %+v", d)
	}
	if len(st.Unmanaged) != 1 || st.Unmanaged[0] != "manual" {
		t.Errorf("unmanaged = %v", st.Unmanaged)
	}
	if j := job(t, c, "web"); j.Spec.Groups[0].Count != 1 || j.Source == nil || j.Source.Commit != first {
		t.Errorf("web not healed: count %d source %+v", j.Spec.Groups[0].Count, j.Source)
	}
	if j := job(t, c, "manual"); j.Stop || j.Source != nil {
		t.Errorf("the unmanaged job was touched: %+v", j)
	}
	// Idempotent: another pass submits nothing.
	n := versions(t, c, "web")
	kick(t, s, "apps", []byte(`{"ref":"refs/heads/main","after":"`+first+`"}`), "s3cret")
	r.Commit("Unrelated", map[string]string{"README.md": "hi\n"})
	waitSync(t, c, "apps", "the unrelated commit", func(st *cluster.SyncStatus) bool { return st.LastApplied == r.Head() })
	if v := versions(t, c, "web"); v != n {
		t.Errorf("web has %d versions, want %d: an unchanged job was resubmitted", v, n)
	}
}

// TestFSNotifyLatency: with polling off (an hour), a commit is applied
// through the ref watcher alone, and quickly.
func TestFSNotifyLatency(t *testing.T) {
	r := gittest.New(t)
	first := r.Commit("Add web", map[string]string{"jobs/web.hcl": gittest.Job("web", 1)})
	s := servertest.Single(t, withSource("apps", r.Dir, ""))
	waitSync(t, s.Client, "apps", "the first commit", applied(first))
	for i := 2; i < 5; i++ {
		start := time.Now()
		sha := r.Commit("Scale web", map[string]string{"jobs/web.hcl": gittest.Job("web", i)})
		waitSync(t, s.Client, "apps", "the commit", applied(sha))
		t.Logf("commit → applied via fsnotify: %v", time.Since(start))
	}
}
