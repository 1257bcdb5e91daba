package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/drivers/driverstest"
)

func TestFingerprint(t *testing.T) {
	d := newDriver(t)
	fp := d.Fingerprint(t.Context())
	if !fp.Healthy || fp.Attributes["driver.docker.version"] == "" || fp.Attributes["driver.docker.api_version"] == "" {
		t.Fatalf("fingerprint = %+v, want healthy with version attributes", fp)
	}
	t.Logf("fingerprint: %s", fp.Description)
}

func TestFingerprintNoDaemon(t *testing.T) {
	d, err := New(Config{Host: "unix:///nonexistent/docker.sock"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fp := d.Fingerprint(t.Context())
	if fp.Detected || fp.Healthy || !strings.Contains(fp.Description, "not reachable") {
		t.Fatalf("fingerprint = %+v, want undetected and why", fp)
	}
}

// The whole path: a container from a locally built image serves
// HTTP on its mapped port, its output lands in the rotated log files,
// Stop stops it (SIGTERM, which it handles) and Destroy removes it.
func TestServeLogsStopDestroy(t *testing.T) {
	var events []string
	d := newDriver(t, func(c *Config) { c.Events = func(_, msg string) { events = append(events, msg) } })
	ensureTestImage(t, d)
	cfg, port := httpTask(t, "a1")
	cfg.Resources.MemoryMB = 64
	cfg.Resources.CPU = 250
	h := start(t, d, cfg)
	id := state(t, h).ContainerID
	if len(events) != 0 {
		t.Errorf("events = %q; a local image must be used without a pull", events)
	}

	if body := get(t, fmt.Sprintf("http://127.0.0.1:%d/hello", port)); body != "ok env=hi there\n" {
		t.Errorf("body = %q, want the task's env echoed", body)
	}
	waitFor(t, "request in stdout log", func() bool { return strings.Contains(readLog(t, cfg, "stdout"), "request /hello") })
	if out := readLog(t, cfg, "stdout"); !strings.HasPrefix(out, "httpd starting on :8080") {
		t.Errorf("stdout log = %q, want the container's first line without a timestamp", out)
	}
	waitFor(t, "stderr log", func() bool { return readLog(t, cfg, "stderr") == "httpd stderr hello\n" })

	info, err := d.api.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := info.Container
	for k, want := range map[string]string{LabelAllocID: "a1", LabelTask: "web", LabelJob: "job-a1", LabelNodeID: d.cfg.NodeID} {
		if got := c.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	if c.HostConfig.Memory != 64<<20 || c.HostConfig.CPUShares != 250 {
		t.Errorf("memory = %d, cpu shares = %d; want 64 MiB and 250", c.HostConfig.Memory, c.HostConfig.CPUShares)
	}

	if err := d.Stop(testCtx(t), h, "", 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	res, err := d.Wait(testCtx(t), h)
	if err != nil || !res.Successful() {
		t.Fatalf("Wait = %+v, %v; want a clean exit after SIGTERM", res, err)
	}
	if !strings.Contains(readLog(t, cfg, "stdout"), "httpd got terminated") {
		t.Errorf("stdout log lacks the shutdown line: %q", readLog(t, cfg, "stdout"))
	}
	if _, err := d.api.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{}); err != nil {
		t.Errorf("container gone after Stop (%v); it must stay until Destroy", err)
	}
	if err := d.Destroy(testCtx(t), h); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if _, err := d.api.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("inspect after Destroy = %v, want not found", err)
	}
	if _, err := d.Wait(t.Context(), h); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Errorf("Wait after Destroy = %v, want ErrTaskNotFound", err)
	}
}

func TestExitCode(t *testing.T) {
	d := newDriver(t)
	ensureTestImage(t, d)
	cfg, _ := httpTask(t, "exit1")
	cfg.Config["args"] = []any{"not-an-address"} // ListenAndServe fails: exit 1
	h := start(t, d, cfg)
	res, err := d.Wait(testCtx(t), h)
	if err != nil || res.ExitCode != 1 {
		t.Fatalf("Wait = %+v, %v; want exit code 1", res, err)
	}
	if got := readLog(t, cfg, "stderr"); !strings.Contains(got, "missing port in address") {
		t.Errorf("stderr = %q, want the listen error, streamed before the exit was reported", got)
	}
}

func TestLogsRotate(t *testing.T) {
	d := newDriver(t)
	ensureTestImage(t, d)
	cfg, port := httpTask(t, "rot1")
	cfg.Logs = drivers.LogConfig{MaxFiles: 2, MaxFileSizeMB: 1}
	start(t, d, cfg)
	get(t, fmt.Sprintf("http://127.0.0.1:%d/spam?kb=2600", port))
	waitFor(t, "rotation to web.stdout.2", func() bool {
		return strings.Contains(readLog(t, cfg, "stdout"), "2599 xxx")
	})
	files := logFiles(t, cfg, "stdout")
	if len(files) != 2 || files[0] != "web.stdout.1" || files[1] != "web.stdout.2" {
		t.Errorf("log files = %q, want the 2 newest of 3 (max_files = 2)", files)
	}
}

// An agent restart: the first driver goes away without touching the
// container, output produced meanwhile is not lost, and a new driver
// re-attaches to the same running container without writing any line
// twice.
func TestRecoverWithNewDriver(t *testing.T) {
	d1 := newDriver(t)
	ensureTestImage(t, d1)
	cfg, port := httpTask(t, "rec1")
	h := start(t, d1, cfg)
	get(t, fmt.Sprintf("http://127.0.0.1:%d/before", port))
	waitFor(t, "first request logged", func() bool { return strings.Contains(readLog(t, cfg, "stdout"), "request /before") })
	if err := d1.Close(); err != nil {
		t.Fatal(err)
	}
	get(t, fmt.Sprintf("http://127.0.0.1:%d/while-down", port))

	d2 := newDriver(t)
	// The handle as the agent persisted it: JSON and back.
	h2 := driverstest.RoundTrip(t, h)
	if err := d2.Recover(testCtx(t), h2); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	info, err := d2.api.ContainerInspect(t.Context(), state(t, h2).ContainerID, client.ContainerInspectOptions{})
	if err != nil || !info.Container.State.Running || info.Container.ID != state(t, h).ContainerID {
		t.Fatalf("after Recover: inspect = %v, running = %v; want the same container still running", err, info.Container.State)
	}
	get(t, fmt.Sprintf("http://127.0.0.1:%d/after", port))
	waitFor(t, "request after recovery logged", func() bool { return strings.Contains(readLog(t, cfg, "stdout"), "request /after") })
	out := readLog(t, cfg, "stdout")
	for _, line := range []string{"httpd starting", "request /before", "request /while-down", "request /after"} {
		if n := strings.Count(out, line); n != 1 {
			t.Errorf("%q appears %d times in the log, want once:\n%s", line, n, out)
		}
	}
	if err := d2.Stop(testCtx(t), h2, "", 5*time.Second); err != nil {
		t.Fatalf("Stop after Recover: %v", err)
	}
	if err := d2.Destroy(testCtx(t), h2); err != nil {
		t.Fatalf("Destroy after Recover: %v", err)
	}
	if _, err := d2.api.ContainerInspect(t.Context(), state(t, h).ContainerID, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("container still exists after Destroy: %v", err)
	}
}

// A container that stopped while no agent ran: Recover reports its exit
// and its last output still reaches the log files.
func TestRecoverExitedWhileDown(t *testing.T) {
	d1 := newDriver(t)
	ensureTestImage(t, d1)
	cfg, port := httpTask(t, "down1")
	h := start(t, d1, cfg)
	get(t, fmt.Sprintf("http://127.0.0.1:%d/before", port))
	waitFor(t, "first request logged", func() bool { return strings.Contains(readLog(t, cfg, "stdout"), "request /before") })
	d1.Close()

	d2 := newDriver(t)
	if _, err := d2.api.ContainerKill(t.Context(), state(t, h).ContainerID, client.ContainerKillOptions{Signal: "SIGTERM"}); err != nil {
		t.Fatal(err)
	}
	if err := d2.Recover(testCtx(t), driverstest.RoundTrip(t, h)); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	res, err := d2.Wait(testCtx(t), h)
	if err != nil || !res.Successful() {
		t.Fatalf("Wait = %+v, %v; want the exit 0 that happened while no agent ran", res, err)
	}
	out := readLog(t, cfg, "stdout")
	if strings.Count(out, "httpd got terminated") != 1 || strings.Count(out, "request /before") != 1 {
		t.Errorf("log after recovery, want the shutdown line once and nothing twice:\n%s", out)
	}
	if err := d2.Destroy(testCtx(t), h); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
}

func TestRecoverRemovedContainer(t *testing.T) {
	d1 := newDriver(t)
	ensureTestImage(t, d1)
	cfg, _ := httpTask(t, "gone1")
	h := start(t, d1, cfg)
	d1.Close()
	d2 := newDriver(t)
	if _, err := d2.api.ContainerRemove(t.Context(), state(t, h).ContainerID, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if err := d2.Recover(testCtx(t), h); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	res, err := d2.Wait(testCtx(t), h)
	if err != nil || !errors.Is(res.Err, drivers.ErrExitUnknown) {
		t.Fatalf("Wait = %+v, %v; want ErrExitUnknown", res, err)
	}
	if err := d2.Destroy(testCtx(t), h); err != nil {
		t.Fatalf("Destroy of a vanished container: %v", err)
	}
}

func TestRemoveOrphans(t *testing.T) {
	d1 := newDriver(t)
	ensureTestImage(t, d1)
	liveCfg, _ := httpTask(t, "live1")
	deadCfg, _ := httpTask(t, "dead1")
	liveH := start(t, d1, liveCfg)
	deadH := start(t, d1, deadCfg)
	d1.Close() // the agent crashed

	d2 := newDriver(t)
	removed, err := d2.RemoveOrphans(testCtx(t), map[string]bool{"live1": true})
	if err != nil {
		t.Fatalf("RemoveOrphans: %v", err)
	}
	deadID, liveID := state(t, deadH).ContainerID, state(t, liveH).ContainerID
	if len(removed) != 1 || removed[0] != deadID {
		t.Errorf("removed %q, want only the dead allocation's %s", removed, deadID)
	}
	if _, err := d2.api.ContainerInspect(t.Context(), deadID, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("orphan still exists: %v", err)
	}
	if _, err := d2.api.ContainerInspect(t.Context(), liveID, client.ContainerInspectOptions{}); err != nil {
		t.Errorf("live allocation's container was touched: %v", err)
	}
	// Another node's containers on the same daemon are not ours to remove.
	other := newDriver(t, func(c *Config) { c.NodeID = "some-other-node" })
	if removed, err := other.RemoveOrphans(testCtx(t), nil); err != nil || len(removed) != 0 {
		t.Errorf("another node removed %q (%v)", removed, err)
	}
}

// A leftover container holding the task's name (the agent died between
// create and recording the handle) is replaced, not a start failure.
func TestStartReplacesLeftover(t *testing.T) {
	d := newDriver(t)
	ensureTestImage(t, d)
	cfg, _ := httpTask(t, "left1")
	h1 := start(t, d, cfg)
	d.tasks.Delete(cfg.ID) // forget it, as a crashed agent would
	h2 := start(t, d, cfg)
	if state(t, h1).ContainerID == state(t, h2).ContainerID {
		t.Fatal("same container")
	}
	if _, err := d.api.ContainerInspect(t.Context(), state(t, h1).ContainerID, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("leftover container still exists: %v", err)
	}
}

func TestStartErrors(t *testing.T) {
	d := newDriver(t)
	ensureTestImage(t, d)
	for _, tc := range []struct {
		name    string
		mod     func(*drivers.TaskConfig)
		wantErr string
		invalid bool
	}{
		{"missing image", func(c *drivers.TaskConfig) { c.Config["image"] = "drover-test-no-such-image:1" },
			"image docker.io/library/drover-test-no-such-image:1 not found locally and pulling it failed: ", false},
		{"malformed image", func(c *drivers.TaskConfig) { c.Config["image"] = "Not A/Valid::image" },
			`image "Not A/Valid::image" is not a valid image reference`, true},
		{"unknown port label", func(c *drivers.TaskConfig) { c.Config["ports"] = []any{"admin"} },
			`ports: "admin" is not a port of the group's network (group ports: ["http"])`, true},
		{"no image", func(c *drivers.TaskConfig) { delete(c.Config, "image") },
			"config.image: required attribute (string) is missing", true},
		{"privileged not allowed", func(c *drivers.TaskConfig) { c.Config["privileged"] = true },
			"this node does not allow privileged containers", true},
		{"host volume not allowed", func(c *drivers.TaskConfig) { c.Config["volumes"] = []any{"/etc:/host-etc:ro"} },
			"/etc is outside the allocation and this node does not allow host volumes", true},
		{"reserved label", func(c *drivers.TaskConfig) { c.Config["labels"] = map[string]any{"drover.alloc_id": "x"} },
			`label "drover.alloc_id": the drover. prefix is reserved`, true},
		{"cap not allowed", func(c *drivers.TaskConfig) { c.Config["cap_add"] = []any{"SYS_ADMIN"} },
			`cap_add ["SYS_ADMIN"]: not allowed on this node`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := httpTask(t, "bad1")
			tc.mod(cfg)
			h, err := d.Start(testCtx(t), cfg)
			if err == nil {
				d.Destroy(context.Background(), h)
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v\nwant it to contain %q", err, tc.wantErr)
			}
			if got := errors.Is(err, drivers.ErrInvalidConfig); got != tc.invalid {
				t.Errorf("errors.Is(err, ErrInvalidConfig) = %v, want %v", got, tc.invalid)
			}
			list, lerr := d.api.ContainerList(t.Context(), client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", LabelAllocID+"=bad1")})
			if lerr != nil || len(list.Items) != 0 {
				t.Errorf("a failed Start left %d containers (%v)", len(list.Items), lerr)
			}
		})
	}
}

func TestPullEvents(t *testing.T) {
	var events []string
	d := newDriver(t, func(c *Config) {
		c.Events = func(_, msg string) { events = append(events, msg) }
		c.PullTimeout = 20 * time.Second
	})
	cfg, _ := httpTask(t, "pull1")
	cfg.Config["image"] = "drover-test-no-such-image:2"
	if _, err := d.Start(testCtx(t), cfg); err == nil {
		t.Fatal("Start of an image no registry has succeeded")
	}
	if len(events) == 0 || events[0] != "Pulling image docker.io/library/drover-test-no-such-image:2" {
		t.Errorf("events = %q, want a pull event first", events)
	}
}
