package docker

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/registry"

	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

// containerSpec is everything Start sends to the daemon, computed from the
// task config before anything is sent: a plan, built by a pure function
// and tested on its own.
type containerSpec struct {
	Name   string
	Image  string // normalized, e.g. docker.io/library/redis:7
	Config *container.Config
	Host   *container.HostConfig
	// Auth is the task's auth block; nil means the node's docker config.
	Auth      *registry.AuthConfig
	ForcePull bool
	// AuthSoftFail: pull without credentials when the node's cannot be
	// read (auth_soft_fail).
	AuthSoftFail bool
	// PullTimeout is the task's image_pull_timeout; 0 means the node's.
	PullTimeout time.Duration
}

// Paths inside the container where the task's directories are bound, as
// Nomad binds them, so templates and artifacts reach the task.
const (
	containerAllocDir   = "/alloc"
	containerLocalDir   = "/local"
	containerSecretsDir = "/secrets"
)

// buildSpec checks cfg against the schema and the node's permissions and
// turns it into a containerSpec. Every problem found is reported, not just
// the first, wrapped in drivers.ErrInvalidConfig.
func buildSpec(nc Config, cfg *drivers.TaskConfig) (*containerSpec, error) {
	if errs := ConfigSpec().ValidateDriver("docker", cfg.Config); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = "config." + e.Error()
		}
		return nil, fmt.Errorf("%w: %s", drivers.ErrInvalidConfig, strings.Join(msgs, "; "))
	}
	c := cfg.Config
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	image := drivers.String(c, "image")
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		bad("image %q is not a valid image reference: %v", image, err)
	} else {
		image = reference.TagNameOnly(ref).String()
	}

	labels := drivers.StringMap(c, "labels")
	for k := range labels {
		if strings.HasPrefix(k, labelPrefix) {
			bad("label %q: the %s prefix is reserved for Drover's own labels", k, labelPrefix)
		}
	}
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, taskLabels(nc, cfg))

	cc := &container.Config{
		Image:      image,
		Env:        envList(cfg.Env),
		Labels:     labels,
		User:       cfg.User,
		WorkingDir: drivers.String(c, "work_dir"),
		Hostname:   containerHostname(c, cfg), // hostname.go
		Entrypoint: drivers.StringList(c, "entrypoint"),
	}
	if cmd := drivers.String(c, "command"); cmd != "" {
		cc.Cmd = append([]string{cmd}, drivers.StringList(c, "args")...)
	} else {
		cc.Cmd = drivers.StringList(c, "args")
	}

	hc := &container.HostConfig{
		NetworkMode: container.NetworkMode(drivers.String(c, "network_mode")),
		Privileged:  drivers.Bool(c, "privileged"),
		CapDrop:     drivers.StringList(c, "cap_drop"),
		CapAdd:      drivers.StringList(c, "cap_add"),
		Resources:   resources(cfg),
		// The driver streams logs from the daemon's own log; json-file
		// is the one every daemon can read back with `since`.
		LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "2"}},
	}
	if hc.Privileged && !nc.AllowPrivileged {
		bad("privileged = true, but this node does not allow privileged containers")
	}
	if err := checkCaps(hc.CapAdd, nc.AllowedCaps); err != nil {
		bad("%v", err)
	}

	ports, portList, err := legacyPortMap(drivers.NumberMap(c, "port_map"), drivers.StringList(c, "ports"), cfg.Ports)
	if err != nil {
		bad("%v", err)
	}
	cc.ExposedPorts, hc.PortBindings, err = portBindings(portList, ports)
	if err != nil {
		bad("%v", err)
	}
	var errs0 []error
	hc.IpcMode, hc.PidMode, errs0 = namespaceModes(nc, drivers.String(c, "ipc_mode"), drivers.String(c, "pid_mode"))
	for _, e := range errs0 {
		bad("%v", e)
	}
	hc.Devices, errs0 = devices(nc, drivers.Blocks(c, "devices"))
	for _, e := range errs0 {
		bad("%v", e)
	}
	for _, e := range hostOptions(nc, cfg, c, cc, hc) {
		bad("%v", e)
	}
	logOptions(drivers.Blocks(c, "logging"), hc)
	pullTimeout, err := pullTimeout(drivers.String(c, "image_pull_timeout"))
	if err != nil {
		bad("%v", err)
	}
	var errs []error
	hc.Binds, errs = taskDirBinds(cfg)
	for _, e := range errs {
		bad("%v", e)
	}
	binds, errs := volumeBinds(nc, cfg, drivers.StringList(c, "volumes"))
	hc.Binds = append(hc.Binds, binds...)
	for _, e := range errs {
		bad("%v", e)
	}
	hc.Mounts, errs = mounts(nc, cfg, append(drivers.Blocks(c, "mount"), drivers.Blocks(c, "mounts")...))
	for _, e := range errs {
		bad("%v", e)
	}
	volMounts, errs := hostVolumeMounts(cfg)
	hc.Mounts = append(hc.Mounts, volMounts...)
	for _, e := range errs {
		bad("%v", e)
	}

	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", drivers.ErrInvalidConfig, strings.Join(problems, "; "))
	}
	return &containerSpec{
		Name:         containerName(cfg),
		Image:        image,
		Config:       cc,
		Host:         hc,
		Auth:         authBlock(drivers.Blocks(c, "auth")),
		ForcePull:    drivers.Bool(c, "force_pull"),
		AuthSoftFail: drivers.Bool(c, "auth_soft_fail"),
		PullTimeout:  pullTimeout,
	}, nil
}

// taskLabels are the labels that find a container again.
func taskLabels(nc Config, cfg *drivers.TaskConfig) map[string]string {
	l := map[string]string{LabelAllocID: cfg.AllocID, LabelTask: cfg.TaskName, LabelJob: cfg.JobName}
	if nc.NodeID != "" {
		l[LabelNodeID] = nc.NodeID
	}
	return l
}

// containerName is Nomad's <task>-<alloc ID>: unique per task on the node
// and readable in `docker ps`. Characters Docker refuses become '-'.
func containerName(cfg *drivers.TaskConfig) string {
	name := cfg.TaskName + "-" + cfg.AllocID
	if cfg.TaskName == "" || cfg.AllocID == "" {
		name = cfg.ID
	}
	b := []byte(name)
	for i, ch := range b {
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '.' || ch == '-'
		if !ok || i == 0 && (ch == '.' || ch == '-') {
			b[i] = '-'
			if i == 0 {
				b[i] = 'x'
			}
		}
	}
	return string(b)
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// resources maps the task's resources as Nomad does: memory_mb is the
// hard limit, or the reservation when memory_max_mb raises the limit;
// cpu (MHz) becomes relative CPU shares.
func resources(cfg *drivers.TaskConfig) container.Resources {
	r := cfg.Resources
	var out container.Resources
	if r.MemoryMB > 0 {
		out.Memory = int64(r.MemoryMB) << 20
		switch {
		case r.MemoryMaxMB == jobspec.MemoryUnlimited:
			// memory_max = -1: no hard limit, MemoryMB reserved.
			out.MemoryReservation = out.Memory
			out.Memory = 0
		case r.MemoryMaxMB > r.MemoryMB:
			out.MemoryReservation = out.Memory
			out.Memory = int64(r.MemoryMaxMB) << 20
		}
	}
	if r.CPU > 0 {
		out.CPUShares = max(int64(r.CPU), 2) // the kernel's minimum weight
	}
	return out
}

func checkCaps(add, allowed []string) error {
	if slices.Contains(allowed, "ALL") {
		return nil
	}
	var denied []string
	for _, c := range add {
		name := strings.TrimPrefix(strings.ToUpper(c), "CAP_")
		if !slices.Contains(allowed, name) {
			denied = append(denied, c)
		}
	}
	if len(denied) > 0 {
		return fmt.Errorf("cap_add %q: not allowed on this node (allowed: %s)", denied, strings.Join(allowed, ", "))
	}
	return nil
}

// portBindings publishes the named group ports, each on tcp and udp as
// Nomad does: host HostIP:HostPort → ContainerPort (or HostPort).
func portBindings(labels []string, ports []drivers.Port) (network.PortSet, network.PortMap, error) {
	if len(labels) == 0 {
		return nil, nil, nil
	}
	set, bindings := network.PortSet{}, network.PortMap{}
	var errs []error
	for _, label := range labels {
		i := slices.IndexFunc(ports, func(p drivers.Port) bool { return p.Label == label })
		if i < 0 {
			have := make([]string, len(ports))
			for j, p := range ports {
				have[j] = p.Label
			}
			errs = append(errs, fmt.Errorf("ports: %q is not a port of the group's network (group ports: %q)", label, have))
			continue
		}
		p := ports[i]
		inside := p.ContainerPort
		if inside == 0 {
			inside = p.HostPort
		}
		if p.HostPort <= 0 || p.HostPort > 65535 || inside <= 0 || inside > 65535 {
			errs = append(errs, fmt.Errorf("ports: %q maps host port %d to %d; both must be 1-65535", label, p.HostPort, inside))
			continue
		}
		var ip netip.Addr
		if p.HostIP != "" {
			var err error
			if ip, err = netip.ParseAddr(p.HostIP); err != nil {
				errs = append(errs, fmt.Errorf("ports: %q has host IP %q: %v", label, p.HostIP, err))
				continue
			}
		}
		for _, proto := range []network.IPProtocol{network.TCP, network.UDP} {
			cp, _ := network.PortFrom(uint16(inside), proto)
			set[cp] = struct{}{}
			bindings[cp] = append(bindings[cp], network.PortBinding{HostIP: ip, HostPort: strconv.Itoa(p.HostPort)})
		}
	}
	return set, bindings, errors.Join(errs...)
}

func authBlock(blocks []map[string]any) *registry.AuthConfig {
	if len(blocks) == 0 {
		return nil
	}
	b := blocks[0]
	return &registry.AuthConfig{
		Username:      drivers.String(b, "username"),
		Password:      drivers.String(b, "password"),
		ServerAddress: drivers.String(b, "server_address"),
		IdentityToken: drivers.String(b, "identity_token"),
	}
}
