package scheduler

import (
	"maps"

	"github.com/droverhq/drover/cluster"
)

// place selects a node for one allocation of g and adds it to the plan.
// A destructive replacement frees its predecessor's resources for the
// selection and keeps the predecessor running when no node fits. Once a
// group failed to place, its further placements only count as coalesced
// failures, as in Nomad: the outcome would be the same.
func (p *placer) place(g *groupSel, req placeRequest, deploymentID string) bool {
	if g.failed != nil {
		g.failed.CoalescedFailures++
		return false
	}
	if req.stopPrev {
		p.plan.appendStop(req.prev, descUpdating, "")
		p.stop(req.prev)
	}
	var penalty []string
	if req.reschedule {
		penalty = reschedulePenalty(req.prev, g.penaltyBuf[:0])
		g.penaltyBuf = penalty
	}
	g.allocName = req.name
	c, ok := p.selectNode(g, penalty)
	if !ok {
		if req.stopPrev {
			p.plan.popStop(req.prev)
			p.unstop(req.prev)
		}
		g.failed = g.metric(p.byDC)
		p.plan.FailedTGAllocs[g.name] = g.failed
		return false
	}
	p.commit(g, c, req, deploymentID)
	return true
}

// reschedulePenalty lists the nodes a failing lineage already ran on.
func reschedulePenalty(prev *cluster.Allocation, buf []string) []string {
	buf = append(buf, prev.NodeID)
	for _, e := range prev.RescheduleEvents {
		buf = append(buf, e.PrevNode)
	}
	return buf
}

// commit adds an allocation of g on candidate c to the plan and to the
// placer's counts.
func (p *placer) commit(g *groupSel, c candidate, req placeRequest, deploymentID string) *cluster.Allocation {
	n := p.nodes[c.slot]
	now := p.opts.Now
	a := &cluster.Allocation{
		ID: p.opts.NewID(), Namespace: p.job.Namespace, JobID: p.job.ID, JobVersion: p.job.Version,
		TaskGroup: g.name, Name: req.name, NodeID: n.ID, NodeName: n.Name, EvalID: p.eval.ID,
		DeploymentID:  deploymentID,
		Resources:     cluster.AllocResources{Tasks: maps.Clone(g.tasks), DiskMB: g.disk},
		DesiredStatus: cluster.AllocDesiredRun, ClientStatus: cluster.AllocClientPending,
		CreateTime: now, ModifyTime: now,
	}
	if len(g.ports) > 0 {
		a.Resources.Ports = p.portsOf(c.slot).assign(g.ports, p.opts.Rand)
	}
	if req.canary {
		a.DeploymentStatus = &cluster.AllocDeploymentStatus{Canary: true, Timestamp: now}
	}
	if req.prev != nil {
		a.PreviousAllocation = req.prev.ID
		if req.reschedule {
			a.RescheduleEvents = append(append([]cluster.RescheduleEvent(nil), req.prev.RescheduleEvents...),
				cluster.RescheduleEvent{Time: now, PrevAlloc: req.prev.ID, PrevNode: req.prev.NodeID, Delay: req.delay})
		}
	}
	m := g.metric(p.byDC)
	m.Scores = c.s.toMap()
	a.Metrics = m
	p.plan.appendAlloc(a)
	p.accountAt(c.slot, n, a, +1)
	return a
}

// updateInPlace moves a running allocation to the job's version on its
// node, when the node still satisfies the group and has room for it.
func (p *placer) updateInPlace(g *groupSel, a *cluster.Allocation, deploymentID string) bool {
	i := p.slot(a.NodeID)
	if i < 0 {
		return false
	}
	n := p.nodes[i]
	if n.Status == cluster.NodeStatusDown || !inDatacenters(p.spec.Datacenters, n.Datacenter) || !inNodePool(p.spec, n) || g.feasible(i, n) != feasOK || !g.volumes.perAllocOK(n, a.Name) {
		return false
	}
	u := p.use(i)
	cpu, mem := u.cpu-a.Resources.CPU()+g.cpu, u.mem-a.Resources.MemoryMB()+g.mem
	if cpu > u.availCPU || mem > u.availMem {
		return false
	}
	u.cpu, u.mem = cpu, mem
	c := *a
	c.JobVersion = p.job.Version
	c.Resources.Tasks = maps.Clone(g.tasks)
	c.EvalID = p.eval.ID
	c.ModifyTime = p.opts.Now
	if deploymentID != "" {
		c.DeploymentID = deploymentID
	}
	p.plan.appendAlloc(&c)
	return true
}
