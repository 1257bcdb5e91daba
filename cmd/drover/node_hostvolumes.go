package main

import (
	"maps"
	"slices"
	"strings"

	"github.com/droverhq/drover/cluster"
)

// hostVolumesKV is the "Host Volumes" line of `drover node status NODE`
// (Nomad's), naming the node's host_volume blocks and which are
// read-only; nothing for a node without any.
func hostVolumesKV(vols map[string]cluster.HostVolume) [][2]string {
	if len(vols) == 0 {
		return nil
	}
	names := make([]string, 0, len(vols))
	for _, name := range slices.Sorted(maps.Keys(vols)) {
		if vols[name].ReadOnly {
			name += " (read-only)"
		}
		names = append(names, name)
	}
	return [][2]string{{"Host Volumes", strings.Join(names, ", ")}}
}
