package docker

import (
	"context"
	"fmt"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/droverhq/drover/drivers"
)

var _ drivers.Networker = (*Driver)(nil)

// TaskNetwork implements drivers.Networker: the container's IP on its
// network, read from the daemon, and each group port's `to` side.
func (d *Driver) TaskNetwork(ctx context.Context, h *drivers.TaskHandle) (*drivers.TaskNetwork, error) {
	t, err := d.tasks.Lookup(h)
	if err != nil {
		return nil, err
	}
	info, err := d.api.ContainerInspect(ctx, t.st.ContainerID, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("docker: inspect %s: %w", t.st.ContainerName, err)
	}
	var mode string
	if hc := info.Container.HostConfig; hc != nil {
		mode = string(hc.NetworkMode)
	}
	return containerNetwork(mode, info.Container.NetworkSettings, h.Config), nil
}

// containerNetwork is the pure part of TaskNetwork. Nil when the container
// has no address of its own: host and none modes, a shared namespace
// (container:<id>), or no IP yet. AutoAdvertise follows Nomad's docker
// driver: only a user-defined network is advertised by address_mode =
// "auto"; the default bridge's addresses are not reachable from other
// nodes.
func containerNetwork(mode string, ns *container.NetworkSettings, cfg *drivers.TaskConfig) *drivers.TaskNetwork {
	nm := container.NetworkMode(mode)
	if nm.IsHost() || nm.IsNone() || nm.IsContainer() || ns == nil {
		return nil
	}
	name := mode
	if name == "" || nm.IsDefault() {
		name = "bridge"
	}
	ep := ns.Networks[name]
	if ep == nil || !ep.IPAddress.IsValid() {
		return nil
	}
	tn := &drivers.TaskNetwork{IP: ep.IPAddress.String(), AutoAdvertise: name != "bridge"}
	if cfg != nil {
		for _, p := range cfg.Ports {
			to := p.ContainerPort
			if to == 0 {
				to = p.HostPort
			}
			if tn.PortMap == nil {
				tn.PortMap = map[string]int{}
			}
			tn.PortMap[p.Label] = to
		}
	}
	return tn
}
