package allocrunner

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
)

// Address modes of services and checks (Nomad's address_mode). Which
// address a check probes, and which one issue 16's service registration
// will register (serviceAddr), as Nomad decides them:
//
//   - host: the node's address (the agent's network_ip, or the port's
//     host_network address) and the allocated host port.
//   - driver: the address the task's driver gave it (drivers.Networker:
//     a docker container's IP on its network) and the port inside the
//     task, the port's `to`. A task without a network of its own (exec,
//     raw_exec, qemu with user networking, docker with network_mode =
//     "host") has only the node's, so driver resolves like host.
//   - alloc: the address of the allocation's network namespace (bridge
//     mode) with the `to` port. Drover's agent builds no group network
//     namespace yet, so every allocation is on the node's network and
//     alloc resolves like host.
//   - auto (services only, the default): driver when the driver asks
//     for its address to be advertised (docker on a user-defined
//     network), else host.
//
// A check's address_mode defaults to host and, as in Nomad, is not
// inherited from its service: a service that registers the container's
// address may still be probed through the host's port mapping.
const (
	addrModeAuto   = "auto"
	addrModeHost   = "host"
	addrModeDriver = "driver"
	addrModeAlloc  = "alloc"
)

// addrInput is what resolving an address needs.
type addrInput struct {
	Mode string // the check's or service's address_mode
	// Port is the service's or check's port: a label of the group's
	// network, or a number.
	Port   string
	HostIP string // the agent's network_ip
	Ports  []cluster.AllocatedPort
	// Driver is the task's own network, nil when it has none.
	Driver *drivers.TaskNetwork
}

// resolveAddr returns host:port for in. Mode "" is host (a check's
// default); callers resolving a service's address pass its mode with ""
// meaning auto (serviceAddr).
func resolveAddr(in addrInput) (string, error) {
	mode := in.Mode
	if mode == "" {
		mode = addrModeHost
	}
	switch mode {
	case addrModeAuto:
		if in.Driver != nil && in.Driver.AutoAdvertise {
			return driverAddr(in)
		}
		return hostAddr(in)
	case addrModeHost, addrModeAlloc:
		// alloc: no group network namespace (see above), so the host's.
		return hostAddr(in)
	case addrModeDriver:
		if in.Driver == nil || in.Driver.IP == "" {
			return hostAddr(in)
		}
		return driverAddr(in)
	}
	return "", fmt.Errorf("unknown address_mode %q (use host, driver, alloc or, for a service, auto)", in.Mode)
}

// serviceAddr is the address a service registers: its address_mode with
// the default auto. Kept beside the check's for issue 16's registration.
func serviceAddr(in addrInput) (string, error) {
	if in.Mode == "" {
		in.Mode = addrModeAuto
	}
	return resolveAddr(in)
}

func hostAddr(in addrInput) (string, error) {
	ip := in.HostIP
	if ip == "" {
		ip = "127.0.0.1"
	}
	if n, err := strconv.Atoi(in.Port); err == nil {
		return net.JoinHostPort(ip, strconv.Itoa(n)), nil
	}
	for _, p := range in.Ports {
		if p.Label == in.Port {
			host := ip
			if p.HostIP != "" {
				host = p.HostIP
			}
			return net.JoinHostPort(host, strconv.Itoa(p.Value)), nil
		}
	}
	return "", fmt.Errorf("no port %q in the allocation", in.Port)
}

// driverAddr: the task's own IP and the port inside it. A numeric port is
// used as written (Nomad allows it for driver mode: no mapping needed).
func driverAddr(in addrInput) (string, error) {
	if n, err := strconv.Atoi(in.Port); err == nil {
		return net.JoinHostPort(in.Driver.IP, strconv.Itoa(n)), nil
	}
	if to, ok := in.Driver.PortMap[in.Port]; ok && to > 0 {
		return net.JoinHostPort(in.Driver.IP, strconv.Itoa(to)), nil
	}
	for _, p := range in.Ports {
		if p.Label == in.Port {
			to := p.To
			if to == 0 {
				to = p.Value
			}
			return net.JoinHostPort(in.Driver.IP, strconv.Itoa(to)), nil
		}
	}
	return "", fmt.Errorf("no port %q in the allocation", in.Port)
}

// driverCheckAddr resolves an address_mode = "driver" check against its
// task's own network, asked of the driver now that the task runs. A task
// whose driver has no network of its own keeps the host address.
func (r *Runner) driverCheckAddr(ctx context.Context, c checkSpec) (string, error) {
	var tr *taskRunner
	for _, t := range r.order {
		if t.task.Name == c.task {
			tr = t
		}
	}
	if tr == nil {
		return c.addr, nil // a group service without a task: the host's
	}
	tr.mu.Lock()
	h := tr.handle
	tr.mu.Unlock()
	nw, ok := r.driverFor(tr.task).(drivers.Networker)
	if h == nil || !ok {
		return c.addr, nil
	}
	tn, err := nw.TaskNetwork(ctx, h)
	if err != nil {
		return "", fmt.Errorf("check %q: the task's address: %w", c.name, err)
	}
	in := c.addrIn
	in.Driver = tn
	return resolveAddr(in)
}
