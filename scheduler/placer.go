package scheduler

import (
	"math"
	"strconv"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// placer holds what one evaluation's placements need to know about the
// cluster as the plan changes it: each node's free resources and ports,
// where the job's allocations are, and the spread and distinct_property
// counts. It is the single owner of that mutable state; it loads a node's
// usage only when a placement first looks at the node, so the cost of an
// evaluation grows with the nodes it visits, not with the cluster.
type placer struct {
	st   State
	opts Options
	eval *cluster.Evaluation
	job  *cluster.Job
	spec *jobspec.Job
	plan *Plan

	// nodes holds the candidates, shuffled, in slots [0, nCand), then
	// other nodes that in-place updates touched.
	nodes  []*cluster.Node
	nCand  int
	slotOf map[string]int // built on first use
	usage  []nodeUsage
	cursor int // where the next selection starts scanning
	limit  int // base number of scored candidates per selection

	stopped map[string]bool // alloc IDs the plan stops
	// groupOnMore counts allocations per slot of groups past the
	// inline ones of nodeUsage.
	groupOnMore map[slotGroup]int

	groups      []*groupSel
	jobDistinct []*distinctProp
	byDC        map[string]int
}

type slotGroup struct{ slot, group int }

// inlineGroups is how many groups' allocation counts a nodeUsage holds
// without a map.
const inlineGroups = 4

// nodeUsage is a node's committed and planned usage, and copies of the
// node fields every selection reads: the slice of them is compact, so a
// scan touches one cache line per node instead of the scattered Node.
type nodeUsage struct {
	availCPU, availMem int // capacity less reserved
	class              string
	jobAllocs          int
	groupAllocs        [inlineGroups]int

	loaded   bool
	cpu, mem int
	allocs   []*cluster.Allocation // the state's, including terminal ones
	ports    *portSet              // nil until a group with ports looks
}

func hotUsage(n *cluster.Node) nodeUsage {
	return nodeUsage{
		availCPU: n.Resources.CPU - n.Reserved.CPU, availMem: n.Resources.MemoryMB - n.Reserved.MemoryMB,
		class: n.NodeClass,
	}
}

// groupAllocs returns the allocations of group gi on slot i.
func (p *placer) groupAllocs(i, gi int) int {
	if gi < inlineGroups {
		return p.usage[i].groupAllocs[gi]
	}
	return p.groupOnMore[slotGroup{i, gi}]
}

// newPlacer starts from the state less the allocations the plan already
// stops.
func newPlacer(st State, opts Options, eval *cluster.Evaluation, job *cluster.Job, plan *Plan, nodes []*cluster.Node, byDC map[string]int) *placer {
	p := &placer{
		st: st, opts: opts, eval: eval, job: job, spec: job.Spec, plan: plan,
		nodes: nodes, nCand: len(nodes), usage: make([]nodeUsage, len(nodes)),
		stopped: map[string]bool{}, groupOnMore: map[slotGroup]int{},
		byDC: byDC, limit: 2,
	}
	for i, n := range nodes {
		p.usage[i] = hotUsage(n)
	}
	for _, list := range plan.NodeUpdate {
		for _, a := range list {
			p.stopped[a.ID] = true
		}
	}
	p.setupGroups()
	return p
}

// slot returns the slot of a node, adding the node when it is not a
// candidate; -1 when the node is unknown.
func (p *placer) slot(nodeID string) int {
	if p.slotOf == nil {
		p.slotOf = make(map[string]int, len(p.nodes))
		for i, n := range p.nodes {
			p.slotOf[n.ID] = i
		}
	}
	if i, ok := p.slotOf[nodeID]; ok {
		return i
	}
	n := p.st.Node(nodeID)
	if n == nil {
		return -1
	}
	p.nodes = append(p.nodes, n)
	p.usage = append(p.usage, hotUsage(n))
	i := len(p.nodes) - 1
	p.slotOf[nodeID] = i
	return i
}

// use returns slot i's usage, loading it from the state on first use.
// Every allocation the plan adds to a node goes through the placer after
// the node was loaded, so the plan's own placements need no replay here.
func (p *placer) use(i int) *nodeUsage {
	u := &p.usage[i]
	if u.loaded {
		return u
	}
	u.loaded = true
	u.allocs = p.st.AllocsByNode(p.nodes[i].ID)
	for _, a := range u.allocs {
		if a.Terminal() || p.stopped[a.ID] {
			continue
		}
		u.cpu += a.Resources.CPU()
		u.mem += a.Resources.MemoryMB()
	}
	return u
}

// portsOf returns slot i's used ports, building the set on first use.
func (p *placer) portsOf(i int) *portSet {
	u := p.use(i)
	if u.ports != nil {
		return u.ports
	}
	n := p.nodes[i]
	ps := newPortSet(n)
	for _, a := range u.allocs {
		if a.Terminal() || p.stopped[a.ID] {
			continue
		}
		ps.addAlloc(a)
	}
	for _, a := range p.plan.NodeAllocation[n.ID] {
		ps.addAlloc(a)
	}
	u.ports = ps
	return ps
}

func findAlloc(list []*cluster.Allocation, id string) *cluster.Allocation {
	for _, a := range list {
		if a.ID == id {
			return a
		}
	}
	return nil
}

// stop records that the plan stops a (already appended to the plan) and
// frees what it held.
func (p *placer) stop(a *cluster.Allocation) {
	if p.stopped[a.ID] || a.Terminal() {
		p.stopped[a.ID] = true
		return
	}
	p.stopped[a.ID] = true
	p.account(a, -1)
}

// unstop undoes stop, for a replacement that could not be placed.
func (p *placer) unstop(a *cluster.Allocation) {
	if !p.stopped[a.ID] {
		return
	}
	delete(p.stopped, a.ID)
	if !a.Terminal() {
		p.account(a, +1)
	}
}

// account adds (sign +1) or removes (-1) an allocation from every count
// the placer keeps.
func (p *placer) account(a *cluster.Allocation, sign int) {
	i := p.slot(a.NodeID)
	var n *cluster.Node
	if i >= 0 {
		n = p.nodes[i]
	}
	p.accountAt(i, n, a, sign)
}

// accountAt is account for an allocation on slot i (-1 when its node is
// unknown, n then nil).
func (p *placer) accountAt(i int, n *cluster.Node, a *cluster.Allocation, sign int) {
	if i >= 0 {
		if u := &p.usage[i]; u.loaded {
			u.cpu += sign * a.Resources.CPU()
			u.mem += sign * a.Resources.MemoryMB()
			if u.ports != nil {
				if sign > 0 {
					u.ports.addAlloc(a)
				} else {
					u.ports.removeAlloc(a)
				}
			}
		}
	}
	if a.JobID != p.job.ID || a.Namespace != p.job.Namespace {
		return
	}
	gi := p.groupIndex(a.TaskGroup)
	if i >= 0 {
		u := &p.usage[i]
		u.jobAllocs += sign
		switch {
		case gi < 0:
		case gi < inlineGroups:
			u.groupAllocs[gi] += sign
		default:
			p.groupOnMore[slotGroup{i, gi}] += sign
		}
	}
	if n == nil {
		return
	}
	for _, d := range p.jobDistinct {
		d.add(n, sign)
	}
	if gi < 0 {
		return
	}
	g := p.groups[gi]
	for _, d := range g.distinct {
		if d.groupScoped {
			d.add(n, sign)
		}
	}
	for _, s := range g.spreads {
		s.addID(s.valueOf(i, n), sign)
	}
}

func (p *placer) groupIndex(name string) int {
	for i, g := range p.groups {
		if g.name == name {
			return i
		}
	}
	return -1
}

// groupSel is one group's placement parameters, compiled once per
// evaluation, with its per-node caches.
type groupSel struct {
	idx   int
	name  string
	group *jobspec.Group
	count int

	cpu, mem, disk int
	tasks          map[string]jobspec.Resources
	ports          []jobspec.Port
	dynPorts       int

	drivers []string
	// execUsers are the users the group's exec tasks ask for; a node
	// whose exec driver denies one is filtered (its user.denylist).
	execUsers []string
	checks    []*checker // static constraints: job, group, tasks
	// reasons are the metric keys of filters: drivers, each check, then
	// distinct_hosts and each distinct_property.
	reasons       []string
	reasonDrivers uint16
	reasonUsers   uint16
	reasonChecks  uint16
	reasonHosts   uint16
	reasonProps   uint16
	// volumes are the group's host volume requests (volumes.go), filtered
	// as reasonVolumes; allocName is the allocation being placed, whose
	// index names its per_alloc volumes.
	volumes       hostVolumeReqs
	reasonVolumes uint16
	allocName     string

	distinctHostsJob, distinctHostsGroup bool
	distinct                             []*distinctProp

	affinities []weightedChecker
	affSum     float64
	affScore   []float64 // per candidate slot; NaN until computed

	spreads    []*spreadState
	feas       []uint16
	limit      int
	acc        metricAcc
	failed     *cluster.AllocMetric // first failure, later ones coalesce
	penaltyBuf []string
}

type weightedChecker struct {
	*checker
	weight float64
}

// newGroupSel compiles group g of the job for the candidates.
func (p *placer) newGroupSel(idx int, g *jobspec.Group) *groupSel {
	spec := p.spec
	gs := &groupSel{idx: idx, name: g.Name, group: g, count: g.Count, tasks: make(map[string]jobspec.Resources, len(g.Tasks))}
	for _, t := range g.Tasks {
		gs.cpu += t.Resources.CPU
		gs.mem += t.Resources.MemoryMB
		gs.tasks[t.Name] = t.Resources
		if t.Driver != "" && !contains(gs.drivers, t.Driver) {
			gs.drivers = append(gs.drivers, t.Driver)
		}
		if t.Driver == "exec" && t.User != "" && !contains(gs.execUsers, t.User) {
			gs.execUsers = append(gs.execUsers, t.User)
		}
	}
	if g.EphemeralDisk != nil {
		gs.disk = g.EphemeralDisk.SizeMB
	}
	for _, nw := range g.Networks {
		for _, port := range nw.Ports {
			gs.ports = append(gs.ports, port)
			if port.Static == 0 {
				gs.dynPorts++
			}
		}
	}

	gs.reasonDrivers = 0
	gs.reasons = append(gs.reasons, reasonMissingDrivers)
	gs.reasonUsers = uint16(len(gs.reasons))
	for _, u := range gs.execUsers {
		gs.reasons = append(gs.reasons, userDeniedReason(u))
	}
	gs.reasonChecks = uint16(len(gs.reasons))
	addChecks := func(cs []jobspec.Constraint, jobLevel bool) {
		for _, c := range cs {
			switch normalizeOp(c.Operator) {
			case opDistinctHosts:
				if c.Value == "" || c.Value == "true" {
					if jobLevel {
						gs.distinctHostsJob = true
					} else {
						gs.distinctHostsGroup = true
					}
				}
			case opDistinctProperty:
				if jobLevel {
					gs.distinct = append(gs.distinct, p.jobDistinctProp(c))
				} else {
					gs.distinct = append(gs.distinct, newDistinctProp(c, true))
				}
			default:
				gs.checks = append(gs.checks, compileConstraint(c))
			}
		}
	}
	addChecks(spec.Constraints, true)
	addChecks(g.Constraints, false)
	for _, t := range g.Tasks {
		addChecks(t.Constraints, false)
	}
	for _, c := range gs.checks {
		gs.reasons = append(gs.reasons, c.text)
	}
	gs.reasonHosts = uint16(len(gs.reasons))
	gs.reasons = append(gs.reasons, opDistinctHosts)
	gs.reasonProps = uint16(len(gs.reasons))
	for _, d := range gs.distinct {
		gs.reasons = append(gs.reasons, d.text)
	}
	gs.compileVolumes(g)
	gs.acc.byReason = make([]int, len(gs.reasons))

	addAff := func(as []jobspec.Affinity) {
		for _, a := range as {
			if a.Weight == 0 {
				continue
			}
			gs.affinities = append(gs.affinities, weightedChecker{compileChecker(a.Attribute, a.Operator, a.Value), float64(a.Weight)})
			gs.affSum += math.Abs(float64(a.Weight))
		}
	}
	addAff(spec.Affinities)
	addAff(g.Affinities)
	for _, t := range g.Tasks {
		addAff(t.Affinities)
	}
	if len(gs.affinities) > 0 {
		gs.affScore = make([]float64, p.nCand)
		for i := range gs.affScore {
			gs.affScore[i] = math.NaN()
		}
	}
	gs.spreads = newSpreads(spec.Spreads, g.Spreads, g.Count, p.nCand)

	gs.feas = make([]uint16, p.nCand)
	gs.limit = p.limit
	if len(gs.affinities) > 0 || len(gs.spreads) > 0 {
		// Preferences only work when enough nodes are compared; log2 of
		// the candidates keeps the cost of a placement logarithmic.
		if l := int(math.Ceil(math.Log2(float64(p.nCand)))); l > gs.limit {
			gs.limit = l
		}
	}
	return gs
}

func (p *placer) jobDistinctProp(c jobspec.Constraint) *distinctProp {
	text := constraintText(c.Attribute, c.Operator, c.Value)
	for _, d := range p.jobDistinct {
		if d.text == text {
			return d
		}
	}
	d := newDistinctProp(c, false)
	p.jobDistinct = append(p.jobDistinct, d)
	return d
}

// setupGroups compiles every group of the job and counts the job's
// allocations that stay (not terminal, not stopped by the plan).
func (p *placer) setupGroups() {
	for i, g := range p.spec.Groups {
		p.groups = append(p.groups, p.newGroupSel(i, g))
	}
	for _, a := range p.st.AllocsByJob(p.job.Namespace, p.job.ID) {
		if a.Terminal() || p.stopped[a.ID] {
			continue
		}
		p.account(a, +1)
	}
}

// distinctProp enforces distinct_property: at most limit allocations per
// value of a node property, counted over the job or one group.
type distinctProp struct {
	text        string
	attr        target
	limit       int
	groupScoped bool
	counts      map[string]int
}

func newDistinctProp(c jobspec.Constraint, groupScoped bool) *distinctProp {
	limit := 1
	if n, err := strconv.Atoi(c.Value); err == nil && n > 0 {
		limit = n
	}
	return &distinctProp{
		text: constraintText(c.Attribute, c.Operator, c.Value), attr: parseTarget(c.Attribute),
		limit: limit, groupScoped: groupScoped, counts: map[string]int{},
	}
}

func (d *distinctProp) add(n *cluster.Node, sign int) {
	if v, ok := d.attr.resolve(n); ok {
		d.counts[v] += sign
	}
}

// allows reports whether one more allocation may go to node n. A node
// without the property cannot satisfy the constraint.
func (d *distinctProp) allows(n *cluster.Node) bool {
	v, ok := d.attr.resolve(n)
	return ok && d.counts[v] < d.limit
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
