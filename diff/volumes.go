package diff

import (
	"maps"
	"slices"

	"github.com/droverhq/drover/jobspec"
)

// Host volumes are destructive, as in Nomad: a volume is bound when the
// task starts, so a different volume, source or mode needs a new
// allocation (and maybe another node: the scheduler places a group only
// where its host volumes are).

func volumesEqual(a, b map[string]*jobspec.VolumeRequest) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		if !ptrEqual(va, b[k]) {
			return false
		}
	}
	return true
}

// volumeNodes are a group's volume blocks, by name.
func volumeNodes(vs map[string]*jobspec.VolumeRequest) []*node {
	ns := make([]*node, 0, len(vs))
	for _, name := range slices.Sorted(maps.Keys(vs)) {
		v := vs[name]
		if v == nil {
			continue
		}
		var as attrs
		as.add("Name", "name", v.Name, destructive)
		as.add("Type", "type", v.Type, destructive)
		as.add("Source", "source", v.Source, destructive)
		as.add("ReadOnly", "read_only", fmtBool(v.ReadOnly), destructive)
		as.add("PerAlloc", "per_alloc", fmtBool(v.PerAlloc), destructive)
		as.add("Sticky", "sticky", fmtBool(v.Sticky), destructive)
		n := newNode("Volume", listSeg("volume", name), destructive, as)
		n.key = name
		ns = append(ns, n)
	}
	return ns
}

// volumeMountNodes are a task's volume_mount blocks, told apart by their
// destination (a task mounts one thing at a path).
func volumeMountNodes(ms []jobspec.VolumeMount) []*node {
	ns := make([]*node, 0, len(ms))
	for _, m := range ms {
		var as attrs
		as.add("Volume", "volume", m.Volume, destructive)
		as.add("Destination", "destination", m.Destination, destructive)
		as.add("ReadOnly", "read_only", fmtBool(m.ReadOnly), destructive)
		as.add("PropagationMode", "propagation_mode", m.PropagationMode, destructive)
		n := newNode("VolumeMount", listSeg("volume_mount", m.Destination), destructive, as)
		n.key = m.Destination
		ns = append(ns, n)
	}
	return uniqueKeys(ns)
}
