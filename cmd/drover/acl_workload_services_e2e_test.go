package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

// workloadServicesWebJob is web: its template lists the namespace's
// services (nomadServices) and api's instances (nomadService), read with
// the task's workload identity; the identity's JWT is also written to
// secrets/nomad_token, for the test to try it on other routes.
const workloadServicesWebJob = `
job "web" {
  datacenters = ["dc1"]
  group "web" {
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      identity {
        file = true
      }
      template {
        data        = "{{ range nomadServices }}service {{ .Name }}\n{{ end }}{{ range nomadService \"api\" }}server {{ .Address }}:{{ .Port }}\n{{ end }}"
        destination = "local/upstreams.conf"
        change_mode = "noop"
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
`

// workloadServicesJob is a job of count instances that registers the
// service of its own name in the native catalog.
func workloadServicesJob(name string, count int) string {
	return fmt.Sprintf(`
job %[1]q {
  datacenters = ["dc1"]
  group %[1]q {
    count = %[2]d
    network {
      port "http" {}
    }
    service {
      name     = %[1]q
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
`, name, count)
}

// TestWorkloadIdentityServicesEndToEnd: a server as deployed (ACLs on)
// and an agent, and no ACL policy at all. web's template renders the
// services of its namespace and the addresses of api's instances (another
// job's) with the task's workload identity, and follows the list when a
// third job registers a service. The same identity, taken from the
// task's secrets, is refused on the job, allocation and node routes and
// on another namespace's services.
func TestWorkloadIdentityServicesEndToEnd(t *testing.T) {
	t.Parallel() // its own server, agent, ports and directories
	s := startServer(t, "-node-name", "s1")
	agentDir := t.TempDir()
	s.startAgent(t, "a1", agentDir, withRawExec(t)...)
	waitNodes(t, s.client, 1)
	dir := t.TempDir()
	// After the agent: cleanups run last in, first out, so the tasks
	// stop while their agent still runs.
	stopJobsAtCleanup(t, s.client, s.env, dir, "web", "api", "cache")
	ctx, cancel := context.WithTimeout(context.Background(), agentWait)
	defer cancel()
	if policies, err := s.client.ACL().Policies(ctx); err != nil || len(policies) != 0 {
		t.Fatalf("ACL policies %v %v, want none: the test is of the implicit workload policy", policies, err)
	}

	writeFile(t, filepath.Join(dir, "api.nomad.hcl"), workloadServicesJob("api", 2))
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), workloadServicesWebJob)
	writeFile(t, filepath.Join(dir, "cache.nomad.hcl"), workloadServicesJob("cache", 1))
	if r := s.cli(t, dir, "job", "run", "-detach", "api.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run api: %s", r)
	}
	apiAllocs := running(followAllocs(t, s.client, "api", "two running", func(as []*cluster.Allocation) bool { return len(running(as)) == 2 }))
	var want []string
	for _, a := range apiAllocs {
		for _, p := range a.Resources.Ports {
			if p.Label == "http" {
				want = append(want, fmt.Sprintf("server 127.0.0.1:%d", p.Value))
			}
		}
	}
	slices.Sort(want)
	if len(want) != 2 {
		t.Fatalf("api's allocations have http ports %v, want 2", want)
	}
	if r := s.cli(t, dir, "job", "run", "-detach", "web.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run web: %s", r)
	}
	web := running(followAllocs(t, s.client, "web", "web running", func(as []*cluster.Allocation) bool { return len(running(as)) == 1 }))
	taskDir := filepath.Join(web[0].ID, "server")
	conf := findFile(t, agentDir, filepath.Join(taskDir, "local", "upstreams.conf"))

	// The template rendered before the task started: the namespace's one
	// service and api's two addresses, each its allocation's port.
	lines := func() (services, servers []string) {
		b, _ := os.ReadFile(conf)
		for l := range strings.Lines(string(b)) {
			l = strings.TrimSuffix(l, "\n")
			switch {
			case strings.HasPrefix(l, "service "):
				services = append(services, l)
			case strings.HasPrefix(l, "server "):
				servers = append(servers, l)
			}
		}
		slices.Sort(servers)
		return services, servers
	}
	if services, servers := lines(); !slices.Equal(services, []string{"service api"}) || !slices.Equal(servers, want) {
		b, _ := os.ReadFile(conf)
		t.Fatalf("upstreams.conf = %q, want service api and %v", b, want)
	}

	// nomadServices is a live list: a new job's service appears.
	if r := s.cli(t, dir, "job", "run", "-detach", "cache.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run cache: %s", r)
	}
	followAllocs(t, s.client, "cache", "cache running", func(as []*cluster.Allocation) bool { return len(running(as)) == 1 })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if services, _ := lines(); slices.Equal(services, []string{"service api", "service cache"}) {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(conf)
			t.Fatalf("upstreams.conf = %q 10s after cache ran, want service cache listed", b)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The attack: the task's own token on everything else.
	jwt, err := os.ReadFile(findFile(t, agentDir, filepath.Join(taskDir, "secrets", "nomad_token")))
	if err != nil || !strings.HasPrefix(string(jwt), "eyJ") {
		t.Fatalf("the task's workload identity: %q %v", jwt, err)
	}
	task := s.client.WithToken(strings.TrimSpace(string(jwt)))
	if list, _, err := task.Services().List(ctx, &api.QueryOptions{Params: map[string]string{"namespace": "default"}}); err != nil || len(list) != 1 {
		t.Fatalf("the task's identity lists its namespace's services: %v %v", list, err)
	}
	other := &api.QueryOptions{Params: map[string]string{"namespace": "other"}}
	for what, call := range map[string]func() error{
		"services of namespace other":    func() error { _, _, err := task.Services().List(ctx, other); return err },
		"service api of namespace other": func() error { _, _, err := task.Services().Get(ctx, "api", other); return err },
		"services of every namespace": func() error {
			_, _, err := task.Services().List(ctx, &api.QueryOptions{Params: map[string]string{"namespace": "*"}})
			return err
		},
		"delete an api instance": func() error { _, err := task.Services().Delete(ctx, "default", "api", "x"); return err },
		"list jobs":              func() error { _, _, err := task.Jobs().List(ctx, nil); return err },
		"read its own job":       func() error { _, _, err := task.Jobs().Info(ctx, "web", nil); return err },
		"read job api":           func() error { _, _, err := task.Jobs().Info(ctx, "api", nil); return err },
		"api's allocations":      func() error { _, _, err := task.Jobs().Allocations(ctx, "api", nil); return err },
		"list allocations":       func() error { _, _, err := task.Allocations().List(ctx, nil); return err },
		"its own allocation":     func() error { _, _, err := task.Allocations().Info(ctx, web[0].ID, nil); return err },
		"list nodes":             func() error { _, _, err := task.Nodes().List(ctx, nil); return err },
	} {
		var se *api.StatusError
		if err := call(); !errors.As(err, &se) || se.Code != http.StatusForbidden {
			t.Errorf("the task's identity: %s: %v, want 403", what, err)
		}
	}
}
