package agent

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/drivers/docker"
	"github.com/droverhq/drover/metrics/metricstest"
	"github.com/droverhq/drover/server/servertest"
)

// metricsTestImage is built by the test from the host's static busybox,
// FROM scratch: no registry is needed.
const metricsTestImage = "drover-agent-test-busybox:v1"

// A docker task on a real agent and the real Docker daemon: the agent's
// scrape carries its allocation's memory (the shell holds 8 MiB) and CPU
// time (it spins), which grows between scrapes, as for exec tasks.
func TestAgentMetricsDocker(t *testing.T) {
	dd := dockerDriver(t)
	buildMetricsTestImage(t)
	srv := servertest.Single(t)
	cfg := agentConfig(t, srv, t.TempDir(), "n1")
	cfg.Drivers = []drivers.Driver{testDriver(t), dd}
	ta := startAgent(t, cfg)
	cleanupTasks(t, srv, "dockerstats")
	submit(t, srv.Client, `
job "dockerstats" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "docker"
      config {
        image = "`+metricsTestImage+`"
        args  = ["sh", "-c", "bb=/bin/busybox; x=$($bb yes aaaaaaaaaaaaaaa | $bb head -c 8388608); echo holding; while :; do :; done"]
      }
      resources {
        cpu    = 100
        memory = 128
      }
    }
  }
}`)
	scrape := func() string { return scrapeAgent(t, ta) }
	value := func(body, name string, labels map[string]string) float64 {
		t.Helper()
		v, _, err := metricstest.Value(body, name, labels)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	job := map[string]string{"job": "dockerstats"}
	cpu := func(body string) float64 {
		return value(body, "drover_client_allocation_cpu_seconds_total", job)
	}
	const held = 8 << 20
	deadline := time.Now().Add(waitTimeout)
	var first string
	for {
		first = scrape()
		if value(first, "drover_client_allocation_memory_rss_bytes", job) >= held && cpu(first) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no docker memory of %d bytes or CPU after %v:\n%s", held, waitTimeout, first)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v := value(first, "drover_client_tasks", map[string]string{"driver": "docker", "state": "running"}); v != 1 {
		t.Errorf("running docker tasks: %v, want 1", v)
	}
	var second string
	for {
		second = scrape()
		if cpu(second) > cpu(first) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the spinning task's CPU time did not grow past %v s:\n%s", cpu(first), second)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v := value(second, "drover_client_allocation_cpu_seconds_total", map[string]string{"job": "dockerstats", "mode": "user"}); v <= 0 {
		t.Errorf("user CPU seconds %v of a spinning task, want > 0", v)
	}
	for _, line := range strings.Split(second, "\n") {
		if strings.Contains(line, `job="dockerstats"`) {
			t.Log(line)
		}
	}
	metricstest.PromtoolCheck(t, second)
}

// dockerDriver is a docker driver on the local daemon whose containers
// carry a node ID of this test's, removed after the agent has stopped.
// Without a daemon the test skips, loudly.
func dockerDriver(t *testing.T) *docker.Driver {
	t.Helper()
	cfg := docker.DefaultConfig()
	cfg.NodeID = "agent-test-" + t.Name()
	d, err := docker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if fp := d.Fingerprint(t.Context()); !fp.Healthy {
		d.Close()
		t.Skipf("SKIP: needs a running Docker daemon (%s); start Docker Engine to run this test", fp.Description)
	}
	// Registered before the agent starts, so it runs after the agent
	// (which closes the driver) has stopped.
	t.Cleanup(func() { removeNodeContainers(t, cfg.NodeID) })
	return d
}

func removeNodeContainers(t *testing.T, nodeID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	api, err := client.New(client.FromEnv)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer api.Close()
	res, err := api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", docker.LabelNodeID+"="+nodeID)})
	if err != nil {
		t.Errorf("cleanup: list containers: %v", err)
		return
	}
	for _, c := range res.Items {
		t.Logf("cleanup: removing container %s the agent left", c.ID)
		if _, err := api.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Errorf("cleanup: remove container %s: %v", c.ID, err)
		}
	}
}

// buildMetricsTestImage builds metricsTestImage unless the daemon has
// it. Without a static busybox the test skips, loudly.
func buildMetricsTestImage(t *testing.T) {
	t.Helper()
	const path = "/bin/busybox"
	f, err := elf.Open(path)
	if err != nil {
		t.Skipf("SKIP: needs a static busybox at %s (apt-get install busybox-static; make deps): %v", path, err)
	}
	static := !slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
	f.Close()
	if !static {
		t.Skipf("SKIP: %s is dynamically linked; a FROM scratch image needs busybox-static", path)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	api, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	if _, err := api.ImageInspect(ctx, metricsTestImage); err == nil {
		return
	}
	bb, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range map[string][]byte{
		"Dockerfile": []byte("FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\"]\n"),
		"busybox":    bb,
	} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := api.ImageBuild(ctx, &buf, client.ImageBuildOptions{Tags: []string{metricsTestImage}, Remove: true, ForceRemove: true})
	if err != nil {
		t.Fatalf("build %s: %v", metricsTestImage, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("build %s: %v", metricsTestImage, err)
	}
	if bytes.Contains(out, []byte(`"errorDetail"`)) {
		t.Fatalf("build %s: %s", metricsTestImage, out)
	}
}
