package docker

import (
	"github.com/moby/moby/api/types/container"

	"github.com/droverhq/drover/drivers"
)

// containerHostname is the container's hostname: the task's own config
// `hostname` when set (the more specific of the two), else the group
// network's `hostname` (cfg.Hostname, interpolated and checked by the
// agent), which the daemon also writes into the container's /etc/hosts,
// as Nomad's bridge mode does. A container that joins another's network
// namespace (network_mode = "container:<id>") gets none from the group:
// the daemon refuses a hostname there. Empty leaves the daemon's default,
// the container ID's prefix.
func containerHostname(c map[string]any, cfg *drivers.TaskConfig) string {
	if h := drivers.String(c, "hostname"); h != "" {
		return h
	}
	if container.NetworkMode(drivers.String(c, "network_mode")).IsContainer() {
		return ""
	}
	return cfg.Hostname
}
