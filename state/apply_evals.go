package state

import (
	"fmt"
	"time"

	"github.com/droverhq/drover/cluster"
)

func validEval(e *cluster.Evaluation) error {
	if e != nil && e.ID == "" {
		return invalid("evaluation without ID")
	}
	return nil
}

func validEvals(es []*cluster.Evaluation) error {
	for _, e := range es {
		if e == nil {
			return invalid("nil evaluation")
		}
		if err := validEval(e); err != nil {
			return err
		}
	}
	return nil
}

// putEval creates or replaces an evaluation; a replacement keeps its
// creation index and time.
func (w *writer) putEval(e *cluster.Evaluation, now time.Time) error {
	e.Namespace = namespaceOr(e.Namespace)
	if prev := w.read().Eval(e.ID); prev != nil {
		e.CreateIndex, e.CreateTime = prev.CreateIndex, prev.CreateTime
	} else {
		e.CreateIndex, e.CreateTime = w.index, now
	}
	if e.Status == "" {
		e.Status = cluster.EvalStatusPending
	}
	e.ModifyIndex, e.ModifyTime = w.index, now
	return w.insert(TableEvals, e)
}

func (w *writer) putEvals(es []*cluster.Evaluation, now time.Time) error {
	for _, e := range es {
		if err := w.putEval(e, now); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) evalUpsert(req *EvalUpsertRequest) (any, error) {
	if err := validEvals(req.Evals); err != nil {
		return nil, err
	}
	return nil, w.putEvals(req.Evals, req.Now)
}

func (w *writer) evalUpdateStatus(req *EvalStatusRequest) (any, error) {
	r := w.read()
	for _, u := range req.Updates {
		if r.Eval(u.ID) == nil {
			return nil, notFound("evaluation %s", u.ID)
		}
		if u.Status == "" {
			return nil, invalid("evaluation %s: empty status", u.ID)
		}
	}
	for _, u := range req.Updates {
		e := *r.Eval(u.ID)
		e.Status, e.StatusDescription = u.Status, u.Description
		e.ModifyIndex, e.ModifyTime = w.index, req.Now
		if err := w.insert(TableEvals, &e); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func validDeployment(d *cluster.Deployment) error {
	if d != nil && (d.ID == "" || d.JobID == "") {
		return invalid("deployment needs an ID and a job ID")
	}
	return nil
}

// putDeployment creates or replaces a deployment; a replacement keeps its
// creation index and time.
func (w *writer) putDeployment(d *cluster.Deployment, now time.Time) error {
	d.Namespace = namespaceOr(d.Namespace)
	if prev := w.read().Deployment(d.ID); prev != nil {
		d.CreateIndex, d.CreateTime = prev.CreateIndex, prev.CreateTime
	} else {
		d.CreateIndex, d.CreateTime = w.index, now
	}
	if d.Status == "" {
		d.Status = cluster.DeploymentRunning
	}
	d.ModifyIndex, d.ModifyTime = w.index, now
	return w.insert(TableDeployments, d)
}

func (w *writer) deploymentUpsert(req *DeploymentUpsertRequest) (any, error) {
	if req.Deployment == nil {
		return nil, invalid("deployment upsert without deployment")
	}
	if err := validDeployment(req.Deployment); err != nil {
		return nil, err
	}
	return nil, w.putDeployment(req.Deployment, req.Now)
}

func (w *writer) checkDeploymentUpdates(us []DeploymentStatusUpdate) error {
	r := w.read()
	for _, u := range us {
		if r.Deployment(u.ID) == nil {
			return notFound("deployment %s", u.ID)
		}
		if u.Status == "" {
			return invalid("deployment %s: empty status", u.ID)
		}
	}
	return nil
}

func (w *writer) applyDeploymentUpdate(u DeploymentStatusUpdate, now time.Time) error {
	d := *w.read().Deployment(u.ID)
	d.Status, d.StatusDescription = u.Status, u.Description
	d.ModifyIndex, d.ModifyTime = w.index, now
	return w.insert(TableDeployments, &d)
}

func (w *writer) deploymentStatusUpdate(req *DeploymentStatusRequest) (any, error) {
	if err := w.checkDeploymentUpdates([]DeploymentStatusUpdate{req.Update}); err != nil {
		return nil, err
	}
	if err := validEval(req.Eval); err != nil {
		return nil, err
	}
	if err := w.applyDeploymentUpdate(req.Update, req.Now); err != nil {
		return nil, err
	}
	if req.Eval != nil {
		return nil, w.putEval(req.Eval, req.Now)
	}
	return nil, nil
}

func (w *writer) deploymentPromote(req *DeploymentPromoteRequest) (any, error) {
	d := w.read().Deployment(req.ID)
	if d == nil {
		return nil, notFound("deployment %s", req.ID)
	}
	if !d.Active() {
		return nil, invalid("deployment %s is %s: only a running or paused deployment can be promoted", d.ID, d.Status)
	}
	if err := validEval(req.Eval); err != nil {
		return nil, err
	}
	nd := *d
	nd.TaskGroups = make(map[string]*cluster.DeploymentGroup, len(d.TaskGroups))
	promoted := false
	for name, g := range d.TaskGroups {
		ng := *g
		if g.DesiredCanaries > 0 && !g.Promoted {
			ng.Promoted, promoted = true, true
		}
		nd.TaskGroups[name] = &ng
	}
	if !promoted {
		return nil, invalid("deployment %s has no canaries to promote", d.ID)
	}
	if req.Description != "" {
		nd.StatusDescription = req.Description
	}
	nd.ModifyIndex, nd.ModifyTime = w.index, req.Now
	if err := w.insert(TableDeployments, &nd); err != nil {
		return nil, err
	}
	if req.Eval != nil {
		return nil, w.putEval(req.Eval, req.Now)
	}
	return nil, nil
}

func (w *writer) syncStatusUpsert(req *SyncStatusRequest) (any, error) {
	s := req.Status
	if s == nil || s.Source == "" {
		return nil, invalid("sync status needs a source name")
	}
	prev := w.read().SyncStatus(s.Source)
	if req.CheckIndex != nil {
		var have uint64
		if prev != nil {
			have = prev.ModifyIndex
		}
		if have != *req.CheckIndex {
			return nil, fmt.Errorf("%w: sync status of %s has modify index %d, not %d", ErrCASConflict, s.Source, have, *req.CheckIndex)
		}
	}
	if prev != nil {
		s.CreateIndex = prev.CreateIndex
	} else {
		s.CreateIndex = w.index
	}
	s.ModifyIndex = w.index
	return nil, w.insert(TableSyncStatus, s)
}
