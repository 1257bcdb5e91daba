package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
)

// serviceJobFile is "api": busybox's httpd on a dynamic port, registered
// in the native catalog.
const serviceJobFile = `
job "api" {
  datacenters = ["dc1"]
  group "api" {
    count = 2
    network {
      port "http" {}
    }
    service {
      name     = "api"
      port     = "http"
      provider = "nomad"
      tags     = ["v1"]
    }
    update {
      min_healthy_time = "1s"
      healthy_deadline = "1m"
    }
    task "server" {
      driver = "exec"
      config {
        command = "/bin/busybox"
        args    = ["sh", "-c", "mkdir -p $NOMAD_TASK_DIR/www && echo api-$NOMAD_ALLOC_INDEX > $NOMAD_TASK_DIR/www/index.html && exec /bin/busybox httpd -f -p $NOMAD_PORT_http -h $NOMAD_TASK_DIR/www"]
      }
      resources {
        cpu    = 20
        memory = 32
      }
    }
  }
}
`

// TestServiceCatalogEndToEnd: the real binary, drover dev, a job "api"
// of two busybox httpd tasks with a service block. `drover service info
// api` lists two instances whose addresses answer over HTTP; `drover job
// scale api 3` makes it three; `drover job stop api` empties the catalog.
func TestServiceCatalogEndToEnd(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	requireExecBusybox(t)
	d := startDevCluster(t)
	c := d.client
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "api.nomad.hcl"), serviceJobFile)
	cli := func(args ...string) result {
		t.Helper()
		return d.cli(t, dir, args...)
	}
	d.stopJobsAtCleanup(t, dir, "api")
	// instances polls `drover service info -json` until it lists want.
	instances := func(want int, extra ...string) []*cluster.ServiceRegistration {
		t.Helper()
		deadline := time.Now().Add(agentWait)
		for {
			args := append(append([]string{"service", "info", "-json"}, extra...), "api")
			r := runDrover(t, dir, d.env, args...)
			var regs []*cluster.ServiceRegistration
			if r.code == 0 && json.Unmarshal([]byte(r.stdout), &regs) == nil && len(regs) == want {
				return regs
			}
			if time.Now().After(deadline) {
				t.Fatalf("service info api: want %d instances; last: %s", want, r)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	answer := func(regs []*cluster.ServiceRegistration) {
		t.Helper()
		for _, reg := range regs {
			addr := net.JoinHostPort(reg.Address, strconv.Itoa(reg.Port))
			body, err := httpGetRetry(t, "http://"+addr+"/")
			if err != nil || !strings.HasPrefix(body, "api-") {
				t.Fatalf("instance %s at %s: %q %v", reg.ID, addr, body, err)
			}
		}
	}

	if r := cli("job", "run", "-detach", "api.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run: %s", r)
	}
	regs := instances(2)
	answer(regs)
	if r := cli("service", "info", "api"); r.code != 0 || !strings.Contains(r.stdout, regs[0].Address+":"+strconv.Itoa(regs[0].Port)) || !strings.Contains(r.stdout, "[v1]") {
		t.Fatalf("service info api: %s", r)
	}
	if r := cli("service", "list"); r.code != 0 || !strings.Contains(r.stdout, "api") || !strings.Contains(r.stdout, "default") {
		t.Fatalf("service list: %s", r)
	}

	lastDeployment(t, c, "api")
	if r := cli("job", "scale", "api", "3"); r.code != 0 {
		t.Fatalf("job scale api 3: %s", r)
	}
	answer(instances(3))

	if r := cli("job", "stop", "api"); r.code != 0 {
		t.Fatalf("job stop: %s", r)
	}
	instances(0, "-all")
	if r := cli("service", "info", "api"); r.code != 0 || !strings.Contains(r.stdout, "No healthy instances") {
		t.Fatalf("service info after stop: %s", r)
	}
	if r := cli("service", "--help"); r.code != 0 || !strings.Contains(r.stdout, "info") {
		t.Fatalf("service --help: %s", r)
	}
	if r := cli("service", "info", "--help"); r.code != 0 || !strings.Contains(r.stdout, "drover service info -verbose api") {
		t.Fatalf("service info --help: %s", r)
	}
}

// httpGetRetry GETs url until it answers (a task may still be binding its
// port just after it registered as running), for up to 10s.
func httpGetRetry(t *testing.T, url string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(b), nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return "", last
}
