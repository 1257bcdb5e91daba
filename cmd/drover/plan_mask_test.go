package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/diff"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/reconciler"
	"github.com/droverhq/drover/render"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// maskJob is a job whose env holds a password in a URL, a secret-looking
// key, a key only the repository's sensitive list names, and a plain one.
func maskJob(dsn, token, cache, level string) string {
	return fmt.Sprintf(`job "web" {
  datacenters = ["dc1"]
  group "web" {
    task "server" {
      driver = "exec"
      env {
        DATABASE_URL = %q
        API_TOKEN    = %q
        CACHE_ADDR   = %q
        LOG_LEVEL    = %q
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
`, dsn, token, cache, level)
}

// Every value of maskJob that must never appear in a plan.
var maskSecrets = []string{"pw-one", "pw-two", "tok-one", "tok-two", "cache-one", "cache-two"}

const maskRepoConfig = `sensitive = ["*_ADDR"]` + "\n"

// maskRepo commits maskJob's first version on main and its second on the
// branch change, which stays checked out.
func maskRepo(t *testing.T) (dir, path string) {
	dir, git := gitRepo(t)
	path = filepath.Join(dir, "web.nomad.hcl")
	writeFile(t, filepath.Join(dir, "drover.hcl"), maskRepoConfig)
	writeFile(t, path, maskJob("postgres://app:pw-one@db/x", "tok-one", "cache-one:6379", "info"))
	git("add", "-A")
	git("commit", "-q", "-m", "web")
	git("checkout", "-q", "-b", "change")
	writeFile(t, path, maskJob("postgres://app:pw-two@db/x", "tok-two", "cache-two:6379", "debug"))
	git("add", "-A")
	git("commit", "-q", "-m", "rotate web's credentials")
	return dir, path
}

// runCmd runs drover in-process and returns stdout; want is the exit code.
func runCmd(t *testing.T, want int, args ...string) string {
	t.Helper()
	var c capture
	if code := run(context.Background(), args, c.stdio()); code != want {
		t.Fatalf("drover %s: exit %d, want %d\nstderr: %s", strings.Join(args, " "), code, want, c.err.String())
	}
	for _, s := range maskSecrets {
		if strings.Contains(c.out.String()+c.err.String(), s) {
			t.Errorf("drover %s prints the secret %q:\n%s%s", strings.Join(args, " "), s, c.out.String(), c.err.String())
		}
	}
	return c.out.String()
}

// jobsJSON is the jobs part of a JSON plan, the part both plans share
// (their base and head labels differ).
func jobsJSON(t *testing.T, p render.JSONPlan) []byte {
	t.Helper()
	b, err := json.MarshalIndent(p.Jobs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestJobPlanMasksAsPlan feeds the same change of a job to the offline
// `drover plan` and to the server's plan endpoint (`drover job plan`,
// text and -json), with the job running from a Git source whose
// drover.hcl lists sensitive = ["*_ADDR"]: both mask the same fields,
// by the secret-looking-key rules, the value rule and the repository's
// list, and no secret appears in any output.
func TestJobPlanMasksAsPlan(t *testing.T) {
	dir, path := maskRepo(t)

	var offline render.JSONPlan
	if err := json.Unmarshal([]byte(runCmd(t, exitChanges, "plan", "--repo", dir, "--base", "main", "--head", "change", "-json")), &offline); err != nil {
		t.Fatal(err)
	}
	offlineText := runCmd(t, exitChanges, "plan", "--repo", dir, "--base", "main", "--head", "change")

	s := servertest.Single(t, func(c *server.Config) {
		sc := reconciler.DefaultSourceConfig()
		sc.Name, sc.URL, sc.Branch, sc.PollInterval = "apps", dir, "main", time.Hour
		c.Sources = append(c.Sources, sc)
	})
	ctx := context.Background()
	servertest.WaitFor(t, "the source to apply main", func() bool {
		st, _, err := s.Client.Sync().Info(ctx, "apps", nil)
		return err == nil && st.LastApplied != ""
	})
	if st, _, _ := s.Client.Sync().Info(ctx, "apps", nil); fmt.Sprint(st.Sensitive) != "[*_ADDR]" {
		t.Fatalf("the source's sync status records sensitive = %v, want [*_ADDR]", st.Sensitive)
	}
	addr := "-address=" + s.Client.Address()

	var resp api.JobPlanResponse
	if err := json.Unmarshal([]byte(runCmd(t, exitChanges, "job", "plan", addr, "-json", path)), &resp); err != nil {
		t.Fatal(err)
	}
	got, want := jobsJSON(t, resp.Diff), jobsJSON(t, offline)
	if !bytes.Equal(got, want) {
		t.Errorf("the server's plan and drover plan differ:\n--- job plan -json:\n%s\n--- plan -json:\n%s", got, want)
	}
	checkGolden(t, "job_plan_masked", got)

	// The text plan shows the same masked fields as drover plan's.
	text := runCmd(t, exitChanges, "job", "plan", addr, path)
	for _, line := range strings.Split(offlineText, "\n") {
		if strings.Contains(line, diff.SensitiveValue) || strings.Contains(line, "LOG_LEVEL") {
			if !strings.Contains(text, strings.TrimSpace(line)) {
				t.Errorf("job plan lacks drover plan's line %q:\n%s", strings.TrimSpace(line), text)
			}
		}
	}
	if n := strings.Count(text, diff.SensitiveValue+" => "+diff.SensitiveValue); n != 3 {
		t.Errorf("job plan masks %d fields, want 3 (DATABASE_URL, API_TOKEN, CACHE_ADDR):\n%s", n, text)
	}
}

// TestJobPlanMasksHandSubmitted: a job submitted by hand belongs to no
// repository. With no source on the server, its plan is masked by the
// secret-looking-key rules and the value rule, as drover plan masks with
// an empty sensitive list; with sources, by every source's list.
func TestJobPlanMasksHandSubmitted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "web.nomad.hcl")
	oldSrc := maskJob("postgres://app:pw-one@db/x", "tok-one", "visible-one:6379", "info")
	newSrc := maskJob("postgres://app:pw-two@db/x", "tok-two", "visible-two:6379", "debug")
	parse := func(src string) *jobspec.Job {
		f, diags := jobspec.Parse("web.nomad.hcl", []byte(src), nil)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return f.Job
	}
	ctx := context.Background()

	s := servertest.Single(t)
	if _, err := s.Client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: parse(oldSrc)}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, newSrc)
	var resp api.JobPlanResponse
	if err := json.Unmarshal([]byte(runCmd(t, exitChanges, "job", "plan", "-address="+s.Client.Address(), "-json", path)), &resp); err != nil {
		t.Fatal(err)
	}
	offline := render.ToJSON(diff.Compute(map[string]*jobspec.Job{"web": parse(oldSrc)}, map[string]*jobspec.Job{"web": parse(newSrc)}, diff.Options{}), render.Meta{})
	if got, want := jobsJSON(t, resp.Diff), jobsJSON(t, offline); !bytes.Equal(got, want) {
		t.Errorf("the server's plan and the offline rules differ:\n--- job plan -json:\n%s\n--- offline:\n%s", got, want)
	}
	if b, _ := json.Marshal(resp.Diff); !strings.Contains(string(b), "visible-two") {
		t.Errorf("CACHE_ADDR is masked though no sensitive list names it: %s", b)
	}

	// With a source listing *_ADDR, a hand-submitted job is masked by it
	// too: a value any repository of the cluster calls secret is not shown.
	repoDir, _ := maskRepo(t)
	s2 := servertest.Single(t, func(c *server.Config) {
		sc := reconciler.DefaultSourceConfig()
		sc.Name, sc.URL, sc.Branch, sc.PollInterval = "apps", repoDir, "main", time.Hour
		c.Sources = append(c.Sources, sc)
	})
	servertest.WaitFor(t, "the source to apply main", func() bool {
		st, _, err := s2.Client.Sync().Info(ctx, "apps", nil)
		return err == nil && st.LastApplied != ""
	})
	hand := parse(strings.Replace(oldSrc, `job "web"`, `job "hand"`, 1))
	if _, err := s2.Client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: hand}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, strings.Replace(newSrc, `job "web"`, `job "hand"`, 1))
	out := runCmd(t, exitChanges, "job", "plan", "-address="+s2.Client.Address(), "-json", path)
	if strings.Contains(out, "visible-") {
		t.Errorf("CACHE_ADDR of a hand-submitted job is shown though a source lists *_ADDR:\n%s", out)
	}
}
