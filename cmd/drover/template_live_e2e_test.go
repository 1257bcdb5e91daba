package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
)

// liveAPIJob is api: instances registered in the native catalog.
const liveAPIJob = `
job "api" {
  datacenters = ["dc1"]
  group "api" {
    count = 2
    scaling {
      min     = 1
      max     = 4
      enabled = true
    }
    update {
      min_healthy_time = "1s"
      healthy_deadline = "1m"
    }
    network {
      port "http" {}
    }
    service {
      name     = "api"
      port     = "http"
      provider = "nomad"
    }
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
`

// liveWebJob is web: its template lists api's instances, and on SIGHUP
// it prints how many its file lists.
const liveWebJob = `
job "web" {
  datacenters = ["dc1"]
  group "web" {
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "trap 'echo RELOADED $(grep -c ^server $NOMAD_TASK_DIR/upstreams.conf)' HUP; echo STARTED; while :; do sleep 0.05; done"]
      }
      template {
        data          = "{{ range nomadService \"api\" }}server {{ .Address }}:{{ .Port }}\n{{ end }}"
        destination   = "local/upstreams.conf"
        change_mode   = "signal"
        change_signal = "SIGHUP"
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
`

// TestLiveTemplateEndToEnd: the real binary, drover dev. web's template
// lists api's instances through nomadService; `drover job scale api 3`
// re-renders web's file within a second of the third instance running,
// and web receives SIGHUP (its log says so).
func TestLiveTemplateEndToEnd(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	dev := startDevCluster(t)
	c := dev.client
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "api.nomad.hcl"), liveAPIJob)
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), liveWebJob)
	cli := func(args ...string) result {
		t.Helper()
		return dev.cli(t, dir, args...)
	}
	t.Cleanup(func() {
		cli("job", "stop", "-purge", "web")
		cli("job", "stop", "-purge", "api")
	})
	if r := cli("job", "run", "api.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run api: %s", r)
	}
	followAllocs(t, c, "api", "two running", func(as []*cluster.Allocation) bool { return len(running(as)) == 2 })
	if r := cli("job", "run", "web.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run web: %s", r)
	}
	web := followAllocs(t, c, "web", "web running", func(as []*cluster.Allocation) bool { return len(running(as)) == 1 })
	webID := running(web)[0].ID
	conf := findFile(t, dev.data, filepath.Join(webID, "server", "local", "upstreams.conf"))
	servers := func() int {
		b, _ := os.ReadFile(conf)
		return strings.Count(string(b), "server ")
	}
	if n := servers(); n != 2 {
		t.Fatalf("web's upstreams.conf lists %d instances, want 2", n)
	}
	lastDeployment(t, c, "api")

	scaled := time.Now()
	if r := cli("job", "scale", "api", "3"); r.code != 0 {
		t.Fatalf("job scale api 3: %s", r)
	}
	followAllocs(t, c, "api", "three running", func(as []*cluster.Allocation) bool { return len(running(as)) == 3 })
	ran := time.Now()
	for servers() != 3 {
		if time.Since(ran) > time.Second {
			b, _ := os.ReadFile(conf)
			t.Fatalf("web's upstreams.conf a second after api's third instance ran:\n%s", b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("web re-rendered %v after drover job scale started, %v after api's third instance was seen running", time.Since(scaled), time.Since(ran))
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := cli("alloc", "logs", webID[:8], "server")
		if r.code == 0 && strings.Contains(r.stdout, "RELOADED 3\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web's log never said RELOADED 3: %s", r)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// findFile finds the file whose path ends in suffix under root (the dev
// agent's allocation directory).
func findFile(t *testing.T, root, suffix string) string {
	t.Helper()
	var found string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, string(filepath.Separator)+suffix) {
			found = p
			return fs.SkipAll
		}
		return nil
	})
	if found == "" {
		t.Fatalf("no %s under %s", suffix, root)
	}
	return found
}

// TestLiveTemplateWithACLEndToEnd: a server as deployed (ACLs and mutual
// TLS on by default) and an agent: the task's templates read its job's
// variable and api's instances with the task's workload identity, and
// follow a change of the variable.
func TestLiveTemplateWithACLEndToEnd(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	s := startServer(t, "-node-name", "s1")
	agentDir := t.TempDir()
	s.startAgent(t, "a1", agentDir, withRawExec(t)...)
	waitNodes(t, s.client, 1)
	dir := t.TempDir()
	cli := func(args ...string) result {
		t.Helper()
		r := runDrover(t, dir, s.env, args...)
		t.Logf("$ drover %s\n%s", strings.Join(args, " "), r)
		return r
	}
	t.Cleanup(func() {
		cli("job", "stop", "web")
		cli("job", "stop", "api")
		followAllocs(t, s.client, "web", "web to stop", func(as []*cluster.Allocation) bool { return !clientLive(as) })
		followAllocs(t, s.client, "api", "api to stop", func(as []*cluster.Allocation) bool { return !clientLive(as) })
	})
	if r := cli("var", "put", "nomad/jobs/web", "password=first"); r.code != 0 {
		t.Fatalf("var put: %s", r)
	}
	writeFile(t, filepath.Join(dir, "api.nomad.hcl"), liveAPIJob)
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), strings.Replace(liveWebJob,
		`data          = "{{ range nomadService \"api\" }}`,
		`data          = "{{ with nomadVar \"nomad/jobs/web\" }}pw={{ .password }}\n{{ end }}{{ range nomadService \"api\" }}`, 1))
	if r := cli("job", "run", "-detach", "api.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run api: %s", r)
	}
	followAllocs(t, s.client, "api", "two running", func(as []*cluster.Allocation) bool { return len(running(as)) == 2 })
	if r := cli("job", "run", "-detach", "web.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run web: %s", r)
	}
	web := followAllocs(t, s.client, "web", "web running", func(as []*cluster.Allocation) bool { return len(running(as)) == 1 })
	conf := findFile(t, agentDir, filepath.Join(running(web)[0].ID, "server", "local", "upstreams.conf"))
	b, _ := os.ReadFile(conf)
	if !strings.HasPrefix(string(b), "pw=first\n") || strings.Count(string(b), "server 127.0.0.1:") != 2 {
		t.Fatalf("upstreams.conf = %q, want the variable and api's 2 instances", b)
	}
	if r := cli("var", "put", "-force", "nomad/jobs/web", "password=second"); r.code != 0 {
		t.Fatalf("var put: %s", r)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ = os.ReadFile(conf)
		if strings.HasPrefix(string(b), "pw=second\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("upstreams.conf = %q 5s after the variable changed", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
