package state

import (
	"time"

	"github.com/droverhq/drover/cluster"
)

func (w *writer) planApply(req *PlanApplyRequest) (any, error) {
	r := w.read()
	for _, a := range req.Allocs {
		if a == nil || a.ID == "" || a.JobID == "" {
			return nil, invalid("plan: allocation needs an ID and a job ID")
		}
	}
	if err := w.checkDesired(req.Stop); err != nil {
		return nil, err
	}
	if err := validDeployment(req.Deployment); err != nil {
		return nil, err
	}
	if err := w.checkDeploymentUpdates(req.DeploymentUpdates); err != nil {
		return nil, err
	}
	if err := validEvals(req.Evals); err != nil {
		return nil, err
	}

	// The deployment first, so that allocations placed for it are counted
	// in it.
	if req.Deployment != nil {
		if err := w.putDeployment(req.Deployment, req.Now); err != nil {
			return nil, err
		}
	}
	for _, u := range req.DeploymentUpdates {
		if err := w.applyDeploymentUpdate(u, req.Now); err != nil {
			return nil, err
		}
	}
	for _, u := range req.Stop {
		if err := w.applyDesired(u, req.Now); err != nil {
			return nil, err
		}
	}
	for _, a := range req.Allocs {
		prev := r.Alloc(a.ID)
		a.Namespace = namespaceOr(a.Namespace)
		if prev != nil {
			// The scheduler owns placement, the agent owns what it
			// reports: an in-place update keeps the latter.
			a.CreateIndex, a.CreateTime = prev.CreateIndex, prev.CreateTime
			a.ClientStatus, a.ClientDescription = prev.ClientStatus, prev.ClientDescription
			a.TaskStates = prev.TaskStates
			a.NextAllocation = prev.NextAllocation
			if a.DeploymentStatus == nil {
				a.DeploymentStatus = prev.DeploymentStatus
			}
		} else {
			a.CreateIndex, a.CreateTime = w.index, req.Now
			if a.ClientStatus == "" {
				a.ClientStatus = cluster.AllocClientPending
			}
		}
		if a.DesiredStatus == "" {
			a.DesiredStatus = cluster.AllocDesiredRun
		}
		a.ModifyIndex, a.ModifyTime = w.index, req.Now
		if err := w.insert(TableAllocs, a); err != nil {
			return nil, err
		}
		if err := w.linkPrevious(a); err != nil {
			return nil, err
		}
		if err := w.countInDeployment(prev, a, req.Now); err != nil {
			return nil, err
		}
	}
	return nil, w.putEvals(req.Evals, req.Now)
}

// linkPrevious points the allocation a replaces at a.
func (w *writer) linkPrevious(a *cluster.Allocation) error {
	if a.PreviousAllocation == "" {
		return nil
	}
	prev := w.read().Alloc(a.PreviousAllocation)
	if prev == nil || prev.NextAllocation == a.ID {
		return nil
	}
	c := *prev
	c.NextAllocation = a.ID
	c.ModifyIndex = w.index
	return w.insert(TableAllocs, &c)
}

func (w *writer) checkDesired(us []AllocDesired) error {
	r := w.read()
	for _, u := range us {
		if r.Alloc(u.AllocID) == nil {
			return notFound("allocation %s", u.AllocID)
		}
		switch u.DesiredStatus {
		case "", cluster.AllocDesiredStop, cluster.AllocDesiredEvict, cluster.AllocDesiredRun:
		default:
			return invalid("allocation %s: unknown desired status %q", u.AllocID, u.DesiredStatus)
		}
	}
	return nil
}

func (w *writer) applyDesired(u AllocDesired, now time.Time) error {
	a := *w.read().Alloc(u.AllocID)
	a.DesiredStatus = u.DesiredStatus
	if a.DesiredStatus == "" {
		a.DesiredStatus = cluster.AllocDesiredStop
	}
	a.DesiredDescription = u.Description
	if u.ClientStatus != "" {
		a.ClientStatus = u.ClientStatus
	}
	a.ModifyIndex, a.ModifyTime = w.index, now
	return w.insert(TableAllocs, &a)
}

func (w *writer) allocUpdateDesired(req *AllocDesiredRequest) (any, error) {
	if err := w.checkDesired(req.Updates); err != nil {
		return nil, err
	}
	if err := validEvals(req.Evals); err != nil {
		return nil, err
	}
	for _, u := range req.Updates {
		if err := w.applyDesired(u, req.Now); err != nil {
			return nil, err
		}
	}
	return nil, w.putEvals(req.Evals, req.Now)
}

func (w *writer) allocClientUpdate(req *AllocClientUpdateRequest) (any, error) {
	if err := validEvals(req.Evals); err != nil {
		return nil, err
	}
	r := w.read()
	resp := &AllocClientUpdateResponse{}
	for _, u := range req.Allocs {
		prev := r.Alloc(u.ID)
		if prev == nil {
			resp.Unknown = append(resp.Unknown, u.ID)
			continue
		}
		a := *prev // only fields are reassigned below, never written into
		if u.ClientStatus != "" {
			a.ClientStatus = u.ClientStatus
		}
		if u.ClientDescription != "" {
			a.ClientDescription = u.ClientDescription
		}
		if u.TaskStates != nil {
			a.TaskStates = u.TaskStates
		}
		if u.CheckStatuses != nil {
			if err := cluster.ValidateCheckStatuses(u.CheckStatuses); err != nil {
				return nil, invalid("allocation %s: %v", u.ID, err)
			}
			a.CheckStatuses = u.CheckStatuses
		}
		if u.DeploymentStatus != nil {
			ds := *u.DeploymentStatus
			// Whether an allocation is a canary is the scheduler's call,
			// made at placement; a client reporting health cannot undo it
			// (else the scheduler would place the canaries again).
			if prev.DeploymentStatus != nil && prev.DeploymentStatus.Canary {
				ds.Canary = true
			}
			a.DeploymentStatus = &ds
		}
		a.ModifyIndex, a.ModifyTime = w.index, req.Now
		if err := w.insert(TableAllocs, &a); err != nil {
			return nil, err
		}
		if err := w.countInDeployment(prev, &a, req.Now); err != nil {
			return nil, err
		}
		resp.Updated++
	}
	if err := w.putEvals(req.Evals, req.Now); err != nil {
		return nil, err
	}
	return resp, nil
}

// countInDeployment keeps a deployment's per-group counters in step with
// its allocations, in the same index, as Nomad's state store does: a new
// allocation counts as placed (and as a canary if it is one), and the
// first health verdict of an allocation counts it healthy or unhealthy.
// A healthy allocation also pushes the group's progress deadline out.
func (w *writer) countInDeployment(prev, a *cluster.Allocation, now time.Time) error {
	if a.DeploymentID == "" {
		return nil
	}
	d := w.read().Deployment(a.DeploymentID)
	if d == nil {
		return nil
	}
	g := d.TaskGroups[a.TaskGroup]
	if g == nil {
		return nil
	}
	placed := prev == nil || prev.DeploymentID != a.DeploymentID
	var wasHealthy *bool
	if !placed && prev.DeploymentStatus != nil {
		wasHealthy = prev.DeploymentStatus.Healthy
	}
	var isHealthy *bool
	if a.DeploymentStatus != nil {
		isHealthy = a.DeploymentStatus.Healthy
	}
	verdict := wasHealthy == nil && isHealthy != nil
	if !placed && !verdict {
		return nil
	}

	ng := *g
	if placed {
		ng.PlacedAllocs++
		if a.DeploymentStatus != nil && a.DeploymentStatus.Canary {
			ng.PlacedCanaries = append(append([]string(nil), g.PlacedCanaries...), a.ID)
		}
	}
	if verdict {
		if *isHealthy {
			ng.HealthyAllocs++
			if ng.ProgressDeadline > 0 {
				ng.RequireProgressBy = now.Add(ng.ProgressDeadline)
			}
		} else {
			ng.UnhealthyAllocs++
		}
	}
	nd := *d
	nd.TaskGroups = make(map[string]*cluster.DeploymentGroup, len(d.TaskGroups))
	for k, v := range d.TaskGroups {
		nd.TaskGroups[k] = v
	}
	nd.TaskGroups[a.TaskGroup] = &ng
	nd.ModifyIndex, nd.ModifyTime = w.index, now
	return w.insert(TableDeployments, &nd)
}
