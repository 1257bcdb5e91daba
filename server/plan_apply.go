package server

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/scheduler"
	"github.com/droverhq/drover/state"
)

// maxPlanAttempts bounds how often one evaluation is re-planned when
// EvaluatePlan rejects nodes (another write took their room meanwhile).
const maxPlanAttempts = 5

// retryFailedDelay is how long a follow-up of an evaluation whose plans
// kept being rejected waits.
const retryFailedDelay = 5 * time.Second

// runEval schedules one evaluation and commits the result: the accepted
// plan, the evaluation's final status and its follow-ups, as Nomad's plan
// applier does; a large plan in several MsgPlanApply chunks, the
// evaluation's status in the last (plan_chunk.go). It reports whether
// the evaluation left the pending (or, when re-run, blocked) state.
func (s *Server) runEval(ctx context.Context, b evalBatch) bool {
	eval := b.eval
	logger := s.logger.With("eval", eval.ID, "job", eval.JobID, "triggered_by", eval.TriggeredBy)
	for attempt := 1; ; attempt++ {
		opts := schedulerOptions(time.Now())
		schedStart := time.Now()
		plan, err := scheduler.Process(s.raft.Store().Snapshot(), eval, opts)
		schedTook := time.Since(schedStart)
		if err != nil {
			logger.Error("scheduler failed", "err", err)
			return s.finishEval(ctx, b, failedEval(eval, fmt.Sprintf("scheduler error: %v", err)), nil)
		}
		accepted, rejected := scheduler.EvaluatePlan(s.raft.Store().Snapshot(), plan)
		req := planRequest(accepted, opts.Now)
		if len(rejected) == 0 {
			final, followUps := evalOutcome(eval, plan)
			req.Evals = append(req.Evals, final)
			req.Evals = append(req.Evals, followUps...)
			req.Evals = append(req.Evals, s.retired(b, final, followUps)...)
			chunks, err := s.applyPlan(ctx, req)
			if err != nil {
				logger.Warn("commit plan", "err", err)
				return false
			}
			s.observeEval(eval, plan, schedTook, true) // metrics.go
			logger.Debug("evaluation done", "status", final.Status, "placed", len(req.Allocs), "stopped", len(req.Stop), "chunks", chunks)
			if len(req.Stop) > 0 {
				s.kickUnblock()
			}
			return true
		}
		logger.Info("plan partly rejected; planning again", "rejected_nodes", rejected, "attempt", attempt)
		if attempt == maxPlanAttempts {
			f := failedEval(eval, fmt.Sprintf("plan rejected on nodes %s after %d attempts", strings.Join(rejected, ", "), attempt))
			retry := &cluster.Evaluation{
				ID: newID(), Namespace: eval.Namespace, JobID: eval.JobID, Type: eval.Type, Priority: eval.Priority,
				TriggeredBy: cluster.EvalTriggerRetryFailed, Status: cluster.EvalStatusPending,
				PreviousEval: eval.ID, JobModifyIndex: eval.JobModifyIndex, WaitUntil: opts.Now.Add(retryFailedDelay),
			}
			return s.finishEval(ctx, b, f, req, retry)
		}
		if !planEmpty(req) {
			if _, err := s.applyPlan(ctx, req); err != nil {
				logger.Warn("commit partial plan", "err", err)
				return false
			}
		}
	}
}

// finishEval commits an evaluation's final status with an optional plan
// and follow-ups.
func (s *Server) finishEval(ctx context.Context, b evalBatch, final *cluster.Evaluation, req *state.PlanApplyRequest, followUps ...*cluster.Evaluation) bool {
	if req == nil {
		req = &state.PlanApplyRequest{Now: time.Now()}
	}
	req.Evals = append(req.Evals, final)
	req.Evals = append(req.Evals, followUps...)
	req.Evals = append(req.Evals, s.retired(b, final, followUps)...)
	if _, err := s.applyPlan(ctx, req); err != nil {
		s.logger.Warn("commit evaluation status", "eval", final.ID, "err", err)
		return false
	}
	return true
}

// applyPlan commits a plan in chunks of bounded size (chunkPlan), each
// once the one before it applied, and returns how many there were. On
// an error the chunks before the failed one stay committed; the
// evaluation, whose status is in the last chunk, stays pending, and its
// next run places what is missing.
func (s *Server) applyPlan(ctx context.Context, req *state.PlanApplyRequest) (int, error) {
	start := time.Now()
	chunks := chunkPlan(req, defaultChunkLimits())
	for i, c := range chunks {
		if _, _, err := s.raft.Apply(ctx, state.MsgPlanApply, c); err != nil {
			if len(chunks) == 1 {
				return 0, err
			}
			return i, fmt.Errorf("plan chunk %d of %d (%d committed before it): %w", i+1, len(chunks), i, err)
		}
	}
	if len(chunks) > 1 {
		s.logger.Info("large plan committed in chunks", "chunks", len(chunks), "placed", len(req.Allocs),
			"stopped", len(req.Stop), "took", time.Since(start).Round(time.Millisecond))
	}
	return len(chunks), nil
}

// retired cancels the evaluations a run made redundant: older pending
// ones of the job, and its blocked ones other than the run's outcome.
func (s *Server) retired(b evalBatch, final *cluster.Evaluation, followUps []*cluster.Evaluation) []*cluster.Evaluation {
	var out []*cluster.Evaluation
	for _, e := range b.superseded {
		c := *e
		c.Status, c.StatusDescription = cluster.EvalStatusCanceled, "superseded by evaluation "+final.ID
		out = append(out, &c)
	}
	for _, e := range b.blocked {
		if e.ID == final.ID || slices.ContainsFunc(followUps, func(f *cluster.Evaluation) bool { return f.ID == e.ID }) {
			continue
		}
		c := *e
		c.Status, c.StatusDescription = cluster.EvalStatusCanceled, "replaced by evaluation "+final.ID
		out = append(out, &c)
	}
	return out
}

// evalOutcome is the evaluation's final record and the follow-ups to
// create with it. An evaluation that could not place everything is
// complete, records why in FailedTGAllocs, and leaves a blocked
// evaluation behind; a blocked evaluation that still cannot place stays
// blocked itself.
func evalOutcome(eval *cluster.Evaluation, plan *scheduler.Plan) (*cluster.Evaluation, []*cluster.Evaluation) {
	e := *eval
	e.Status, e.StatusDescription = cluster.EvalStatusComplete, ""
	e.FailedTGAllocs, e.QueuedAllocations = nil, nil
	if len(plan.FailedTGAllocs) > 0 {
		e.FailedTGAllocs = maps.Clone(plan.FailedTGAllocs)
		e.QueuedAllocations = map[string]int{}
		for g, m := range plan.FailedTGAllocs {
			e.QueuedAllocations[g] = 1 + m.CoalescedFailures
		}
		if eval.Status == cluster.EvalStatusBlocked {
			e.Status = cluster.EvalStatusBlocked
			e.StatusDescription = "waiting for capacity to place " + queuedText(e.QueuedAllocations)
		} else {
			e.StatusDescription = "could not place " + queuedText(e.QueuedAllocations)
		}
	}
	for _, f := range plan.FollowUpEvals {
		if f.Status == cluster.EvalStatusBlocked {
			e.BlockedEval = f.ID
		}
	}
	return &e, plan.FollowUpEvals
}

func queuedText(q map[string]int) string {
	var parts []string
	for _, g := range slices.Sorted(maps.Keys(q)) {
		parts = append(parts, fmt.Sprintf("%d of group %q", q[g], g))
	}
	return strings.Join(parts, ", ")
}

func failedEval(eval *cluster.Evaluation, desc string) *cluster.Evaluation {
	e := *eval
	e.Status, e.StatusDescription = cluster.EvalStatusFailed, desc
	return &e
}

// planRequest turns an accepted plan into the Raft command.
func planRequest(p *scheduler.Plan, now time.Time) *state.PlanApplyRequest {
	req := &state.PlanApplyRequest{Deployment: p.Deployment, Now: now}
	for _, id := range slices.Sorted(maps.Keys(p.NodeUpdate)) {
		for _, a := range p.NodeUpdate[id] {
			u := state.AllocDesired{AllocID: a.ID, DesiredStatus: a.DesiredStatus, Description: a.DesiredDescription}
			// Only "lost" is the servers' verdict; any other client
			// status is the agent's and must not be overwritten with
			// the copy the scheduler read.
			if a.ClientStatus == cluster.AllocClientLost {
				u.ClientStatus = a.ClientStatus
			}
			req.Stop = append(req.Stop, u)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(p.NodeAllocation)) {
		req.Allocs = append(req.Allocs, p.NodeAllocation[id]...)
	}
	for _, u := range p.DeploymentUpdates {
		req.DeploymentUpdates = append(req.DeploymentUpdates, state.DeploymentStatusUpdate{
			ID: u.DeploymentID, Status: u.Status, Description: u.StatusDescription,
		})
	}
	return req
}

// schedulerOptions are the scheduler's inputs that do not come from the
// state: the clock, randomness seeded per evaluation, and UUIDs.
func schedulerOptions(now time.Time) scheduler.Options {
	var seed [16]byte
	_, _ = crand.Read(seed[:])
	return scheduler.Options{
		Now:   now,
		Rand:  rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]))),
		NewID: newID,
	}
}

func planEmpty(r *state.PlanApplyRequest) bool {
	return len(r.Allocs) == 0 && len(r.Stop) == 0 && r.Deployment == nil && len(r.DeploymentUpdates) == 0
}
