package scheduler

import (
	"math"

	"github.com/droverhq/drover/cluster"
)

// Score names in AllocMetric.Scores, as Nomad names them.
const (
	scoreBinPack       = "binpack"
	scoreAntiAffinity  = "job-anti-affinity"
	scoreReschedule    = "node-reschedule-penalty"
	scoreAffinity      = "node-affinity"
	scoreSpread        = "allocation-spread"
	scoreNormalized    = "normalized-score"
	binPackMaxFitScore = 18.0
)

// Resource dimensions, as DimensionExhausted keys.
const (
	dimCPU    = "cpu"
	dimMemory = "memory"
)

// The limit's skipping, as Nomad's LimitIterator: up to maxSkip nodes
// scoring at most skipThreshold are set aside while looking for better
// ones, and used only when the scan runs out.
const (
	maxSkip       = 3
	skipThreshold = 0.0
)

// scores are one node's scores for one placement. Components that do not
// apply are NaN and do not count in the average, as in Nomad, where a
// scorer that has nothing to say appends no score.
type scores struct {
	binpack, antiAff, resched, affinity, spread float64
	final                                       float64
}

func (s *scores) normalize() {
	sum, n := s.binpack, 1.0
	for _, v := range [...]float64{s.antiAff, s.resched, s.affinity, s.spread} {
		if !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	s.final = sum / n
}

func (s *scores) toMap() map[string]float64 {
	m := make(map[string]float64, 6)
	m[scoreBinPack] = s.binpack
	m[scoreNormalized] = s.final
	set := func(name string, v float64) {
		if !math.IsNaN(v) {
			m[name] = v
		}
	}
	set(scoreAntiAffinity, s.antiAff)
	set(scoreReschedule, s.resched)
	set(scoreAffinity, s.affinity)
	set(scoreSpread, s.spread)
	return m
}

// metricAcc counts what one selection saw, without allocating; it becomes
// a cluster.AllocMetric only when the selection's outcome is recorded.
type metricAcc struct {
	evaluated, filtered, exhausted int
	byReason                       []int
	classFiltered                  map[string]int
	dims                           map[string]int
}

func (m *metricAcc) reset() {
	m.evaluated, m.filtered, m.exhausted = 0, 0, 0
	clear(m.byReason)
	clear(m.classFiltered)
	clear(m.dims)
}

func (m *metricAcc) filter(class string, reason uint16) {
	m.filtered++
	m.byReason[reason]++
	if class != "" {
		if m.classFiltered == nil {
			m.classFiltered = map[string]int{}
		}
		m.classFiltered[class]++
	}
}

func (m *metricAcc) exhaust(dim string) {
	m.exhausted++
	if m.dims == nil {
		m.dims = map[string]int{}
	}
	m.dims[dim]++
}

func (g *groupSel) metric(byDC map[string]int) *cluster.AllocMetric {
	m := &g.acc
	out := &cluster.AllocMetric{
		NodesEvaluated: m.evaluated, NodesFiltered: m.filtered, NodesExhausted: m.exhausted,
	}
	if len(byDC) > 0 {
		// One read-only map for every metric of the evaluation, as Nomad
		// shares it: it is the same for all of them.
		out.NodesAvailable = byDC
	}
	for i, c := range m.byReason {
		if c == 0 {
			continue
		}
		if out.ConstraintFiltered == nil {
			out.ConstraintFiltered = map[string]int{}
		}
		out.ConstraintFiltered[g.reasons[i]] += c
	}
	if len(m.classFiltered) > 0 {
		out.ClassFiltered = make(map[string]int, len(m.classFiltered))
		for k, v := range m.classFiltered {
			out.ClassFiltered[k] = v
		}
	}
	if len(m.dims) > 0 {
		out.DimensionExhausted = make(map[string]int, len(m.dims))
		for k, v := range m.dims {
			out.DimensionExhausted[k] = v
		}
	}
	return out
}

// candidate is a scored node.
type candidate struct {
	slot int
	s    scores
}

// selectNode picks a node for one allocation of g: it scans candidates
// from where the last selection stopped, filters them, and scores
// feasible ones until g.limit were scored, so a placement costs about
// limit nodes however large the cluster. penalty lists nodes that the
// allocation being replaced failed on. It reports false when no node
// fits; g.acc explains the outcome either way.
func (p *placer) selectNode(g *groupSel, penalty []string) (candidate, bool) {
	g.acc.reset()
	var skipped [maxSkip]candidate
	nSkipped := 0
	best := candidate{slot: -1}
	seen := 0
	consider := func(c candidate) {
		seen++
		if best.slot < 0 || c.s.final > best.s.final {
			best = c
		}
	}
	n := p.nCand
	for visited := 0; visited < n && seen < g.limit; visited++ {
		i := p.cursor
		p.cursor++
		if p.cursor == n {
			p.cursor = 0
		}
		c, ok := p.evaluate(g, i, penalty)
		if !ok {
			continue
		}
		if c.s.final <= skipThreshold && nSkipped < maxSkip {
			skipped[nSkipped] = c
			nSkipped++
			continue
		}
		consider(c)
	}
	for k := 0; k < nSkipped && seen < g.limit; k++ {
		consider(skipped[k])
	}
	return best, best.slot >= 0
}

// evaluate filters and scores candidate slot i for g.
func (p *placer) evaluate(g *groupSel, i int, penalty []string) (candidate, bool) {
	node := p.nodes[i]
	g.acc.evaluated++
	if f := g.feasible(i, node); f != feasOK {
		g.acc.filter(p.usage[i].class, f-feasFiltered)
		return candidate{}, false
	}
	if r, ok := p.dynamicCheck(g, i, node); !ok {
		g.acc.filter(p.usage[i].class, r)
		return candidate{}, false
	}
	u := p.use(i)
	if dim := p.fits(g, i, u); dim != "" {
		g.acc.exhaust(dim)
		return candidate{}, false
	}
	return candidate{slot: i, s: p.score(g, i, u, penalty)}, true
}

// dynamicCheck applies the constraints that depend on placements:
// distinct_hosts and distinct_property.
func (p *placer) dynamicCheck(g *groupSel, i int, node *cluster.Node) (uint16, bool) {
	if g.distinctHostsJob && p.usage[i].jobAllocs > 0 || g.distinctHostsGroup && p.groupAllocs(i, g.idx) > 0 {
		return g.reasonHosts, false
	}
	for k, d := range g.distinct {
		if !d.allows(node) {
			return g.reasonProps + uint16(k), false
		}
	}
	if !g.volumes.perAllocOK(node, g.allocName) {
		return g.reasonVolumes, false
	}
	return 0, true
}

// fits checks ports, then cpu, then memory, as Nomad's bin packing does,
// and returns the first exhausted dimension or "".
func (p *placer) fits(g *groupSel, i int, u *nodeUsage) string {
	if len(g.ports) > 0 {
		if dim := p.portsOf(i).fits(g.ports, g.dynPorts); dim != "" {
			return dim
		}
	}
	if u.cpu+g.cpu > u.availCPU {
		return dimCPU
	}
	if u.mem+g.mem > u.availMem {
		return dimMemory
	}
	return ""
}

// score combines Nomad's scorers for one more allocation of g on slot i.
func (p *placer) score(g *groupSel, i int, u *nodeUsage, penalty []string) scores {
	n := p.nodes[i]
	s := scores{
		binpack: binPackScore(u.availCPU, u.availMem, u.cpu+g.cpu, u.mem+g.mem),
		antiAff: math.NaN(), resched: math.NaN(), affinity: math.NaN(), spread: math.NaN(),
	}
	if c := p.groupAllocs(i, g.idx); c > 0 && g.count > 0 {
		s.antiAff = -float64(c+1) / float64(g.count)
	}
	for _, id := range penalty {
		if id == n.ID {
			s.resched = -1
			break
		}
	}
	if len(g.affinities) > 0 {
		if a := g.affinity(i, n); a != 0 {
			s.affinity = a
		}
	}
	if len(g.spreads) > 0 {
		total := 0.0
		for _, sp := range g.spreads {
			total += sp.score(sp.valueOf(i, n))
		}
		if total != 0 {
			s.spread = total
		}
	}
	s.normalize()
	return s
}

// binPackScore is Nomad's BestFit v3 score, normalised to [0, 1]: the
// fuller the node after the placement, the higher.
func binPackScore(availCPU, availMem, cpu, mem int) float64 {
	if availCPU <= 0 || availMem <= 0 {
		return 0
	}
	freeCPU := 1 - float64(cpu)/float64(availCPU)
	freeMem := 1 - float64(mem)/float64(availMem)
	// 10^x as e^(x ln 10): the same value, several times cheaper.
	total := math.Exp(freeCPU*math.Ln10) + math.Exp(freeMem*math.Ln10)
	fit := min(max(20-total, 0), binPackMaxFitScore)
	return fit / binPackMaxFitScore
}

// affinity returns the group's normalised affinity for candidate slot i,
// computed once per node.
func (g *groupSel) affinity(i int, n *cluster.Node) float64 {
	if i < len(g.affScore) && !math.IsNaN(g.affScore[i]) {
		return g.affScore[i]
	}
	total := 0.0
	for _, a := range g.affinities {
		if a.match(n) {
			total += a.weight
		}
	}
	v := total / g.affSum
	if i < len(g.affScore) {
		g.affScore[i] = v
	}
	return v
}
