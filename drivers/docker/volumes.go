package docker

import (
	"fmt"
	"path"
	"path/filepath"

	"github.com/moby/moby/api/types/mount"

	"github.com/droverhq/drover/drivers"
)

// hostVolumeMounts binds the task's host volumes (volume_mount, resolved
// by the agent) at their destinations. They need no volumes.enabled: the
// operator offered these paths with host_volume, as in Nomad. The
// destination is cleaned onto the container's root; the daemon resolves
// it inside the container's filesystem.
func hostVolumeMounts(cfg *drivers.TaskConfig) ([]mount.Mount, []error) {
	var out []mount.Mount
	var errs []error
	for _, m := range cfg.Mounts {
		target := path.Clean("/" + m.TaskPath)
		switch {
		case !filepath.IsAbs(m.HostPath):
			errs = append(errs, fmt.Errorf("volume %q: host path %q is not absolute", m.Volume, m.HostPath))
		case target == "/":
			errs = append(errs, fmt.Errorf("volume %q: destination %q is the container's root; mount it elsewhere, e.g. /data", m.Volume, m.TaskPath))
		default:
			out = append(out, mount.Mount{Type: mount.TypeBind, Source: filepath.Clean(m.HostPath), Target: target, ReadOnly: m.ReadOnly})
		}
	}
	return out, errs
}
