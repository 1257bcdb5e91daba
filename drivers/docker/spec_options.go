package docker

import (
	"fmt"
	"maps"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/droverhq/drover/drivers"
)

// The docker options added for issue 15: port_map, ipc_mode, pid_mode and
// devices. Each is a pure function of the task config and the node's
// permissions, like the rest of buildSpec.

// legacyPortMap applies Nomad 0.x's port_map { label = container port }:
// each label's container port becomes the mapped one (what `to` does
// today), and the mapped labels are published as if listed in ports. It
// returns the ports with the mapping applied and the labels to publish.
func legacyPortMap(portMap map[string]int64, labels []string, ports []drivers.Port) ([]drivers.Port, []string, error) {
	if len(portMap) == 0 {
		return ports, labels, nil
	}
	out := slices.Clone(ports)
	var errs []string
	for _, label := range slices.Sorted(maps.Keys(portMap)) {
		to := portMap[label]
		i := slices.IndexFunc(out, func(p drivers.Port) bool { return p.Label == label })
		switch {
		case i < 0:
			errs = append(errs, fmt.Sprintf("port_map: %q is not a port of the group's network; declare it there: network { port %q { to = %d } }", label, label, to))
			continue
		case to < 1 || to > 65535:
			errs = append(errs, fmt.Sprintf("port_map: %q maps to %d; a container port is 1-65535", label, to))
			continue
		}
		out[i].ContainerPort = int(to)
		if !slices.Contains(labels, label) {
			labels = append(labels, label)
		}
	}
	if len(errs) > 0 {
		return ports, labels, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, labels, nil
}

// namespaceModes checks ipc_mode and pid_mode. Sharing the host's IPC or
// PID namespace, or another container's, reaches outside the task, so as
// in Nomad it needs a node that allows privileged containers; the
// private forms are always allowed.
func namespaceModes(nc Config, ipc, pid string) (container.IpcMode, container.PidMode, []error) {
	var errs []error
	shared := func(v string) bool { return v == "host" || strings.HasPrefix(v, "container:") }
	switch {
	case ipc == "", ipc == "private", ipc == "shareable", ipc == "none":
	case shared(ipc):
		if !nc.AllowPrivileged {
			errs = append(errs, fmt.Errorf("ipc_mode = %q shares an IPC namespace outside the task, which needs a node that allows privileged containers (plugin \"docker\" { config { allow_privileged = true } }); leave ipc_mode out for a private one", ipc))
		}
	default:
		errs = append(errs, fmt.Errorf("ipc_mode = %q: use private, shareable, none, host or container:<name>", ipc))
	}
	switch {
	case pid == "", pid == "private":
		pid = ""
	case shared(pid):
		if !nc.AllowPrivileged {
			errs = append(errs, fmt.Errorf("pid_mode = %q shares a PID namespace outside the task, which needs a node that allows privileged containers (plugin \"docker\" { config { allow_privileged = true } }); leave pid_mode out for a private one", pid))
		}
	default:
		errs = append(errs, fmt.Errorf("pid_mode = %q: use private, host or container:<name>", pid))
	}
	return container.IpcMode(ipc), container.PidMode(pid), errs
}

// devices maps the devices blocks onto the container. A device is raw
// access to the host's hardware (a disk, /dev/mem), so unlike Nomad,
// which has no switch for it, Drover requires a node that allows
// privileged containers: secure by default, as for privileged itself.
func devices(nc Config, blocks []map[string]any) ([]container.DeviceMapping, []error) {
	if len(blocks) == 0 {
		return nil, nil
	}
	var errs []error
	if !nc.AllowPrivileged {
		errs = append(errs, fmt.Errorf("devices gives the task the host's hardware, which needs a node that allows privileged containers (plugin \"docker\" { config { allow_privileged = true } })"))
	}
	out := make([]container.DeviceMapping, 0, len(blocks))
	for i, b := range blocks {
		host := drivers.String(b, "host_path")
		inside := drivers.String(b, "container_path")
		if inside == "" {
			inside = host
		}
		perms := drivers.String(b, "cgroup_permissions")
		if perms == "" {
			perms = "rwm"
		}
		for _, p := range []struct{ name, v string }{{"host_path", host}, {"container_path", inside}} {
			if !path.IsAbs(p.v) || path.Clean(p.v) != p.v {
				errs = append(errs, fmt.Errorf("devices[%d].%s = %q: use an absolute, clean path such as /dev/fuse", i, p.name, p.v))
			}
		}
		if strings.Trim(perms, "rwm") != "" || len(perms) > 3 {
			errs = append(errs, fmt.Errorf("devices[%d].cgroup_permissions = %q: use any of r, w and m", i, perms))
		}
		out = append(out, container.DeviceMapping{PathOnHost: host, PathInContainer: inside, CgroupPermissions: perms})
	}
	return out, errs
}

// hostOptions applies the config options that map one to one onto the
// container (DNS, hosts, init, read-only root, /dev/shm, sysctls,
// ulimits, pids, the image's healthcheck, a hard memory limit, the OOM
// score, groups and security options), checking the few that could reach
// outside the container against the node's permissions.
func hostOptions(nc Config, cfg *drivers.TaskConfig, c map[string]any, cc *container.Config, hc *container.HostConfig) []error {
	var errs []error
	for _, s := range drivers.StringList(c, "dns_servers") {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("dns_servers: %q is not an IP address", s))
			continue
		}
		hc.DNS = append(hc.DNS, ip)
	}
	hc.DNSSearch = drivers.StringList(c, "dns_search_domains")
	hc.DNSOptions = drivers.StringList(c, "dns_options")
	for _, h := range drivers.StringList(c, "extra_hosts") {
		name, addr, ok := strings.Cut(h, ":")
		if _, err := netip.ParseAddr(addr); !ok || name == "" || (err != nil && addr != "host-gateway") {
			errs = append(errs, fmt.Errorf("extra_hosts: %q is not name:address", h))
			continue
		}
		hc.ExtraHosts = append(hc.ExtraHosts, h)
	}
	if _, ok := c["init"]; ok {
		v := drivers.Bool(c, "init")
		hc.Init = &v
	}
	hc.ReadonlyRootfs = drivers.Bool(c, "readonly_rootfs")
	if n, ok := drivers.Number(c, "shm_size"); ok {
		if n < 0 || n > 1<<40 {
			errs = append(errs, fmt.Errorf("shm_size = %v: use a size in bytes", n))
		} else {
			hc.ShmSize = int64(n)
		}
	}
	if m := drivers.StringMap(c, "sysctl"); len(m) > 0 {
		hc.Sysctls = m
	}
	limits := drivers.StringMap(c, "ulimit")
	for _, name := range slices.Sorted(maps.Keys(limits)) {
		u, err := parseUlimit(name, limits[name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		hc.Ulimits = append(hc.Ulimits, u)
	}
	if n, ok := drivers.Number(c, "pids_limit"); ok {
		if n < 0 || n != float64(int64(n)) {
			errs = append(errs, fmt.Errorf("pids_limit = %v: use a whole number (0: no limit)", n))
		} else {
			p := int64(n)
			hc.PidsLimit = &p
		}
	}
	for _, b := range drivers.Blocks(c, "healthchecks") {
		if drivers.Bool(b, "disable") {
			cc.Healthcheck = &container.HealthConfig{Test: []string{"NONE"}}
		}
	}
	if n, ok := drivers.Number(c, "memory_hard_limit"); ok && n > 0 {
		// Nomad's older spelling of memory_max: the hard limit, with
		// resources.memory as the reservation.
		if int(n) < cfg.Resources.MemoryMB || n > 1<<30 {
			errs = append(errs, fmt.Errorf("memory_hard_limit = %v MB must be at least resources.memory (%d MB)", n, cfg.Resources.MemoryMB))
		} else {
			hc.Memory = int64(n) << 20
			hc.MemoryReservation = int64(cfg.Resources.MemoryMB) << 20
		}
	}
	if n, ok := drivers.Number(c, "oom_score_adj"); ok {
		switch {
		case n < -1000 || n > 1000 || n != float64(int(n)):
			errs = append(errs, fmt.Errorf("oom_score_adj = %v: use a whole number from -1000 to 1000", n))
		case n < 0 && !nc.AllowPrivileged:
			// A negative score shields the container from the OOM
			// killer at the expense of everything else on the node.
			errs = append(errs, fmt.Errorf("oom_score_adj = %v protects the container from the OOM killer, which needs a node that allows privileged containers; use 0 or more", n))
		default:
			hc.OomScoreAdj = int(n)
		}
	}
	cc.OpenStdin = drivers.Bool(c, "interactive")
	hc.GroupAdd = drivers.StringList(c, "group_add")
	for _, o := range drivers.StringList(c, "security_opt") {
		// no-new-privileges only takes privileges away; seccomp,
		// apparmor and label options can lift the daemon's confinement.
		if o != "no-new-privileges" && o != "no-new-privileges:true" && !nc.AllowPrivileged {
			errs = append(errs, fmt.Errorf("security_opt %q can lift the container's confinement, which needs a node that allows privileged containers; only \"no-new-privileges\" is allowed here", o))
			continue
		}
		hc.SecurityOpt = append(hc.SecurityOpt, o)
	}
	return errs
}

// parseUlimit reads Nomad's "soft" or "soft:hard" ulimit value.
func parseUlimit(name, v string) (*container.Ulimit, error) {
	softS, hardS, both := strings.Cut(v, ":")
	soft, err := strconv.ParseInt(strings.TrimSpace(softS), 10, 64)
	hard := soft
	if err == nil && both {
		hard, err = strconv.ParseInt(strings.TrimSpace(hardS), 10, 64)
	}
	if err != nil || soft < -1 || hard < -1 || (hard >= 0 && soft > hard) {
		return nil, fmt.Errorf("ulimit %s = %q: use \"soft\" or \"soft:hard\" with soft at most hard, e.g. \"4096:8192\"", name, v)
	}
	return &container.Ulimit{Name: name, Soft: soft, Hard: hard}, nil
}

// maxPullTimeout bounds a task's image_pull_timeout: a pull holds a
// slot of the node's daemon, so a job cannot ask for hours.
const maxPullTimeout = time.Hour

func pullTimeout(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > maxPullTimeout {
		return 0, fmt.Errorf("image_pull_timeout = %q: use a duration from 1s to %s, e.g. \"10m\"", s, maxPullTimeout)
	}
	return d, nil
}

// logOptions applies the logging block: the log driver and its options,
// merged over Drover's json-file defaults when the driver stays
// json-file. Any driver is accepted: the daemon's dual logging (its
// default) keeps a local copy that Drover streams task logs from.
func logOptions(blocks []map[string]any, hc *container.HostConfig) {
	if len(blocks) == 0 {
		return
	}
	b := blocks[0]
	typ := drivers.String(b, "type")
	if typ == "" {
		typ = drivers.String(b, "driver")
	}
	opts := drivers.StringMap(b, "config")
	switch {
	case typ == "" || typ == hc.LogConfig.Type:
		merged := maps.Clone(hc.LogConfig.Config)
		maps.Copy(merged, opts)
		hc.LogConfig.Config = merged
	default:
		hc.LogConfig = container.LogConfig{Type: typ, Config: opts}
	}
}
