package qemu

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/drivers/driverstest"
	"github.com/droverhq/drover/drivers/qemu/qemutest"
)

func TestFingerprint(t *testing.T) {
	requireQEMU(t)
	d, _ := newDriver(t)
	fp := d.Fingerprint(t.Context())
	if !fp.Detected || !fp.Healthy || fp.Attributes["driver.qemu.version"] == "" || fp.Attributes["driver.qemu.kvm"] == "" {
		t.Fatalf("fingerprint = %+v, want healthy with version and kvm attributes", fp)
	}
	t.Logf("fingerprint: %s", fp.Description)
}

func TestFingerprintNotInstalled(t *testing.T) {
	d, _ := newDriver(t, func(c *Config) { c.Binary = "drover-no-such-qemu" })
	fp := d.Fingerprint(t.Context())
	if fp.Detected || !strings.Contains(fp.Description, "drover-no-such-qemu is not installed") {
		t.Fatalf("fingerprint = %+v, want undetected and why", fp)
	}
}

// The whole path with a real guest: Debian's kernel and a busybox
// initramfs boot under QEMU (TCG here, where KVM is not usable), the
// group port reaches the guest's HTTP server through hostfwd, the agent
// restarts and re-attaches, and Stop presses the power button over QMP:
// the guest powers itself off and QEMU exits 0, well before the kill.
func TestBootServeRecoverGracefulStop(t *testing.T) {
	requireQEMU(t)
	bootArgs := func(c *Config) { c.ArgsAllowlist = []string{"-kernel", "-initrd", "-append"} }
	d1, r1 := newDriver(t, bootArgs)
	cfg, port := vmTask(t, "vm1")
	g := qemutest.BuildGuest(t, cfg.Dir)
	cfg.Resources.MemoryMB = 256
	cfg.Config = map[string]any{
		"image_path":        "disk.img",
		"graceful_shutdown": true,
		"args":              []any{"-kernel", g.Kernel, "-initrd", g.Initrd, "-append", "console=ttyS0 quiet panic=-1"},
	}
	t0 := time.Now()
	h, err := d1.Start(testCtx(t, time.Minute), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = d1.Destroy(testCtx(t, 30*time.Second), h) })
	pid := qemuPID(t, h)

	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if body := get(t, url, 90*time.Second); body != "hello from the guest\n" {
		t.Fatalf("guest answered %q", body)
	}
	t.Logf("guest served HTTP %v after Start (accelerator %s)", time.Since(t0).Round(time.Millisecond), accel(t, h))
	if out := console(t, cfg); !strings.Contains(out, "guest: ready") || strings.Contains(out, "insmod") {
		t.Errorf("console log lacks the guest's ready line, or a module failed:\n%s", out)
	}

	// The agent goes away; a new one re-attaches from the persisted handle.
	r1.Close()
	d2, _ := newDriver(t, bootArgs)
	h2 := driverstest.RoundTrip(t, h)
	if err := d2.Recover(testCtx(t, 10*time.Second), h2); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if qemuPID(t, h2) != pid || !isQEMU(pid) {
		t.Fatalf("after Recover, qemu (pid %d) is not the same running process", pid)
	}
	get(t, url, 10*time.Second)

	stopStart := time.Now()
	if err := d2.Stop(testCtx(t, time.Minute), h2, "", 30*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	took := time.Since(stopStart)
	res, err := d2.Wait(testCtx(t, 10*time.Second), h2)
	if err != nil || res.ExitCode != 0 || res.Signal != 0 {
		t.Fatalf("Wait = %+v, %v; want QEMU's own exit 0 after the guest powered off", res, err)
	}
	if took >= 30*time.Second {
		t.Errorf("Stop took %v: the VM was killed at the timeout, not powered off", took)
	}
	if !strings.Contains(console(t, cfg), "guest: power button pressed, powering off") {
		t.Errorf("the guest never saw the power button:\n%s", console(t, cfg))
	}
	if isQEMU(pid) {
		t.Errorf("qemu pid %d still runs after Stop", pid)
	}
	if err := d2.Destroy(testCtx(t, 10*time.Second), h2); err != nil {
		t.Errorf("Destroy: %v", err)
	}
	if _, err := os.Stat(stateOf(t, h2).QMPPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("QMP socket left after Destroy: %v", err)
	}
}

// Without a guest that answers the power button (a blank disk: the BIOS
// finds nothing to boot), Stop still ends QEMU: at once without
// graceful_shutdown (SIGTERM), and with it by killing QEMU once the
// kill timeout has passed.
func TestStopWithoutGuest(t *testing.T) {
	requireQEMU(t)
	for _, tc := range []struct {
		name     string
		graceful bool
		min, max time.Duration
	}{
		{"signal", false, 0, 5 * time.Second},
		{"graceful falls back to kill", true, 2 * time.Second, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newDriver(t)
			cfg, _ := vmTask(t, "vm2")
			cfg.Config["graceful_shutdown"] = tc.graceful
			h, err := d.Start(testCtx(t, time.Minute), cfg)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			pid := qemuPID(t, h)
			t0 := time.Now()
			if err := d.Stop(testCtx(t, 30*time.Second), h, "", 2*time.Second); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if took := time.Since(t0); took < tc.min || took > tc.max {
				t.Errorf("Stop took %v, want between %v and %v", took, tc.min, tc.max)
			}
			if _, err := d.Wait(testCtx(t, 10*time.Second), h); err != nil {
				t.Fatalf("Wait: %v", err)
			}
			if isQEMU(pid) {
				t.Errorf("qemu pid %d still runs after Stop", pid)
			}
			if err := d.Destroy(testCtx(t, 10*time.Second), h); err != nil {
				t.Errorf("Destroy: %v", err)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	requireQEMU(t)
	for _, tc := range []struct {
		name    string
		mod     func(*drivers.TaskConfig)
		drv     func(*Config)
		wantErr string
		invalid bool
	}{
		{"missing image_path", func(c *drivers.TaskConfig) { delete(c.Config, "image_path") }, nil,
			"config.image_path: required attribute (string) is missing", true},
		{"image_path not found", func(c *drivers.TaskConfig) { c.Config["image_path"] = "nope.qcow2" }, nil,
			`image_path "nope.qcow2": lstat `, true},
		{"kvm unavailable", func(c *drivers.TaskConfig) { c.Config["accelerator"] = "kvm" },
			func(c *Config) { c.KVMDevice = "/nonexistent/kvm" },
			`accelerator = "kvm", but KVM is not available on this node: cannot open /nonexistent/kvm`, true},
		{"bad accelerator", func(c *drivers.TaskConfig) { c.Config["accelerator"] = "hvf" }, nil,
			`accelerator "hvf": must be kvm or tcg`, true},
		{"unknown port label", func(c *drivers.TaskConfig) { c.Config["port_map"] = map[string]any{"admin": 22.0} }, nil,
			`port_map: "admin" is not a port of the group's network (group ports: ["http"])`, true},
		{"qemu not installed", nil, func(c *Config) { c.Binary = "drover-no-such-qemu" },
			"qemu: drover-no-such-qemu is not installed", false},
		{"arg not allow-listed", func(c *drivers.TaskConfig) { c.Config["args"] = []any{"-drive", "file=/dev/sda"} }, nil,
			`args[0] "-drive": this node allows no QEMU args`, true},
		{"qemu refuses", func(c *drivers.TaskConfig) { c.Config["args"] = []any{"-no-such-option"} },
			func(c *Config) { c.ArgsAllowlist = []string{"-no-such-option"} },
			"QEMU exited while starting (exit code 1): qemu-system-x86_64: -no-such-option: invalid option", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mods []func(*Config)
			if tc.drv != nil {
				mods = append(mods, tc.drv)
			}
			d, _ := newDriver(t, mods...)
			cfg, _ := vmTask(t, "bad")
			if tc.mod != nil {
				tc.mod(cfg)
			}
			h, err := d.Start(testCtx(t, 30*time.Second), cfg)
			if err == nil {
				_ = d.Destroy(t.Context(), h)
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v\nwant it to contain %q", err, tc.wantErr)
			}
			if got := errors.Is(err, drivers.ErrInvalidConfig); got != tc.invalid {
				t.Errorf("errors.Is(err, ErrInvalidConfig) = %v, want %v", got, tc.invalid)
			}
		})
	}
}

func stateOf(t testing.TB, h *drivers.TaskHandle) handleState {
	t.Helper()
	return driverstest.State[handleState](t, h)
}

func accel(t testing.TB, h *drivers.TaskHandle) string { return stateOf(t, h).Accelerator }

// isQEMU reports whether pid is a running qemu process.
func isQEMU(pid int) bool {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || !strings.HasPrefix(string(comm), "qemu-system") {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i > 0 && len(stat) > i+2 && stat[i+2] != 'Z'
}
