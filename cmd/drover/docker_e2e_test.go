package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers/qemu/qemutest"
)

// The docker driver through the whole stack: a real server and a real
// agent process, a real Docker Engine, a local image, the CLI as a user
// runs it.

// e2eBusyboxImage is the image the test imports from Debian's
// busybox-static: /bin/busybox, /bin/sh and a page for httpd. A fixed
// tag, reused across runs; bump it when its content changes.
const e2eBusyboxImage = "drover-e2e-busybox:v1"

const e2ePage = "hello from drover e2e\n"

// dockerCLI runs the docker CLI and returns its trimmed output.
func dockerCLI(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// skipNoDocker is the reason the docker driver's tests give too.
const skipNoDocker = "SKIP: needs a running Docker daemon (none is reachable); start Docker Engine to run this test"

// requireDocker skips, loudly, when no Docker daemon is reachable.
func requireDocker(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("SKIP: needs the docker CLI (docker on PATH) and a running Docker daemon; install Docker Engine to run this test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := dockerCLI(ctx, nil, "version", "--format", "{{.Server.Version}}"); err != nil {
		t.Logf("no Docker daemon: %v", err)
		t.Skip(skipNoDocker)
	}
}

// staticBusybox is the host's static busybox with its httpd applet,
// which becomes the test image. Without it the test skips, loudly.
func staticBusybox(t *testing.T) []byte {
	t.Helper()
	const path = "/bin/busybox"
	f, err := elf.Open(path)
	if err != nil {
		t.Logf("%s: %v", path, err)
		t.Skip(qemutest.SkipNoBusybox)
	}
	defer f.Close()
	if slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
		t.Logf("%s is dynamically linked: a FROM-scratch image cannot run it", path)
		t.Skip(qemutest.SkipNoBusybox)
	}
	bb, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(bb, []byte("httpd")) {
		t.Logf("%s has no httpd applet", path)
		t.Skip(qemutest.SkipNoBusybox)
	}
	return bb
}

// ensureBusyboxImage imports e2eBusyboxImage from the host's static
// busybox unless it is there already.
func ensureBusyboxImage(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := dockerCLI(ctx, nil, "image", "inspect", "--format", "{{.Id}}", e2eBusyboxImage); err == nil {
		return
	}
	bb := staticBusybox(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"bin/", "www/", "tmp/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	files := []struct {
		name string
		mode int64
		data []byte
	}{{"bin/busybox", 0o755, bb}, {"www/index.html", 0o644, []byte(e2ePage)}}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: tar.TypeReg, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := dockerCLI(ctx, &buf, "import", "-", e2eBusyboxImage); err != nil {
		t.Fatal(err)
	}
}

// removeContainersAtCleanup removes, at the test's cleanup, every
// container labelled with the job, running or not. Call it before the
// cleanup that stops the job (cleanups run last in, first out), so that
// it removes only what the driver failed to: a container outlives the
// test, the agent and the Docker client that started it.
func removeContainersAtCleanup(t *testing.T, jobID string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ids, err := dockerCLI(ctx, nil, "ps", "-aq", "--filter", "label=drover.job="+jobID)
		if err != nil {
			t.Logf("cleanup: list the containers of %s: %v", jobID, err)
		}
		for _, id := range strings.Fields(ids) {
			t.Logf("removing leftover container %s", id)
			if _, err := dockerCLI(ctx, nil, "rm", "-f", id); err != nil {
				t.Logf("cleanup: %v", err)
			}
		}
	})
}

// allocContainers lists the containers, running or not, labelled with
// the allocation: "ID State" lines.
func allocContainers(t *testing.T, allocID string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := dockerCLI(ctx, nil, "ps", "-a", "--no-trunc", "--filter", "label=drover.alloc_id="+allocID, "--format", "{{.ID}} {{.State}}")
	if err != nil {
		t.Fatal(err)
	}
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

func TestDockerJobThroughAgent(t *testing.T) {
	requireDocker(t)
	ensureBusyboxImage(t)

	s := startServer(t, "-node-name", "s1")
	c := s.client
	agentDir := t.TempDir()
	agent := s.startAgent(t, "dockernode", agentDir)
	waitNodes(t, c, 1)

	dir := t.TempDir()
	jobID := fmt.Sprintf("docker-e2e-%d", time.Now().UnixNano()%1e6)
	writeFile(t, filepath.Join(dir, "web.nomad.hcl"), `
job "`+jobID+`" {
  datacenters = ["dc1"]
  group "web" {
    network {
      port "http" {
        to = 8080
      }
    }
    task "httpd" {
      driver = "docker"
      config {
        image      = "`+e2eBusyboxImage+`"
        entrypoint = ["/bin/busybox"]
        args       = ["sh", "-c", "echo drover-e2e-started in docker; exec busybox httpd -f -v -p 8080 -h /www"]
        ports      = ["http"]
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
		return s.cli(t, dir, args...)
	}
	// Whatever failed, leave no container behind. Not stopJobsAtCleanup:
	// the agent is restarted below, and its cleanup (registered later)
	// runs first, so no agent would be left to report the stop.
	removeContainersAtCleanup(t, jobID)
	t.Cleanup(func() { runDrover(t, dir, s.env, "job", "stop", jobID) }) // a stopped job is no error

	if r := cli("job", "run", "web.nomad.hcl"); r.code != 0 {
		t.Fatalf("job run: %s", r)
	}
	allocs := followAllocs(t, c, jobID, "the container to run", func(as []*cluster.Allocation) bool { return len(running(as)) == 1 })
	alloc := running(allocs)[0]

	// 1. The container answers on its mapped host port.
	url := allocHTTPURL(t, alloc, 8080)
	hc := &http.Client{Timeout: 5 * time.Second}
	var lastGet string
	waitUntil(t, "HTTP 200 from "+url, func() bool {
		resp, err := hc.Get(url)
		if err != nil {
			lastGet = err.Error()
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		lastGet = fmt.Sprintf("%d %q", resp.StatusCode, b)
		return resp.StatusCode == http.StatusOK && string(b) == e2ePage
	})
	t.Logf("GET %s: %s", url, lastGet)

	// 2. Its output, through drover alloc logs.
	r := waitLogs(t, s.env, dir, alloc.ID, "httpd", "drover-e2e-started in docker\n")

	// One container, running, labelled with the allocation.
	ctrs := allocContainers(t, alloc.ID)
	if len(ctrs) != 1 || !strings.HasSuffix(ctrs[0], " running") {
		t.Fatalf("containers of the allocation: %q, want one running", ctrs)
	}
	ctrID := strings.Fields(ctrs[0])[0]

	// 3. kill -9 the agent: the container runs on; a new agent on the
	// same data dir re-attaches to it instead of starting another.
	agent.stop(syscall.SIGKILL)
	if got := allocContainers(t, alloc.ID); len(got) != 1 || got[0] != ctrID+" running" {
		t.Fatalf("containers after the agent died: %q, want %s running", got, ctrID)
	}
	agent = s.startAgent(t, "dockernode", agentDir)
	waitUntil(t, "the restarted agent to re-attach", func() bool {
		return strings.Contains(agent.out.String(), "re-attached to task")
	})
	if !strings.Contains(agent.out.String(), "container recovered") || !strings.Contains(agent.out.String(), "container="+ctrID) {
		t.Errorf("the restarted agent did not log recovering container %s", ctrID)
	}
	// Give the new agent time to do anything wrong (replace the
	// container, fail the allocation) before looking.
	time.Sleep(2 * time.Second)
	if got := allocContainers(t, alloc.ID); len(got) != 1 || got[0] != ctrID+" running" {
		t.Fatalf("containers after the agent restart: %q, want only %s, running", got, ctrID)
	}
	a, _, err := c.Allocations().Info(context.Background(), alloc.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := a.TaskStates["httpd"]; a.ClientStatus != cluster.AllocClientRunning || st == nil || st.State != cluster.TaskStateRunning || st.Restarts != 0 {
		t.Fatalf("allocation after the agent restart: %s", allocsText([]*cluster.Allocation{a}))
	}
	if resp, err := hc.Get(url); err != nil {
		t.Fatalf("GET after the agent restart: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET after the agent restart: %s", resp.Status)
		}
	}
	// The new agent serves the logs too: the same file, plus the request
	// lines busybox logs on stderr.
	if r = cli("alloc", "logs", alloc.ID[:8], "httpd"); r.code != 0 || !strings.Contains(r.stdout, "drover-e2e-started in docker\n") {
		t.Errorf("alloc logs after the agent restart: %s", r)
	}

	// 4. Stop the job: the container is removed.
	if r = cli("job", "stop", jobID); r.code != 0 {
		t.Fatalf("job stop: %s", r)
	}
	waitUntil(t, "the container to be removed", func() bool { return len(allocContainers(t, alloc.ID)) == 0 })
	followAllocs(t, c, jobID, "the allocation to stop", func(as []*cluster.Allocation) bool { return len(running(as)) == 0 })
}
