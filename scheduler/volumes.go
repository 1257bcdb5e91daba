package scheduler

import (
	"maps"
	"slices"
	"strings"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// reasonHostVolumes is the filter key for nodes without a group's host
// volumes, in Nomad's words (FilterConstraintHostVolumes), so that
// `drover job plan` and allocation metrics say what Nomad says.
const reasonHostVolumes = "missing compatible host volumes"

// volumeReq is one host volume a group needs: the node's host_volume
// named source, writable unless readOnly.
type volumeReq struct {
	source   string
	readOnly bool
	perAlloc bool
}

// hostVolumeReqs are a group's host volume requests, compiled once per
// evaluation. Requests without per_alloc are the same for every
// allocation, so their check is cached with the group's other static
// checks; per_alloc ones name a different volume per allocation index
// and are checked for each placement.
type hostVolumeReqs struct {
	fixed, perAlloc []volumeReq
}

// compileHostVolumes collects the group's volume blocks of type "host",
// sorted by name so that the check is deterministic. Other types (csi)
// are not Drover's and the job parser refuses them.
func compileHostVolumes(g *jobspec.Group) hostVolumeReqs {
	var r hostVolumeReqs
	for _, name := range slices.Sorted(maps.Keys(g.Volumes)) {
		v := g.Volumes[name]
		if v == nil || (v.Type != "" && v.Type != "host") {
			continue
		}
		req := volumeReq{source: v.Source, readOnly: v.ReadOnly, perAlloc: v.PerAlloc}
		if v.PerAlloc {
			r.perAlloc = append(r.perAlloc, req)
		} else {
			r.fixed = append(r.fixed, req)
		}
	}
	return r
}

// fixedOK reports whether node n has every request that does not depend
// on the allocation, as Nomad's HostVolumeChecker: the volume exists, and
// a read-only host volume serves only read-only requests.
func (r hostVolumeReqs) fixedOK(n *cluster.Node) bool {
	for _, req := range r.fixed {
		if !hostVolumeOK(n, req.source, req.readOnly) {
			return false
		}
	}
	return true
}

// perAllocOK checks the per_alloc requests for the allocation named
// allocName ("job.group[2]"): each asks for "<source>[2]".
func (r hostVolumeReqs) perAllocOK(n *cluster.Node, allocName string) bool {
	if len(r.perAlloc) == 0 {
		return true
	}
	suffix := allocSuffix(allocName)
	for _, req := range r.perAlloc {
		if !hostVolumeOK(n, req.source+suffix, req.readOnly) {
			return false
		}
	}
	return true
}

// hostVolumeOK is the check of one request against node n.
func hostVolumeOK(n *cluster.Node, source string, readOnly bool) bool {
	v, ok := n.HostVolumes[source]
	return ok && (readOnly || !v.ReadOnly)
}

// allocSuffix is the "[N]" that ends an allocation's name, as Nomad's
// AllocSuffix; "" for a name without one.
func allocSuffix(name string) string {
	i := strings.LastIndexByte(name, '[')
	if i < 0 || !strings.HasSuffix(name, "]") {
		return ""
	}
	return name[i:]
}

// compileVolumes compiles the group's host volume requests and adds
// their filter reason to the group's metric keys.
func (g *groupSel) compileVolumes(group *jobspec.Group) {
	g.volumes = compileHostVolumes(group)
	g.reasonVolumes = uint16(len(g.reasons))
	g.reasons = append(g.reasons, reasonHostVolumes)
}
