package allocrunner

import (
	"fmt"
	"path"
	"strings"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

// volumeMounts resolves a task's volume_mount blocks to host paths: the
// mount names a volume of the group, the group's volume names a
// host_volume of this node (per_alloc: "<source>[<index>]" of allocName),
// and the host volume has the path. As in Nomad, a mount is read-only
// when the host volume, the group's volume or the mount says so.
//
// The destination is the job's, untrusted: it is cleaned here onto "/"
// (so "../../etc" becomes "/etc", inside the task), and drivers join it
// onto the task's root with securejoin besides.
func volumeMounts(g *jobspec.Group, t *jobspec.Task, node *cluster.Node, allocName string) ([]drivers.Mount, error) {
	if len(t.VolumeMounts) == 0 {
		return nil, nil
	}
	var out []drivers.Mount
	for _, vm := range t.VolumeMounts {
		req := g.Volumes[vm.Volume]
		if req == nil {
			return nil, fmt.Errorf("volume_mount: task %q mounts volume %q, which group %q does not define; add volume %q { type = \"host\" source = \"...\" } to the group",
				t.Name, vm.Volume, g.Name, vm.Volume)
		}
		if req.Type != "" && req.Type != "host" {
			return nil, fmt.Errorf("volume_mount: volume %q is of type %q; Drover mounts host volumes only (type = \"host\")", vm.Volume, req.Type)
		}
		if strings.TrimSpace(vm.Destination) == "" {
			return nil, fmt.Errorf("volume_mount: the mount of volume %q has no destination; set destination = \"/data\"", vm.Volume)
		}
		source := req.Source
		if req.PerAlloc {
			source += allocSuffix(allocName)
		}
		var hv cluster.HostVolume
		ok := false
		if node != nil {
			hv, ok = node.HostVolumes[source]
		}
		if !ok {
			// The scheduler placed the allocation here because the node
			// had it: the agent's configuration changed since.
			return nil, fmt.Errorf("volume_mount: host volume %q (volume %q of group %q) is not configured on this node; add host_volume %q { path = \"...\" } to the agent's configuration",
				source, vm.Volume, g.Name, source)
		}
		out = append(out, drivers.Mount{
			Volume:   vm.Volume,
			HostPath: hv.Path,
			TaskPath: path.Clean("/" + vm.Destination),
			ReadOnly: hv.ReadOnly || req.ReadOnly || vm.ReadOnly,
		})
	}
	return out, nil
}

// allocSuffix is the "[N]" that ends an allocation's name ("web.db[2]"),
// which per_alloc volumes append to their source, as Nomad's AllocSuffix.
func allocSuffix(name string) string {
	i := strings.LastIndexByte(name, '[')
	if i < 0 || !strings.HasSuffix(name, "]") {
		return ""
	}
	return name[i:]
}
