package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
)

// checkJobFile is "hc": busybox's httpd serving local/www, with an http
// check on /health that passes while local/www/health exists.
const checkJobFile = `
job "hc" {
  datacenters = ["dc1"]
  group "hc" {
    network {
      port "http" {}
    }
    service {
      name     = "hc"
      port     = "http"
      provider = "nomad"
      check {
        name     = "alive"
        type     = "http"
        path     = "/health"
        interval = "1s"
        timeout  = "1s"
      }
    }
    task "server" {
      driver = "exec"
      config {
        command = "/bin/busybox"
        args    = ["sh", "-c", "mkdir -p $NOMAD_TASK_DIR/www && echo ok > $NOMAD_TASK_DIR/www/health && exec /bin/busybox httpd -f -p $NOMAD_PORT_http -h $NOMAD_TASK_DIR/www"]
      }
      resources {
        cpu    = 20
        memory = 32
      }
    }
  }
}
`

// TestServiceHealthFromChecksEndToEnd: the real binary, drover dev, one
// busybox httpd instance with an http check. While the check passes
// `drover service info hc` lists it; once the served file is removed the
// check turns critical and the default listing omits the instance,
// `-all` still shows it critical and `-verbose` shows the check and its
// output; the file back, it is listed again.
func TestServiceHealthFromChecksEndToEnd(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	requireExecBusybox(t)
	d := startDevCluster(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "hc.nomad.hcl"), checkJobFile)
	cli := func(args ...string) result {
		t.Helper()
		return d.cli(t, dir, args...)
	}
	d.stopJobsAtCleanup(t, dir, "hc")
	// instances polls `drover service info -json` until want holds.
	instances := func(what string, want func([]*cluster.ServiceRegistration) bool, extra ...string) []*cluster.ServiceRegistration {
		t.Helper()
		deadline := time.Now().Add(agentWait)
		for {
			args := append(append([]string{"service", "info", "-json"}, extra...), "hc")
			r := runDrover(t, dir, d.env, args...)
			var regs []*cluster.ServiceRegistration
			if r.code == 0 && json.Unmarshal([]byte(r.stdout), &regs) == nil && want(regs) {
				return regs
			}
			if time.Now().After(deadline) {
				t.Fatalf("service info hc: never %s; last: %s", what, r)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	passing := func(regs []*cluster.ServiceRegistration) bool {
		return len(regs) == 1 && len(regs[0].Checks) == 1 && regs[0].Checks[0].Status == cluster.ServiceHealthPassing
	}

	if r := cli("job", "run", "-detach", "hc.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run: %s", r)
	}
	instances("one instance with its check passing", passing)

	var health string
	_ = filepath.WalkDir(d.data, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.HasSuffix(p, filepath.Join("server", "local", "www", "health")) {
			health = p
		}
		return nil
	})
	if health == "" {
		t.Fatalf("no server/local/www/health under %s", d.data)
	}
	if err := os.Remove(health); err != nil {
		t.Fatal(err)
	}
	instances("empty once the check fails", func(regs []*cluster.ServiceRegistration) bool { return len(regs) == 0 })
	regs := instances("the critical instance with -all", func(regs []*cluster.ServiceRegistration) bool {
		return len(regs) == 1 && regs[0].Status == cluster.ServiceHealthCritical
	}, "-all")
	if cs := regs[0].Checks; len(cs) != 1 || cs[0].Name != "alive" || cs[0].Status != cluster.ServiceHealthCritical || cs[0].Output != "HTTP 404" {
		t.Errorf("checks of the critical instance: %+v, want alive critical with HTTP 404", cs)
	}
	if r := cli("service", "info", "-verbose", "-all", "hc"); r.code != 0 || !strings.Contains(r.stdout, "alive") || !strings.Contains(r.stdout, "HTTP 404") {
		t.Errorf("service info -verbose -all: %s", r)
	}
	if r := cli("service", "info", "hc"); r.code != 0 || !strings.Contains(r.stdout, "No healthy instances") {
		t.Errorf("service info with the check critical: %s", r)
	}

	if err := os.WriteFile(health, []byte("ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	instances("listed again once the check passes", passing)
}
