package server

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/deploymentwatcher"
	"github.com/droverhq/drover/state"
)

// Operator actions on a deployment: fail, pause, resume, promote.
func (s *Server) deploymentRoutes(mux *router) {
	mux.handle("POST /v1/deployment/{id}/fail", CapSubmitJob, s.write(s.deploymentFail))
	mux.handle("POST /v1/deployment/{id}/pause", CapSubmitJob, s.write(s.deploymentPause(true)))
	mux.handle("POST /v1/deployment/{id}/resume", CapSubmitJob, s.write(s.deploymentPause(false)))
	mux.handle("POST /v1/deployment/{id}/promote", CapSubmitJob, s.write(s.deploymentPromote))
	mux.handle("POST /v1/deployment/{id}/allocation-health", CapSubmitJob, s.write(s.deploymentAllocHealth))
}

// Descriptions of operator actions.
const (
	descMarkedFailed = "Deployment marked as failed"
	descPaused       = "Deployment is paused"
	descRunning      = "Deployment is running"
	descPromoted     = "Deployment is running; canaries promoted"
)

func (s *Server) activeDeployment(r *http.Request) (*state.Snapshot, *cluster.Deployment, error) {
	snap := s.raft.Store().Snapshot()
	key := r.PathValue("id")
	d := snap.Deployment(key)
	if d == nil {
		var err error
		if d, err = byPrefix("deployment", key, snap.Deployments(), func(d *cluster.Deployment) string { return d.ID }); err != nil {
			return nil, nil, err
		}
	}
	if !d.Active() {
		return nil, nil, errorf(http.StatusBadRequest, "deployment %s is %s: only a running or paused deployment can change", d.ID, d.Status)
	}
	return snap, d, nil
}

func (s *Server) deploymentReply(w http.ResponseWriter, id string) error {
	snap := s.raft.Store().Snapshot()
	return s.reply(w, snap.Index(state.TableDeployments), &api.DeploymentUpdateResponse{Deployment: snap.Deployment(id)})
}

// deploymentFail fails a deployment as the watcher would, reverting the
// job when a group asks for auto_revert.
func (s *Server) deploymentFail(w http.ResponseWriter, r *http.Request) error {
	snap, d, err := s.activeDeployment(r)
	if err != nil {
		return err
	}
	dec := deploymentwatcher.Decision{Status: cluster.DeploymentFailed, Description: descMarkedFailed}
	for _, g := range d.TaskGroups {
		if !g.AutoRevert {
			continue
		}
		if st := deploymentwatcher.LastStable(snap.JobVersions(d.Namespace, d.JobID), d.JobVersion); st != nil {
			dec.RevertTo = st
			dec.Description += fmt.Sprintf(" - rolling back to job version %d", st.Version)
		}
		break
	}
	if err := s.applyDeploymentDecision(r.Context(), snap, d, dec); err != nil {
		return err
	}
	return s.deploymentReply(w, d.ID)
}

func (s *Server) deploymentPause(pause bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		snap, d, err := s.activeDeployment(r)
		if err != nil {
			return err
		}
		u := state.DeploymentStatusUpdate{ID: d.ID, Status: cluster.DeploymentRunning, Description: descRunning}
		if pause {
			u = state.DeploymentStatusUpdate{ID: d.ID, Status: cluster.DeploymentPaused, Description: descPaused}
		}
		req := &state.DeploymentStatusRequest{Update: u, Now: time.Now()}
		if !pause {
			req.Eval = s.jobEval(snap, d.Namespace, d.JobID)
		}
		if _, _, err := s.raft.Apply(r.Context(), state.MsgDeploymentStatusUpdate, req); err != nil {
			return err
		}
		return s.deploymentReply(w, d.ID)
	}
}

// deploymentPromote promotes a deployment's canaries.
func (s *Server) deploymentPromote(w http.ResponseWriter, r *http.Request) error {
	snap, d, err := s.activeDeployment(r)
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(d.TaskGroups)) {
		g := d.TaskGroups[name]
		if g.DesiredCanaries > 0 && !g.Promoted && g.HealthyAllocs < g.DesiredCanaries {
			return errorf(http.StatusBadRequest, "group %q has %d of %d canaries healthy: promote once all are", name, g.HealthyAllocs, g.DesiredCanaries)
		}
	}
	if err := s.promoteDeployment(r.Context(), snap, d, descPromoted); err != nil {
		return err
	}
	return s.deploymentReply(w, d.ID)
}

// promoteDeployment marks every canary group promoted and asks the
// scheduler for the rest of the rollout, in one Raft command.
func (s *Server) promoteDeployment(ctx context.Context, snap *state.Snapshot, d *cluster.Deployment, desc string) error {
	canaries := false
	for _, g := range d.TaskGroups {
		canaries = canaries || g.DesiredCanaries > 0 && !g.Promoted
	}
	if !canaries {
		return errorf(http.StatusBadRequest, "deployment %s has no canaries to promote", d.ID)
	}
	req := &state.DeploymentPromoteRequest{ID: d.ID, Description: desc, Eval: s.jobEval(snap, d.Namespace, d.JobID), Now: time.Now()}
	if _, _, err := s.raft.Apply(ctx, state.MsgDeploymentPromote, req); err != nil {
		return err
	}
	s.logger.Info("deployment promoted", "deployment", d.ID, "job", d.JobID, "version", d.JobVersion)
	return nil
}

// deploymentAllocHealth sets allocations' health by hand, for groups with
// health_check = "manual" (or to overrule the agents).
func (s *Server) deploymentAllocHealth(w http.ResponseWriter, r *http.Request) error {
	var req api.DeploymentAllocHealthRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	snap, d, err := s.activeDeployment(r)
	if err != nil {
		return err
	}
	now := time.Now()
	cmd := &state.AllocClientUpdateRequest{Now: now}
	mark := func(ids []string, healthy bool) error {
		for _, id := range ids {
			a := snap.Alloc(id)
			if a == nil || a.DeploymentID != d.ID {
				return errorf(http.StatusBadRequest, "allocation %q is not part of deployment %s", id, d.ID)
			}
			ds := cluster.AllocDeploymentStatus{Healthy: &healthy, Timestamp: now}
			if a.DeploymentStatus != nil {
				ds.Canary = a.DeploymentStatus.Canary
			}
			cmd.Allocs = append(cmd.Allocs, state.AllocClientState{ID: id, DeploymentStatus: &ds})
		}
		return nil
	}
	if err := mark(req.Healthy, true); err != nil {
		return err
	}
	if err := mark(req.Unhealthy, false); err != nil {
		return err
	}
	if len(cmd.Allocs) == 0 {
		return errorf(http.StatusBadRequest, "name at least one allocation in healthy or unhealthy")
	}
	if _, _, err := s.raft.Apply(r.Context(), state.MsgAllocClientUpdate, cmd); err != nil {
		return err
	}
	return s.deploymentReply(w, d.ID)
}
