package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/drivers/driverstest"
	"github.com/droverhq/drover/logrotate"
)

// testImage is built by the tests from testdata/httpd: no registry is
// needed, or reachable, here.
const testImage = "drover-test-httpd:latest"

var buildImage struct {
	once sync.Once
	err  error
}

// newDriver returns a driver on the local daemon, scoped by a node ID of
// its own so RemoveOrphans in one test never touches another's
// containers. Without a daemon the test skips, loudly; a daemon that
// answers but is unhealthy fails it.
func newDriver(t testing.TB, mod ...func(*Config)) *Driver {
	t.Helper()
	cfg := DefaultConfig()
	cfg.NodeID = "test-" + strings.ReplaceAll(t.Name(), "/", "-")
	if _, bench := t.(*testing.B); !bench {
		cfg.Logger = driverstest.Logger(t)
	}
	for _, m := range mod {
		m(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	fp := d.Fingerprint(t.Context())
	if !fp.Detected {
		t.Logf("no Docker daemon: %s", fp.Description)
		t.Skip("SKIP: needs a running Docker daemon (none is reachable); start Docker Engine to run this test")
	}
	return d
}

// ensureTestImage builds testImage once per test binary: a static build
// of testdata/httpd in a FROM scratch image, through the Engine API.
func ensureTestImage(t testing.TB, d *Driver) {
	t.Helper()
	buildImage.once.Do(func() { buildImage.err = build(t.Context(), d.api) })
	if buildImage.err != nil {
		t.Fatalf("build test image: %v", buildImage.err)
	}
}

func build(ctx context.Context, api *client.Client) error {
	dir, err := os.MkdirTemp("", "drover-docker-test-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "httpd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./testdata/httpd")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	binData, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte("FROM scratch\nCOPY httpd /httpd\nENTRYPOINT [\"/httpd\"]\n")},
		{"httpd", 0o755, binData},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	res, err := api.ImageBuild(ctx, &buf, client.ImageBuildOptions{Tags: []string{testImage}, Remove: true, ForceRemove: true})
	if err != nil {
		return err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if bytes.Contains(out, []byte(`"errorDetail"`)) {
		return fmt.Errorf("image build failed: %s", out)
	}
	return nil
}

// freePort is a host port nothing listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// httpTask is a task running the test image with its port "http"
// published on a free host port, which it returns.
func httpTask(t testing.TB, allocID string) (*drivers.TaskConfig, int) {
	t.Helper()
	alloc := t.TempDir()
	dir := filepath.Join(alloc, "web")
	for _, d := range []string{dir, filepath.Join(alloc, "alloc"), filepath.Join(dir, "local")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	return &drivers.TaskConfig{
		ID:        allocID + "/web",
		AllocID:   allocID,
		JobName:   "job-" + allocID,
		GroupName: "g",
		TaskName:  "web",
		Config:    map[string]any{"image": testImage, "ports": []any{"http"}},
		Env:       map[string]string{"GREETING": "hi there"},
		Dir:       dir,
		AllocDir:  filepath.Join(alloc, "alloc"),
		LocalDir:  filepath.Join(dir, "local"),
		Logs:      drivers.LogConfig{MaxFiles: 3, MaxFileSizeMB: 1},
		Ports:     []drivers.Port{{Label: "http", HostIP: "127.0.0.1", HostPort: port, ContainerPort: 8080}},
	}, port
}

func start(t testing.TB, d *Driver, cfg *drivers.TaskConfig) *drivers.TaskHandle {
	t.Helper()
	h, err := d.Start(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = d.api.ContainerRemove(ctx, state(t, h).ContainerID, client.ContainerRemoveOptions{Force: true})
		// The log stream may still be writing into the test's TempDir,
		// whose removal runs next: wait for it to end.
		if tk, ok := d.tasks.Get(h.TaskID); ok {
			select {
			case <-tk.logsDone:
			case <-ctx.Done():
				t.Errorf("log stream of %s did not end after its container was removed", h.TaskID)
			}
		}
	})
	return h
}

func state(t testing.TB, h *drivers.TaskHandle) handleState {
	t.Helper()
	return driverstest.State[handleState](t, h)
}

// get polls url until it answers 200, and returns the body.
func get(t testing.TB, url string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(body)
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFor polls a condition of the outside world (a log file).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readLog(t testing.TB, cfg *drivers.TaskConfig, stream string) string {
	t.Helper()
	var all []byte
	for i := range 10 {
		b, err := os.ReadFile(filepath.Join(cfg.AllocDir, "logs", fmt.Sprintf("web.%s.%d", stream, i)))
		if err != nil {
			continue
		}
		all = append(all, b...)
	}
	return string(all)
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// logFiles lists the task's rotated files of one stream, oldest first.
func logFiles(t testing.TB, cfg *drivers.TaskConfig, stream string) []string {
	t.Helper()
	files, err := logrotate.Files(filepath.Join(cfg.AllocDir, "logs"), "web."+stream)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = filepath.Base(f.Path)
	}
	return names
}
