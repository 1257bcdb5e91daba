package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/reconciler"
	"github.com/droverhq/drover/server/deploymentwatcher"
	"github.com/droverhq/drover/state"
)

// runDeployments is the leader's deployment watcher: on every change to
// deployments or allocations, and when a progress deadline comes due, it
// decides each running deployment with deploymentwatcher.Decide and
// applies the decision through Raft. It also asks the scheduler for the
// next batch whenever a deployment counts a new health verdict.
func (s *Server) runDeployments(ctx context.Context) {
	seen := map[string]int{} // deployment ID → verdicts the scheduler was told of
	for ctx.Err() == nil {
		snap := s.raft.Store().Snapshot()
		// At least 1: Blocking answers at once for index 0, which both
		// tables have until their first write, and the loop would spin.
		index := max(snap.Index(state.TableDeployments, state.TableAllocs), 1)
		now := time.Now()
		var next time.Time
		wrote := false
		for _, d := range snap.Deployments() {
			if !d.Active() {
				delete(seen, d.ID)
				continue
			}
			dec := deploymentwatcher.Decide(deploymentwatcher.Input{
				Deployment: d, Versions: snap.JobVersions(d.Namespace, d.JobID), Allocs: unhealthyAllocs(snap, d), Now: now,
			})
			if !dec.Next.IsZero() && (next.IsZero() || dec.Next.Before(next)) {
				next = dec.Next
			}
			if dec.Promote {
				if err := s.promoteDeployment(ctx, snap, d, dec.Description); err != nil {
					if ctx.Err() == nil {
						s.logger.Warn("deployment watcher: promote", "deployment", d.ID, "err", err)
					}
				} else {
					wrote = true
				}
				continue
			}
			if dec.Status != "" {
				if err := s.applyDeploymentDecision(ctx, snap, d, dec); err != nil {
					if ctx.Err() == nil {
						s.logger.Warn("deployment watcher", "deployment", d.ID, "err", err)
					}
				} else {
					wrote = true
				}
				delete(seen, d.ID)
				continue
			}
			v := deploymentwatcher.Verdicts(d)
			if !hasKey(seen, d.ID) && v == 0 {
				// A new deployment: the plan that created it just ran.
				seen[d.ID] = 0
			}
			if last, ok := seen[d.ID]; !ok || v != last {
				if err := s.deploymentEval(ctx, snap, d); err != nil {
					if ctx.Err() == nil {
						s.logger.Warn("deployment watcher: evaluation", "deployment", d.ID, "err", err)
					}
				} else {
					seen[d.ID] = v
					wrote = true
				}
			}
		}
		if wrote {
			continue
		}
		deadline := now.Add(time.Minute)
		if !next.IsZero() {
			deadline = next.Add(time.Millisecond)
		}
		wctx, cancel := context.WithDeadline(ctx, deadline)
		_, _, _ = s.raft.Store().Blocking(wctx, index, []string{state.TableDeployments, state.TableAllocs},
			func(snap *state.Snapshot) (uint64, any) {
				return snap.Index(state.TableDeployments, state.TableAllocs), nil
			})
		cancel()
	}
}

func hasKey(m map[string]int, k string) bool { _, ok := m[k]; return ok }

// unhealthyAllocs returns the deployment's allocations when it counts an
// unhealthy one (the watcher then asks whether it is being replaced),
// else nil: a healthy rollout does not read them at every change.
func unhealthyAllocs(snap *state.Snapshot, d *cluster.Deployment) []*cluster.Allocation {
	for _, g := range d.TaskGroups {
		if g.UnhealthyAllocs > 0 {
			return snap.AllocsByDeployment(d.ID)
		}
	}
	return nil
}

func (s *Server) jobEval(snap *state.Snapshot, ns, jobID string) *cluster.Evaluation {
	j := snap.Job(ns, jobID)
	if j == nil || j.Spec == nil {
		return nil
	}
	return &cluster.Evaluation{
		ID: newID(), Namespace: ns, JobID: jobID, Type: j.Spec.Type, Priority: evalPriority(j.Spec),
		TriggeredBy: cluster.EvalTriggerDeployment, JobModifyIndex: j.JobModifyIndex, Status: cluster.EvalStatusPending,
	}
}

func (s *Server) deploymentEval(ctx context.Context, snap *state.Snapshot, d *cluster.Deployment) error {
	e := s.jobEval(snap, d.Namespace, d.JobID)
	if e == nil {
		return nil
	}
	_, _, err := s.raft.Apply(ctx, state.MsgEvalUpsert, &state.EvalUpsertRequest{Evals: []*cluster.Evaluation{e}, Now: time.Now()})
	return err
}

// applyDeploymentDecision writes a deployment's new status, then marks
// the version stable or registers the revert.
func (s *Server) applyDeploymentDecision(ctx context.Context, snap *state.Snapshot, d *cluster.Deployment, dec deploymentwatcher.Decision) error {
	cur := snap.Job(d.Namespace, d.JobID)
	revert := dec.RevertTo != nil && cur != nil && cur.Version == d.JobVersion && !cur.Stop
	req := &state.DeploymentStatusRequest{
		Update: state.DeploymentStatusUpdate{ID: d.ID, Status: dec.Status, Description: dec.Description},
		Now:    time.Now(),
	}
	if !revert {
		req.Eval = s.jobEval(snap, d.Namespace, d.JobID)
	}
	if _, _, err := s.raft.Apply(ctx, state.MsgDeploymentStatusUpdate, req); err != nil {
		return err
	}
	if !dec.MarkStable && dec.Status == cluster.DeploymentRunning {
		return nil // only the description changed
	}
	s.logger.Info("deployment finished", "deployment", d.ID, "job", d.JobID, "version", d.JobVersion, "status", dec.Status, "description", dec.Description)
	if dec.Status == cluster.DeploymentFailed {
		// Before the revert, so that no reconcile pass sees the reverted
		// job without the failure and submits the failed commit again.
		s.recordFailedCommit(ctx, snap, d, dec.Description)
	}
	if dec.MarkStable {
		if _, _, err := s.raft.Apply(ctx, state.MsgJobStable, &state.JobStableRequest{
			Namespace: d.Namespace, JobID: d.JobID, Version: d.JobVersion, Stable: true, Now: time.Now(),
		}); err != nil {
			return err
		}
	}
	if revert {
		st := dec.RevertTo
		cmd := &state.JobRegisterRequest{
			Job:  &cluster.Job{Namespace: st.Namespace, ID: st.ID, Spec: st.Spec, Hash: st.Hash, Source: st.Source},
			Eval: s.jobEval(snap, d.Namespace, d.JobID),
			Now:  time.Now(),
		}
		// The CAS makes sure nobody registered a newer version meanwhile.
		check := cur.JobModifyIndex
		cmd.CheckIndex = &check
		if _, _, err := s.raft.Apply(ctx, state.MsgJobRegister, cmd); err != nil {
			return err
		}
		s.logger.Info("deployment failed; reverted job", "job", d.JobID, "from", d.JobVersion, "to_spec_of", st.Version)
	}
	return nil
}

// recordFailedCommit records, in its source's sync status, the commit of
// a Git-managed job version whose deployment failed: the reconciler then
// holds that commit (no resubmission) until a new one arrives, and
// `drover sync status` says why.
func (s *Server) recordFailedCommit(ctx context.Context, snap *state.Snapshot, d *cluster.Deployment, why string) {
	v := snap.JobVersion(d.Namespace, d.JobID, d.JobVersion)
	if v == nil || v.Source == nil || v.Source.Commit == "" {
		return
	}
	reason := fmt.Sprintf("job %s: deployment %s of version %d failed: %s", d.JobID, shortDeploymentID(d.ID), d.JobVersion, why)
	// The source's reconciler writes the same status: check-and-set, and
	// on a conflict start again from what it wrote.
	for attempt := 0; ; attempt++ {
		prev := snap.SyncStatus(v.Source.Name)
		if prev == nil {
			return
		}
		st := reconciler.WithFailedCommit(prev, v.Source.Commit, v.Source.Subject, []string{reason}, time.Now())
		check := prev.ModifyIndex
		_, _, err := s.raft.Apply(ctx, state.MsgSyncStatusUpsert, &state.SyncStatusRequest{Status: &st, Now: time.Now(), CheckIndex: &check})
		if err == nil {
			if o := reconciler.NewOutcome(prev, &st); o != "" {
				s.metrics.CommitOutcome(v.Source.Name, o) // metrics.go
			}
			break
		}
		if !errors.Is(err, state.ErrCASConflict) || attempt == 4 {
			s.logger.Warn("record failed commit", "source", v.Source.Name, "commit", v.Source.Commit, "err", err)
			return
		}
		snap = s.raft.Store().Snapshot()
	}
	s.logger.Info("deployment failed; commit recorded as failed", "source", v.Source.Name, "commit", v.Source.Commit, "job", d.JobID)
}

func shortDeploymentID(id string) string { return id[:min(len(id), 8)] }
