package qemu

import (
	"fmt"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/droverhq/drover/drivers"
)

// ConfigSpec implements drivers.Driver.
func (d *Driver) ConfigSpec() drivers.Schema { return ConfigSpec() }

// ConfigSpec is the qemu task config {} block, with Nomad's names. A
// function of nothing, so `drover validate` needs no QEMU.
func ConfigSpec() drivers.Schema {
	return drivers.Schema{
		{Name: "image_path", Type: drivers.TypeString, Required: true,
			Description: "The VM's disk image; relative paths are under the task directory. It must resolve (symlinks followed) into the allocation directory or the node's image_paths."},
		{Name: "accelerator", Type: drivers.TypeString,
			Description: "kvm or tcg. Default: kvm where the node can use it, else tcg."},
		{Name: "drive_interface", Type: drivers.TypeString,
			Description: "How the disk is attached: ide (default), scsi, sd, mtd, floppy, pflash, virtio or none."},
		{Name: "graceful_shutdown", Type: drivers.TypeBool,
			Description: "Stop with an ACPI power-button press (QMP system_powerdown), killing the VM only after kill_timeout."},
		{Name: "port_map", Type: drivers.TypeMapNumber, BlockForm: true,
			Description: "Group port label → port in the guest. Default: every group port, to its `to` (or the same number)."},
		{Name: "args", Type: drivers.TypeListString,
			Description: "Extra qemu-system-x86_64 arguments, appended last, e.g. -kernel, -initrd, -append. Each flag must be in the node's args_allowlist (empty by default: no args)."},
	}
}

const (
	defaultMemoryMB = 256
	defaultDrive    = "ide"
	accelKVM        = "kvm"
	accelTCG        = "tcg"
)

// vmSpec is the qemu command line and what Start and Stop need to know of
// it, computed before anything runs.
type vmSpec struct {
	Argv        []string
	Accelerator string
	Graceful    bool
}

// buildSpec checks cfg against the node's policy and turns it into the
// qemu command line: a function of the config, the policy, the node's KVM
// support and the QMP socket path (it reads only the image's path on
// disk). All problems are reported together, wrapped in ErrInvalidConfig.
func buildSpec(cfg *drivers.TaskConfig, pol policy, bin string, kvm kvmSupport, qmpPath string) (*vmSpec, error) {
	if errs := ConfigSpec().Validate(cfg.Config); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = "config." + e.Error()
		}
		return nil, fmt.Errorf("%w: %s", drivers.ErrInvalidConfig, strings.Join(msgs, "; "))
	}
	c := cfg.Config
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	image := drivers.String(c, "image_path")
	if image != "" && !filepath.IsAbs(image) {
		image = filepath.Join(cfg.Dir, image)
	}
	if resolved, err := pol.checkImage(image, cfg.AllocDir, cfg.Dir); err != nil {
		bad("image_path %q: %v", drivers.String(c, "image_path"), err)
	} else {
		image = resolved
	}
	args := drivers.StringList(c, "args")
	for _, p := range pol.checkArgs(args) {
		bad("%s", p)
	}

	accel := drivers.String(c, "accelerator")
	switch accel {
	case "":
		accel = accelTCG
		if kvm.usable {
			accel = accelKVM
		}
	case accelKVM:
		if !kvm.usable {
			bad("accelerator = \"kvm\", but KVM is not available on this node: %s", kvm.reason)
		}
	case accelTCG:
	default:
		bad("accelerator %q: must be kvm or tcg", accel)
	}

	iface := drivers.String(c, "drive_interface")
	if iface == "" {
		iface = defaultDrive
	}
	if !slices.Contains([]string{"ide", "scsi", "sd", "mtd", "floppy", "pflash", "virtio", "none"}, iface) {
		bad("drive_interface %q: must be one of ide, scsi, sd, mtd, floppy, pflash, virtio, none", iface)
	}

	fwd, err := hostForwards(cfg.Ports, drivers.NumberMap(c, "port_map"), c["port_map"] != nil)
	if err != nil {
		bad("%v", err)
	}
	virtfs, volProblems := virtfsArgs(cfg.Mounts)
	problems = append(problems, volProblems...)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", drivers.ErrInvalidConfig, strings.Join(problems, "; "))
	}

	mem := cfg.Resources.MemoryMB
	if mem <= 0 {
		mem = defaultMemoryMB
	}
	name := cfg.TaskName
	if name == "" {
		name = cfg.ID
	}
	argv := []string{bin,
		"-machine", "type=pc,accel=" + accel,
		"-name", optEscape(name),
		"-m", strconv.Itoa(mem) + "M",
		"-drive", "file=" + optEscape(image) + ",if=" + iface,
		// The console is the first serial port on stdout, which the
		// runner writes to the task's logs; the human monitor is off
		// and QMP, a machine protocol on a socket, replaces it.
		"-display", "none",
		"-serial", "stdio",
		"-monitor", "none",
		"-qmp", "unix:" + optEscape(qmpPath) + ",server=on,wait=off",
		"-netdev", "user,id=user.0" + fwd,
		"-device", "virtio-net,netdev=user.0",
	}
	if accel == accelKVM {
		argv = append(argv, "-cpu", "host")
	}
	argv = append(argv, virtfs...)
	argv = append(argv, args...)
	return &vmSpec{Argv: argv, Accelerator: accel, Graceful: drivers.Bool(c, "graceful_shutdown")}, nil
}

// hostForwards is the ",hostfwd=…" part of the user-mode netdev: each
// group port (or each in port_map) from HostIP:HostPort on the host to
// its port in the guest, tcp and udp as in Nomad.
func hostForwards(ports []drivers.Port, portMap map[string]int64, mapped bool) (string, error) {
	type fwd struct {
		p     drivers.Port
		guest int64
	}
	var fwds []fwd
	if mapped {
		for _, label := range slices.Sorted(maps.Keys(portMap)) {
			i := slices.IndexFunc(ports, func(p drivers.Port) bool { return p.Label == label })
			if i < 0 {
				have := make([]string, len(ports))
				for j, p := range ports {
					have[j] = p.Label
				}
				return "", fmt.Errorf("port_map: %q is not a port of the group's network (group ports: %q)", label, have)
			}
			fwds = append(fwds, fwd{ports[i], portMap[label]})
		}
	} else {
		for _, p := range ports {
			guest := int64(p.ContainerPort)
			if guest == 0 {
				guest = int64(p.HostPort)
			}
			fwds = append(fwds, fwd{p, guest})
		}
	}
	var b strings.Builder
	for _, f := range fwds {
		if f.p.HostPort <= 0 || f.p.HostPort > 65535 || f.guest <= 0 || f.guest > 65535 {
			return "", fmt.Errorf("port %q maps host port %d to guest port %d; both must be 1-65535", f.p.Label, f.p.HostPort, f.guest)
		}
		if f.p.HostIP != "" {
			if _, err := netip.ParseAddr(f.p.HostIP); err != nil {
				return "", fmt.Errorf("port %q has host IP %q: %v", f.p.Label, f.p.HostIP, err)
			}
		}
		for _, proto := range []string{"tcp", "udp"} {
			fmt.Fprintf(&b, ",hostfwd=%s:%s:%d-:%d", proto, f.p.HostIP, f.p.HostPort, f.guest)
		}
	}
	return b.String(), nil
}

// optEscape escapes a value inside a qemu option list, where a comma
// separates options and ",," is a literal comma.
func optEscape(s string) string { return strings.ReplaceAll(s, ",", ",,") }
