package scheduler

import (
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// processSystem schedules system and sysbatch jobs: one allocation of
// each group on every ready node that satisfies it. Nodes are visited in
// ID order; there is nothing to choose, so nothing is sampled.
func processSystem(st State, eval *cluster.Evaluation, job *cluster.Job, opts Options) *Plan {
	plan := newPlan(eval, job)
	allocs := st.AllocsByJob(eval.Namespace, eval.JobID)
	if job == nil || job.Stop {
		for _, r := range reconcile(reconcileInput{job: job, allocs: allocs}) {
			*plan.annotation(r.name) = r.desired
			for _, s := range r.stops {
				plan.appendStop(s.alloc, s.desc, s.clientStatus)
			}
		}
		return plan
	}
	nodes, byDC := readyNodes(st, job.Spec)
	p := newPlacer(st, opts, eval, job, plan, nodes, byDC)
	s := &systemSched{p: p, st: st, job: job, decider: newUpdateDecider(st, job), replaced: map[string]bool{}}
	byGroup := map[string][]*cluster.Allocation{}
	for _, a := range allocs {
		byGroup[a.TaskGroup] = append(byGroup[a.TaskGroup], a)
		if a.PreviousAllocation != "" {
			s.replaced[a.PreviousAllocation] = true
		}
	}
	// Groups the job no longer has.
	for _, r := range stopAll(removedGroups(job.Spec, allocs), descGroupGone) {
		*plan.annotation(r.name) = r.desired
		for _, st := range r.stops {
			s.stop(st.alloc, st.desc, st.clientStatus)
		}
	}
	for _, g := range p.groups {
		s.group(g, sortAllocs(byGroup[g.name]))
	}
	if b := blockedEval(eval, job, plan, opts); b != nil {
		plan.FollowUpEvals = append(plan.FollowUpEvals, b)
	}
	return plan
}

func removedGroups(spec *jobspec.Job, allocs []*cluster.Allocation) []*cluster.Allocation {
	var out []*cluster.Allocation
	for _, a := range allocs {
		if spec.Group(a.TaskGroup) == nil {
			out = append(out, a)
		}
	}
	return out
}

type systemSched struct {
	p        *placer
	st       State
	job      *cluster.Job
	decider  *updateDecider
	replaced map[string]bool
}

func (s *systemSched) stop(a *cluster.Allocation, desc, clientStatus string) {
	s.p.plan.appendStop(a, desc, clientStatus)
	s.p.stop(a)
}

// group decides one group: keep, update or stop what runs, then place on
// every eligible node that has nothing.
func (s *systemSched) group(g *groupSel, allocs []*cluster.Allocation) {
	p := s.p
	ann := p.plan.annotation(g.name)
	sysbatch := s.job.Spec.Type == jobspec.JobTypeSysBatch
	holds := map[string]bool{}
	prev := map[string]*cluster.Allocation{} // a terminal allocation to replace, per node
	var destructive []*cluster.Allocation
	inFlight := 0
	for _, a := range allocs {
		if s.replaced[a.ID] || a.NextAllocation != "" || !desiredRun(a) {
			continue
		}
		switch a.ClientStatus {
		case cluster.AllocClientComplete:
			if sysbatch {
				holds[a.NodeID] = true
				ann.Ignore++
			} else {
				prev[a.NodeID] = a
			}
			continue
		case cluster.AllocClientFailed, cluster.AllocClientLost:
			prev[a.NodeID] = a
			continue
		case cluster.AllocClientUnknown:
			// Its node stopped heartbeating within disconnect.lost_after:
			// a system allocation belongs to its node, so it waits for
			// the node (or turns lost) rather than being stopped.
			holds[a.NodeID] = true
			ann.Ignore++
			continue
		case cluster.AllocClientPending:
			if a.JobVersion == s.job.Version {
				inFlight++
			}
		}
		n := s.st.Node(a.NodeID)
		switch {
		case n == nil || n.Status == cluster.NodeStatusDown:
			s.stop(a, descLost, cluster.AllocClientLost)
			ann.Stop++
			continue
		case holds[a.NodeID]:
			s.stop(a, descDuplicate, "")
			ann.Stop++
			continue
		case n.Drain:
			s.stop(a, descNodeTainted, "")
			ann.Stop++
			continue
		case !inDatacenters(s.job.Spec.Datacenters, n.Datacenter) || !inNodePool(s.job.Spec, n) || g.staticCheck(n) != feasOK:
			s.stop(a, descInfeasible, "")
			ann.Stop++
			continue
		}
		holds[a.NodeID] = true
		switch {
		case a.JobVersion == s.job.Version || s.decider.kind(a) == updateNone:
			ann.Ignore++
		case s.decider.kind(a) == updateInPlace && p.updateInPlace(g, a, ""):
			ann.InPlaceUpdate++
		default:
			destructive = append(destructive, a)
		}
	}

	destructive = rolloutOrder(g.group, destructive, s.st.Node)
	limit := -1
	if g.group.Update != nil && g.group.Update.MaxParallel > 0 {
		limit = max(g.group.Update.MaxParallel-inFlight, 0)
	}
	for k, a := range destructive {
		i := p.slot(a.NodeID)
		if (limit >= 0 && k >= limit) || i < 0 || i >= p.nCand {
			// Over max_parallel, or on a node that takes no new work
			// (ineligible): leave it for a later evaluation.
			ann.Ignore++
			continue
		}
		ann.DestructiveUpdate++
		s.stop(a, descUpdating, "")
		if !s.placeOn(g, i, placeRequest{name: a.Name, prev: a}) {
			p.plan.popStop(a)
			p.unstop(a)
		}
	}

	for i := 0; i < p.nCand; i++ {
		n := p.nodes[i]
		if holds[n.ID] {
			continue
		}
		req := placeRequest{name: allocName(s.job.ID, g.name, 0), prev: prev[n.ID]}
		if s.placeOn(g, i, req) {
			ann.Place++
		}
	}
}

// placeOn places an allocation of g on candidate slot i if the node
// satisfies the group and has room. A node filtered by a constraint is
// not a failure; a feasible node without room is, and failures of a group
// are merged into one metric.
func (s *systemSched) placeOn(g *groupSel, i int, req placeRequest) bool {
	p := s.p
	g.acc.reset()
	g.allocName = req.name
	c, ok := p.evaluate(g, i, nil)
	if ok {
		p.commit(g, c, req, "")
		return true
	}
	if g.acc.exhausted == 0 {
		return false
	}
	m := g.metric(p.byDC)
	if g.failed == nil {
		g.failed = m
		p.plan.FailedTGAllocs[g.name] = m
		return false
	}
	f := g.failed
	f.CoalescedFailures++
	f.NodesEvaluated += m.NodesEvaluated
	f.NodesExhausted += m.NodesExhausted
	for k, v := range m.DimensionExhausted {
		if f.DimensionExhausted == nil {
			f.DimensionExhausted = map[string]int{}
		}
		f.DimensionExhausted[k] += v
	}
	return false
}
