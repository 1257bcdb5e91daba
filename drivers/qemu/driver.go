// Package qemu is the qemu driver: it runs a task as a virtual machine of
// qemu-system-x86_64, with Nomad's config names (image_path, accelerator,
// drive_interface, graceful_shutdown, port_map, args).
//
// The VM's qemu process is run by a process runner, the exec driver, the
// way Nomad's qemu driver runs it through its executor: so a VM outlives
// an agent restart, its console (the serial port, on qemu's stdout) lands
// in the task's rotated log files, its exit status is recorded, and a
// restarted agent re-attaches to it exactly as it re-attaches to an exec
// task. This driver adds what is QEMU's own: the command line, user-mode
// networking with hostfwd for the group's ports, KVM detection, and a QMP
// monitor socket for readiness and graceful ACPI shutdown.
//
// Booting a kernel directly (-kernel, -initrd, -append) goes through args,
// as in Nomad, rather than new config names: image_path stays the VM's
// disk.
package qemu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/droverhq/drover/drivers"
)

// Name is the driver's name in job files.
const Name = "qemu"

var _ drivers.Driver = (*Driver)(nil)

// Config configures the driver for a node.
type Config struct {
	// Runner runs the qemu process and keeps it across agent restarts:
	// the node's exec driver. It receives a task config {command, args}.
	Runner drivers.Driver
	// Binary is the QEMU system emulator, a path or a name looked up in
	// PATH. Empty means qemu-system-x86_64.
	Binary string
	// KVMDevice is the KVM device node. Empty means /dev/kvm.
	KVMDevice string
	// ImagePaths are the host directories a task's image_path may lead
	// into (symlinks followed), besides its allocation directory (Nomad's
	// image_paths). Empty: the allocation directory only.
	ImagePaths []string
	// ArgsAllowlist are the QEMU flags a task's args may use (Nomad's
	// args_allowlist, e.g. "-smp"). Empty allows no args at all, unlike
	// Nomad, where it allows any: see policy.checkArgs.
	ArgsAllowlist []string
	Logger        *slog.Logger
}

// DefaultConfig is the configuration an agent uses, given its exec driver.
func DefaultConfig(runner drivers.Driver) Config {
	return Config{Runner: runner, Binary: "qemu-system-x86_64", KVMDevice: "/dev/kvm"}
}

// Validate reports the first problem of c.
func (c Config) Validate() error {
	if c.Runner == nil {
		return errors.New("qemu driver: a process Runner (the exec driver) is required")
	}
	for _, p := range c.ImagePaths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("qemu driver: image_paths %q is not an absolute path", p)
		}
	}
	return nil
}

// Driver is the qemu driver. Create it with New; its zero value is not
// usable.
type Driver struct {
	cfg   Config
	log   *slog.Logger
	tasks *drivers.TaskTable[*task]
}

// New returns a qemu driver. It touches nothing on the host until
// Fingerprint or Start.
func New(cfg Config) (*Driver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Binary == "" {
		cfg.Binary = "qemu-system-x86_64"
	}
	if cfg.KVMDevice == "" {
		cfg.KVMDevice = "/dev/kvm"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Driver{cfg: cfg, log: log.With("driver", Name), tasks: drivers.NewTaskTable[*task](Name)}, nil
}

// Name implements drivers.Driver.
func (d *Driver) Name() string { return Name }

// binary returns the emulator's path, or why there is none.
func (d *Driver) binary() (string, error) {
	p, err := exec.LookPath(d.cfg.Binary)
	if err != nil {
		return "", fmt.Errorf("qemu: %s is not installed (or not in PATH): %w", d.cfg.Binary, err)
	}
	return p, nil
}

// Fingerprint implements drivers.Driver.
func (d *Driver) Fingerprint(ctx context.Context) drivers.Fingerprint {
	bin, err := d.binary()
	if err != nil {
		return drivers.Fingerprint{Description: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return drivers.Fingerprint{Detected: true, Description: fmt.Sprintf("%s --version failed: %v", bin, err)}
	}
	version := parseVersion(string(out))
	if version == "" {
		return drivers.Fingerprint{Detected: true, Description: fmt.Sprintf("%s --version says %q; no version found", bin, out)}
	}
	kvm := probeKVM(d.cfg.KVMDevice)
	attrs := map[string]string{
		"driver.qemu.version": version,
		"driver.qemu.path":    bin,
		"driver.qemu.kvm":     strconv.FormatBool(kvm.usable),
	}
	desc := fmt.Sprintf("QEMU %s with KVM", version)
	if !kvm.usable {
		attrs["driver.qemu.kvm_reason"] = kvm.reason
		desc = fmt.Sprintf("QEMU %s, TCG only (no KVM: %s)", version, kvm.reason)
	}
	return drivers.Fingerprint{Detected: true, Healthy: true, Description: desc, Attributes: attrs}
}

// parseVersion finds X.Y.Z in "QEMU emulator version 7.2.22 (Debian …)".
func parseVersion(out string) string {
	first, _, _ := strings.Cut(out, "\n")
	f := strings.Fields(first)
	for i := range len(f) - 1 {
		if f[i] == "version" {
			return f[i+1]
		}
	}
	return ""
}
