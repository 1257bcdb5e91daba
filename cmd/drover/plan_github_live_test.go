package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/forge/github/githubtest"
	"github.com/droverhq/drover/reconciler"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// liveJob is a docker service job asking for memory MB.
func liveJob(image string, memory int) string {
	return fmt.Sprintf(`job "web" {
  datacenters = ["dc1"]
  group "frontend" {
    count = 1
    task "nginx" {
      driver = "docker"
      config {
        image = %q
      }
      env {
        API_TOKEN = "s3cr3t-%s"
      }
      resources {
        cpu    = 100
        memory = %d
      }
    }
  }
}
`, image, image, memory)
}

// TestPlanGitHubCommentLive: with -address, --github-comment plans the
// PR's head against the jobs a real in-process server runs for the
// source (not against the PR's base), with the server's scheduler dry run:
// a head that fits gives a success status; a head no node can hold is
// called out in the same comment and fails the status. The base SHA in
// the event is a commit the server never ran, to show it is not used.
func TestPlanGitHubCommentLive(t *testing.T) {
	dir, git := gitRepo(t)
	writeFile(t, filepath.Join(dir, "jobs/web.nomad.hcl"), liveJob("nginx:1.25", 128))
	git("add", "-A")
	git("commit", "-q", "-m", "deployed")
	deployed := revParse(t, dir, "HEAD")

	s := servertest.Single(t, withLocalSource("prod", dir))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := &cluster.Node{ID: "90000000-0000-4000-8000-000000000009", Name: "n9", Datacenter: "dc1",
		Attributes: map[string]string{"kernel.name": "linux"},
		Resources:  cluster.NodeResources{CPU: 4000, MemoryMB: 8192, DiskMB: 50000},
		Drivers:    map[string]cluster.DriverInfo{"docker": {Detected: true, Healthy: true}}}
	if _, err := s.Client.Nodes().Register(ctx, n); err != nil {
		t.Fatal(err)
	}
	// The server deploys the source's main branch: web with nginx:1.25.
	for {
		job, _, err := s.Client.Jobs().Info(ctx, "web", nil)
		if err == nil && job.Source != nil && job.Source.Commit == deployed {
			break
		}
		if err != nil && !api.IsNotFound(err) {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatalf("the server never deployed %s: %v", deployed, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The PR: branched off an older base that the cluster never ran.
	git("checkout", "-q", "-b", "pr")
	writeFile(t, filepath.Join(dir, "jobs/web.nomad.hcl"), liveJob("nginx:1.20", 128))
	git("commit", "-q", "-am", "an old base")
	base := revParse(t, dir, "HEAD")
	writeFile(t, filepath.Join(dir, "jobs/web.nomad.hcl"), liveJob("nginx:1.27", 128))
	git("commit", "-q", "-am", "bump image")
	head := revParse(t, dir, "HEAD")
	git("checkout", "-q", "main")

	gh := githubtest.New(t, ghToken)
	summary := filepath.Join(t.TempDir(), "summary.md")
	env := append(actionsEnv(gh, prEventFile(t, "opened", base, head, false), summary), "DROVER_ADDR=", "DROVER_TOKEN=")
	r := droverEnv(t, dir, env, "plan", "--github-comment", "--repo", dir, "--source", "prod", "-address", s.Client.Address())
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	wantGitHubCalls(t, gh, listCall, createCall, "POST /repos/Codertocat/Hello-World/statuses/"+head)
	cs := gh.Comments("Codertocat", "Hello-World", ghPRNumber)
	if len(cs) != 1 {
		t.Fatalf("%d comments, want 1", len(cs))
	}
	body := cs[0].Body
	for _, want := range []string{"<!-- drover:plan source=prod -->", `+/- Job: "web"`, `"nginx:1.25" => "nginx:1.27"`, "live cluster (" + s.Client.Address() + ")", "Every allocation of the changed jobs can be placed"} {
		if !strings.Contains(body, want) {
			t.Errorf("comment lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "nginx:1.20") {
		t.Errorf("the comment planned against the PR's base, not the cluster:\n%s", body)
	}
	for _, leak := range []string{"s3cr3t", ghToken} {
		if strings.Contains(body, leak) || strings.Contains(r.stdout, leak) || strings.Contains(r.stderr, leak) {
			t.Errorf("output leaks %q", leak)
		}
	}
	if st := gh.Statuses(head); len(st) != 1 || st[0].State != "success" || st[0].Context != "drover/plan" {
		t.Fatalf("statuses = %+v", st)
	}

	// synchronize: a task no node can hold. Same comment, a failed
	// placement called out, a failure status; nothing submitted.
	git("checkout", "-q", "pr")
	writeFile(t, filepath.Join(dir, "jobs/web.nomad.hcl"), liveJob("nginx:1.29", 1<<20))
	git("commit", "-q", "-am", "too big")
	head2 := revParse(t, dir, "HEAD")
	git("checkout", "-q", "main")
	gh.ResetCalls()
	r = droverEnv(t, dir, append(actionsEnv(gh, prEventFile(t, "synchronize", base, head2, false), summary), "DROVER_ADDR="+s.Client.Address(), "DROVER_TOKEN="),
		"plan", "--github-comment", "--repo", dir, "--source", "prod")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	wantGitHubCalls(t, gh, listCall, "PATCH /repos/Codertocat/Hello-World/issues/comments/"+itoa(cs[0].ID), "POST /repos/Codertocat/Hello-World/statuses/"+head2)
	cs = gh.Comments("Codertocat", "Hello-World", ghPRNumber)
	if len(cs) != 1 || !strings.Contains(cs[0].Body, `"nginx:1.25" => "nginx:1.29"`) || !strings.Contains(cs[0].Body, "placement would fail") || !strings.Contains(cs[0].Body, "web/frontend:") {
		t.Fatalf("comment after synchronize:\n%s", cs[0].Body)
	}
	if st := gh.Statuses(head2); len(st) != 1 || st[0].State != "failure" || !strings.Contains(st[0].Description, "would fail") {
		t.Fatalf("statuses = %+v", st)
	}
	job, _, err := s.Client.Jobs().Info(ctx, "web", nil)
	if err != nil || job.Source == nil || job.Source.Commit != deployed {
		t.Fatalf("the plan changed the cluster: %+v, %v", job, err)
	}

	// A server that cannot be reached: an error, nothing posted.
	gh.ResetCalls()
	r = droverEnv(t, dir, append(actionsEnv(gh, prEventFile(t, "synchronize", base, head2, false), summary), "DROVER_ADDR=", "DROVER_TOKEN="),
		"plan", "--github-comment", "--repo", dir, "--source", "prod", "-address", "http://"+freeAddr(t))
	if r.code != 1 {
		t.Fatalf("unreachable server: exit %d\nstderr: %s", r.code, r.stderr)
	}
	wantGitHubCalls(t, gh)
}

// withLocalSource configures a source that follows the repository at dir,
// polling only once an hour: only pushes (fsnotify) start a pass.
func withLocalSource(name, dir string) func(*server.Config) {
	return func(c *server.Config) {
		sc := reconciler.DefaultSourceConfig()
		sc.Name, sc.URL, sc.PollInterval = name, dir, time.Hour
		c.Sources = append(c.Sources, sc)
	}
}
