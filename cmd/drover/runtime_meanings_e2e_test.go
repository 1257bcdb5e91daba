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
)

// onUpdateJob is a service whose checks are a readiness check that
// always fails (on_update = "ignore"), one that warns (exit 1) under the
// service's on_update = "ignore_warnings", and one that passes.
// brokenOnUpdate is the failing check's on_update: "ignore" in the job
// under test, "require_healthy" in the control job that must fail.
func onUpdateJob(id, brokenOnUpdate string) string {
	return `
job "` + id + `" {
  datacenters = ["dc1"]
  ui {
    description = "Checks that do not gate deployments."
    link {
      label = "Runbook"
      url   = "https://wiki.example.com/` + id + `"
    }
  }
  group "svc" {
    network {
      hostname = "${NOMAD_JOB_NAME}-${NOMAD_ALLOC_INDEX}"
    }
    update {
      min_healthy_time  = "1s"
      healthy_deadline  = "12s"
      progress_deadline = "20s"
    }
    service {
      name      = "` + id + `"
      on_update = "ignore_warnings"
      check {
        name     = "warns"
        type     = "script"
        task     = "app"
        command  = "/bin/busybox"
        args     = ["sh", "-c", "exit 1"]
        interval = "1s"
        timeout  = "2s"
      }
      check {
        name      = "broken"
        type      = "script"
        task      = "app"
        command   = "/bin/busybox"
        args      = ["false"]
        interval  = "1s"
        timeout   = "2s"
        on_update = "` + brokenOnUpdate + `"
      }
      check {
        name      = "passes"
        type      = "script"
        task      = "app"
        command   = "/bin/busybox"
        args      = ["true"]
        interval  = "1s"
        timeout   = "2s"
        on_update = "require_healthy"
      }
    }
    task "app" {
      driver = "exec"
      config {
        command = "/bin/busybox"
        args    = ["sh", "-c", "echo hostname=$(hostname); exec sleep 1000"]
      }
      resources {
        cpu    = 20
        memory = 32
      }
    }
  }
}
`
}

// lastDeployment waits until the job's latest deployment is over and
// returns it.
func lastDeployment(t *testing.T, c *api.Client, jobID string) *cluster.Deployment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), agentWait)
	defer cancel()
	var index uint64
	for {
		ds, meta, err := c.Jobs().Deployments(ctx, jobID, &api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second})
		if err != nil {
			t.Fatalf("deployments of %s: %v", jobID, err)
		}
		var last *cluster.Deployment
		for _, d := range ds {
			if last == nil || d.CreateIndex > last.CreateIndex {
				last = d
			}
		}
		if last != nil && !last.Active() {
			return last
		}
		index = meta.LastIndex
	}
}

// TestOnUpdateHostnameUIEndToEnd: the real binary, drover dev, isolated
// exec tasks. A script check that always fails but has on_update =
// "ignore", and one that warns under the service's on_update =
// "ignore_warnings", do not hold the deployment back: it succeeds, while
// the same job with the failing check on require_healthy fails at its
// healthy_deadline. The task runs with the network block's interpolated
// hostname, and `drover job status` shows the ui block.
func TestOnUpdateHostnameUIEndToEnd(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	if testing.Short() {
		t.Skip("end-to-end")
	}
	requireExecBusybox(t)
	dev := startDevCluster(t)
	c := dev.client
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ready.nomad.hcl"), onUpdateJob("ready", "ignore"))
	writeFile(t, filepath.Join(dir, "strict.nomad.hcl"), onUpdateJob("strict", "require_healthy"))
	cli := func(args ...string) result {
		t.Helper()
		return dev.cli(t, dir, args...)
	}
	dev.stopJobsAtCleanup(t, dir, "ready", "strict")
	for _, f := range []string{"ready.nomad.hcl", "strict.nomad.hcl"} {
		if r := cli("job", "run", "-detach", f); r.code != 0 {
			t.Fatalf("job run %s: %s", f, r)
		}
	}

	if d := lastDeployment(t, c, "ready"); d.Status != cluster.DeploymentSuccessful {
		t.Errorf("deployment of ready: %s (%s), want successful: its only failing check has on_update = \"ignore\"", d.Status, d.StatusDescription)
	}
	if d := lastDeployment(t, c, "strict"); d.Status != cluster.DeploymentFailed {
		t.Errorf("deployment of strict: %s (%s), want failed: its failing check requires health", d.Status, d.StatusDescription)
	}

	allocs := followAllocs(t, c, "ready", "the task to run", func(as []*cluster.Allocation) bool { return len(running(as)) == 1 })
	id := running(allocs)[0].ID
	r := waitLogs(t, dev.env, dir, id, "app", "hostname=")
	if !strings.Contains(r.stdout, "hostname=ready-0\n") {
		t.Errorf("the task printed %q, want hostname=ready-0 (network hostname \"${NOMAD_JOB_NAME}-${NOMAD_ALLOC_INDEX}\")", r.stdout)
	}

	r = cli("job", "status", "ready")
	for _, want := range []string{"\nDescription\nChecks that do not gate deployments.\n", "\nLinks\n", "Runbook  https://wiki.example.com/ready"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("job status lacks %q", want)
		}
	}
	r = cli("job", "status", "-json", "ready")
	if !strings.Contains(r.stdout, `"description": "Checks that do not gate deployments."`) || !strings.Contains(r.stdout, `"url": "https://wiki.example.com/ready"`) {
		t.Errorf("job status -json lacks the ui block")
	}
}

// TestDockerHostnameAndDriverAddressEndToEnd: the real binary, drover
// dev, a real Docker Engine. The container gets the network block's
// interpolated hostname, and an http check with address_mode = "driver"
// probes the container's own IP and the port's `to`: the port is not
// published on the host (the task's config lists no ports), so only that
// address answers, and the deployment succeeds only if the check used it.
func TestDockerHostnameAndDriverAddressEndToEnd(t *testing.T) {
	t.Parallel() // its own dev cluster, ports and directories
	if testing.Short() {
		t.Skip("end-to-end")
	}
	requireDocker(t)
	ensureBusyboxImage(t)
	dev := startDevCluster(t)
	c := dev.client
	jobID := fmt.Sprintf("dockhost-%d", time.Now().UnixNano()%1e6)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "dock.nomad.hcl"), `
job "`+jobID+`" {
  datacenters = ["dc1"]
  group "web" {
    network {
      hostname = "web-${NOMAD_ALLOC_INDEX}"
      port "http" {
        to = 8080
      }
    }
    update {
      min_healthy_time  = "1s"
      healthy_deadline  = "40s"
      progress_deadline = "50s"
    }
    task "httpd" {
      driver = "docker"
      config {
        image      = "`+e2eBusyboxImage+`"
        entrypoint = ["/bin/busybox"]
        args       = ["sh", "-c", "echo hostname=$(hostname); exec busybox httpd -f -p 8080 -h /www"]
      }
      service {
        name = "`+jobID+`"
        port = "http"
        check {
          name         = "in-container"
          type         = "http"
          path         = "/"
          address_mode = "driver"
          interval     = "1s"
          timeout      = "2s"
        }
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}`)
	cli := func(args ...string) result {
		t.Helper()
		return dev.cli(t, dir, args...)
	}
	removeContainersAtCleanup(t, jobID)
	dev.stopJobsAtCleanup(t, dir, jobID)
	if r := cli("job", "run", "-detach", "dock.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run: %s", r)
	}
	if d := lastDeployment(t, c, jobID); d.Status != cluster.DeploymentSuccessful {
		t.Errorf("deployment: %s (%s), want successful: the address_mode = \"driver\" check must reach the container's IP on port 8080", d.Status, d.StatusDescription)
	}
	allocs := followAllocs(t, c, jobID, "the container to run", func(as []*cluster.Allocation) bool { return len(running(as)) == 1 })
	id := running(allocs)[0].ID
	r := waitLogs(t, dev.env, dir, id, "httpd", "hostname=")
	if !strings.Contains(r.stdout, "hostname=web-0\n") {
		t.Errorf("the container printed %q, want hostname=web-0", r.stdout)
	}
}
