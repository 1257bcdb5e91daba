package scheduler

import (
	"math/bits"
	"math/rand/v2"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

const maxPort = 65535

// portSet is a node's used host ports as a bitmap: 8 KiB, built only for
// nodes that a group with ports looks at.
type portSet struct {
	bits     [(maxPort + 1) / 64]uint64
	min, max int // the node's dynamic range
	dynUsed  int // used ports inside the dynamic range
}

func newPortSet(n *cluster.Node) *portSet {
	ps := &portSet{min: n.MinDynamicPort, max: n.MaxDynamicPort}
	if ps.min <= 0 {
		ps.min = cluster.DefaultMinDynamicPort
	}
	if ps.max <= 0 {
		ps.max = cluster.DefaultMaxDynamicPort
	}
	for _, p := range n.ReservedPorts {
		ps.set(p)
	}
	return ps
}

func (ps *portSet) used(p int) bool {
	return p < 0 || p > maxPort || ps.bits[p/64]&(1<<(p%64)) != 0
}

func (ps *portSet) set(p int) {
	if p <= 0 || p > maxPort || ps.used(p) {
		return
	}
	ps.bits[p/64] |= 1 << (p % 64)
	if p >= ps.min && p <= ps.max {
		ps.dynUsed++
	}
}

func (ps *portSet) clear(p int) {
	if p <= 0 || p > maxPort || !ps.used(p) {
		return
	}
	ps.bits[p/64] &^= 1 << (p % 64)
	if p >= ps.min && p <= ps.max {
		ps.dynUsed--
	}
}

func (ps *portSet) addAlloc(a *cluster.Allocation) {
	for _, p := range a.Resources.Ports {
		ps.set(p.Value)
	}
}

func (ps *portSet) removeAlloc(a *cluster.Allocation) {
	for _, p := range a.Resources.Ports {
		ps.clear(p.Value)
	}
}

// Port failures, as DimensionExhausted keys.
const (
	dimPortCollision = "network: reserved port collision"
	dimPortDynamic   = "network: dynamic port selection failed"
)

// fits reports whether the group's ports can be had on the node: every
// static port free and enough free ports left in the dynamic range. It
// returns the exhausted dimension, or "".
func (ps *portSet) fits(ports []jobspec.Port, dynamic int) string {
	free := ps.max - ps.min + 1 - ps.dynUsed
	for i, p := range ports {
		if p.Static == 0 {
			continue
		}
		if ps.used(p.Static) || duplicateStatic(ports[:i], p.Static) {
			return dimPortCollision
		}
		if p.Static >= ps.min && p.Static <= ps.max {
			free--
		}
	}
	if dynamic > free {
		return dimPortDynamic
	}
	return ""
}

func duplicateStatic(ports []jobspec.Port, v int) bool {
	for _, p := range ports {
		if p.Static == v {
			return true
		}
	}
	return false
}

// maxRandomPortTries bounds the random probes for a dynamic port before a
// scan of the range, which always finds one when fits said so.
const maxRandomPortTries = 20

// assign picks host ports for the group and marks them used. fits must
// have returned "" for the same ports.
func (ps *portSet) assign(ports []jobspec.Port, rnd *rand.Rand) []cluster.AllocatedPort {
	if len(ports) == 0 {
		return nil
	}
	// Static ports first, so that a dynamic pick cannot take one.
	out := make([]cluster.AllocatedPort, len(ports))
	for i, p := range ports {
		if p.Static != 0 {
			ps.set(p.Static)
			out[i] = cluster.AllocatedPort{Label: p.Label, Value: p.Static, To: p.To}
		}
	}
	for i, p := range ports {
		if p.Static == 0 {
			v := ps.pickDynamic(rnd)
			ps.set(v)
			out[i] = cluster.AllocatedPort{Label: p.Label, Value: v, To: p.To}
		}
	}
	return out
}

func (ps *portSet) pickDynamic(rnd *rand.Rand) int {
	span := ps.max - ps.min + 1
	for range maxRandomPortTries {
		if v := ps.min + rnd.IntN(span); !ps.used(v) {
			return v
		}
	}
	for w := ps.min / 64; w <= ps.max/64; w++ {
		free := ^ps.bits[w]
		for free != 0 {
			v := w*64 + bits.TrailingZeros64(free)
			if v >= ps.min && v <= ps.max {
				return v
			}
			free &= free - 1
		}
	}
	return 0 // unreachable when fits passed
}
