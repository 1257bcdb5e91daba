package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/agent/allocrunner"
	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

// Live templates (issue 16) against a real server and a real agent:
// the task's templates read variables and the service catalog with
// blocking queries, render again when they change, and apply
// change_mode.

func putVar(t testing.TB, c *api.Client, path string, items map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := c.Variables().Put(ctx, &api.Variable{Path: path, Items: items}, nil); err != nil {
		t.Fatalf("put variable %s: %v", path, err)
	}
}

// waitFileContent polls a rendered file until it holds want.
func waitFileContent(t testing.TB, path, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		b, _ := os.ReadFile(path)
		if string(b) == want {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s = %q after %v, want %q", path, b, within, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hupTask records its pid in alloc/pids and appends a line to
// alloc/hup.txt at each SIGHUP.
const hupTask = `
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo $$ >> $NOMAD_ALLOC_DIR/pids; trap 'echo HUP >> $NOMAD_ALLOC_DIR/hup.txt' HUP; while true; do sleep 0.05; done"]
      }
      resources {
        cpu    = 20
        memory = 32
      }
%s
    }`

func TestTemplateNomadVarRerendersAndSignals(t *testing.T) {
	srv := servertest.Single(t)
	ta := startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	cleanupTasks(t, srv, "livevar")
	putVar(t, srv.Client, "nomad/jobs/livevar", map[string]string{"password": "one", "user": "app"})
	submit(t, srv.Client, `
job "livevar" {
  datacenters = ["dc1"]
  group "g" {`+strings.Replace(hupTask, "%s", `
      template {
        data          = "{{ with nomadVar \"nomad/jobs/livevar\" }}pw={{ .password }} user={{ .user }} all={{ range .Tuples }}{{ .K }}={{ .V }};{{ end }}{{ end }}\nexists={{ nomadVarExists \"nomad/jobs/livevar\" }} other={{ nomadVarExists \"nomad/jobs/nope\" }}\n"
        destination   = "local/app.conf"
        change_mode   = "signal"
        change_signal = "SIGHUP"
      }`, 1)+`
  }
}`)
	allocs := waitAllocs(t, srv.Client, "livevar", "the allocation to run", allStatus(cluster.AllocClientRunning, 1))
	dir := allocDirOf(ta, allocs[0].ID)
	conf := filepath.Join(dir, "t", "local", "app.conf")
	waitFileContent(t, conf, "pw=one user=app all=password=one;user=app;\nexists=true other=false\n", waitTimeout)
	if _, err := os.Stat(filepath.Join(dir, "alloc", "hup.txt")); err == nil {
		t.Fatal("the task was signalled before any change")
	}

	putVar(t, srv.Client, "nomad/jobs/livevar", map[string]string{"password": "two", "user": "app"})
	took := waitFileContent(t, conf, "pw=two user=app all=password=two;user=app;\nexists=true other=false\n", 10*time.Second)
	t.Logf("variable change → file re-rendered in %v", took)
	if got := waitFile(t, filepath.Join(dir, "alloc", "hup.txt")); got != "HUP\n" {
		t.Errorf("hup.txt = %q, want one HUP", got)
	}
	allocs = waitAllocs(t, srv.Client, "livevar", "the Signaling event", func(as []*cluster.Allocation) bool {
		return len(as) == 1 && hasEvent(as[0].TaskStates["t"], allocrunner.EventSignaling, "Template re-rendered: sending SIGHUP")
	})
	if st := allocs[0].TaskStates["t"]; st.Restarts != 0 || st.State != cluster.TaskStateRunning {
		t.Errorf("task restarted or stopped: %s", describeAllocs(allocs))
	}

	// A write that changes nothing the template shows re-renders to
	// the same text: no signal.
	putVar(t, srv.Client, "nomad/jobs/livevar/other", map[string]string{"x": "y"})
	time.Sleep(500 * time.Millisecond)
	if got, _ := os.ReadFile(filepath.Join(dir, "alloc", "hup.txt")); string(got) != "HUP\n" {
		t.Errorf("hup.txt = %q after an unrelated write, want one HUP", got)
	}
}

func TestTemplateMissingVariableBlocksStart(t *testing.T) {
	srv := servertest.Single(t)
	ta := startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	cleanupTasks(t, srv, "missvar")
	submit(t, srv.Client, `
job "missvar" {
  datacenters = ["dc1"]
  group "g" {`+strings.Replace(hupTask, "%s", `
      template {
        data        = "{{ with nomadVar \"nomad/jobs/missvar\" }}db={{ .db }}{{ end }}\nvars={{ range nomadVarList \"nomad/jobs/missvar\" }}{{ . }};{{ end }}\n"
        destination = "local/db.conf"
      }`, 1)+`
  }
}`)
	const want = "Template Missing: nomad.var.block(nomad/jobs/missvar@default)"
	allocs := waitAllocs(t, srv.Client, "missvar", "the Missing event", func(as []*cluster.Allocation) bool {
		return len(as) == 1 && hasEvent(as[0].TaskStates["t"], allocrunner.EventHookMessage, want)
	})
	st := allocs[0].TaskStates["t"]
	if st.State != cluster.TaskStatePending || st.Failed || hasEvent(st, "Started", "") {
		t.Fatalf("task not held pending:\n%s", describeAllocs(allocs))
	}
	putVar(t, srv.Client, "nomad/jobs/missvar", map[string]string{"db": "postgres://x"})
	allocs = waitAllocs(t, srv.Client, "missvar", "the task to start", allStatus(cluster.AllocClientRunning, 1))
	waitFileContent(t, filepath.Join(allocDirOf(ta, allocs[0].ID), "t", "local", "db.conf"), "db=postgres://x\nvars=nomad/jobs/missvar;\n", 10*time.Second)
}

// TestTemplateNomadServiceFollowsScale is the test in one
// process: web's template lists api's instances; scaling api from 2 to 3
// re-renders web's file within a second and sends it SIGHUP.
func TestTemplateNomadServiceFollowsScale(t *testing.T) {
	srv := servertest.Single(t)
	ta := startAgent(t, agentConfig(t, srv, t.TempDir(), "n1"))
	cleanupTasks(t, srv, "web", "api")
	submit(t, srv.Client, strings.Replace(apiJob, "COUNT", "2", 1))
	waitAllocs(t, srv.Client, "api", "api to run", allStatus(cluster.AllocClientRunning, 2))
	submit(t, srv.Client, `
job "web" {
  datacenters = ["dc1"]
  group "g" {`+strings.Replace(hupTask, "%s", `
      template {
        data          = "{{ range nomadService \"api\" }}server {{ .Address }}:{{ .Port }} {{ if .Tags.Contains \"v1\" }}v1{{ end }}\n{{ end }}{{ range nomadService \"v1.api\" }}tagged\n{{ end }}{{ range nomadService \"v2.api\" }}wrong\n{{ end }}{{ range nomadServices }}svc {{ .Name }}\n{{ end }}"
        destination   = "local/upstreams.conf"
        change_mode   = "signal"
        change_signal = "SIGHUP"
      }`, 1)+`
  }
}`)
	webAllocs := waitAllocs(t, srv.Client, "web", "web to run", allStatus(cluster.AllocClientRunning, 1))
	dir := allocDirOf(ta, webAllocs[0].ID)
	conf := filepath.Join(dir, "t", "local", "upstreams.conf")
	countServers := func() int {
		b, _ := os.ReadFile(conf)
		return strings.Count(string(b), "server 127.0.0.1:")
	}
	deadline := time.Now().Add(waitTimeout)
	for countServers() != 2 {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(conf)
			t.Fatalf("upstreams.conf = %q, want 2 servers", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if b, _ := os.ReadFile(conf); !strings.Contains(string(b), "v1\n") || !strings.Contains(string(b), "svc api\n") ||
		strings.Count(string(b), "tagged\n") != 2 || strings.Contains(string(b), "wrong") {
		t.Errorf("upstreams.conf = %q, want tags and nomadServices", b)
	}

	// The count changes as a commit changes it: a new version of the
	// job (job scale is refused while api's deployment runs).
	start := time.Now()
	submit(t, srv.Client, strings.Replace(apiJob, "COUNT", "3", 1))
	waitAllocs(t, srv.Client, "api", "the third api to run", allStatus(cluster.AllocClientRunning, 3))
	running := time.Since(start)
	for countServers() != 3 {
		if time.Since(start) > running+time.Second {
			b, _ := os.ReadFile(conf)
			t.Fatalf("upstreams.conf = %q a second after the third api instance ran, want 3 servers", b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("scale → third instance running %v, → web's file re-rendered %v", running, time.Since(start))
	if got := waitFile(t, filepath.Join(dir, "alloc", "hup.txt")); !strings.HasPrefix(got, "HUP\n") {
		t.Errorf("hup.txt = %q", got)
	}
}

// apiJob is a service job of COUNT instances registered in the native
// catalog as "api".
const apiJob = `
job "api" {
  datacenters = ["dc1"]
  group "api" {
    count = COUNT
    network {
      port "http" {}
    }
    service {
      name     = "api"
      port     = "http"
      provider = "nomad"
      tags     = ["v1"]
    }
    task "api" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      resources {
        cpu    = 20
        memory = 32
      }
    }
  }
}`
