package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/state"
)

// Garbage collection, Nomad's model: while a server leads, it collects
// every GCInterval what state.GCCandidates finds (terminal evaluations,
// allocations and deployments past their thresholds, old job versions,
// stopped jobs), committing it as MsgGC commands of at most
// state.GCBatchSize IDs. PUT /v1/system/gc (`drover system gc`) runs a
// pass at once that ignores the thresholds. The FSM checks each
// candidate again, so a pass never races a write into losing anything,
// and two passes at once only find less to do.

func (c Config) validateGC() []error {
	var errs []error
	if c.GC.JobTrackedVersions < 1 {
		errs = append(errs, fmt.Errorf("job_tracked_versions %d: keep at least 1 (the latest version)", c.GC.JobTrackedVersions))
	}
	if c.GC.EvalGCThreshold < 0 || c.GC.DeploymentGCThreshold < 0 || c.GC.JobGCThreshold < 0 {
		errs = append(errs, errors.New("eval_gc_threshold, deployment_gc_threshold and job_gc_threshold must not be negative"))
	}
	if c.GCInterval <= 0 {
		errs = append(errs, errors.New("gc_interval must be positive"))
	}
	return errs
}

// runGC is the leader's periodic collection; it returns when ctx ends.
func (s *Server) runGC(ctx context.Context) {
	t := time.NewTicker(s.cfg.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		resp, err := s.collectGarbage(ctx, s.cfg.GC, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			// The next tick tries again; the FSM skips what an
			// interrupted pass already collected.
			s.logger.Warn("garbage collection", "err", err)
		case err == nil && *resp != (state.GCResponse{}):
			s.logger.Info("garbage collected", gcAttrs(resp)...)
		}
	}
}

// collectGarbage runs one pass at now: it picks the candidates from the
// leader's state and commits them in batches. It returns what the
// committed batches collected, also when a later one failed.
func (s *Server) collectGarbage(ctx context.Context, cfg state.GCConfig, now time.Time) (*state.GCResponse, error) {
	req := state.GCCandidates(s.raft.Store().Snapshot(), cfg, now)
	total := &state.GCResponse{}
	for _, part := range req.Split(state.GCBatchSize) {
		_, resp, err := s.raft.Apply(ctx, state.MsgGC, part)
		if err != nil {
			return total, fmt.Errorf("gc: %w", err)
		}
		if r, ok := resp.(*state.GCResponse); ok {
			total.Add(r)
		}
	}
	return total, nil
}

func gcAttrs(r *state.GCResponse) []any {
	return []any{"allocs", r.Allocs, "evals", r.Evals, "deployments", r.Deployments,
		"job_versions", r.JobVersions, "jobs", r.Jobs}
}

// systemGC serves PUT /v1/system/gc: one pass now, thresholds ignored
// (Nomad's force GC), on the leader.
func (s *Server) systemGC(w http.ResponseWriter, r *http.Request) error {
	resp, err := s.collectGarbage(r.Context(), s.cfg.GC.Force(), time.Now())
	if err != nil {
		return err
	}
	s.logger.Info("garbage collection forced", gcAttrs(resp)...)
	return s.reply(w, s.raft.AppliedIndex(), &api.GCResponse{
		Allocs: resp.Allocs, Evals: resp.Evals, Jobs: resp.Jobs,
		Deployments: resp.Deployments, JobVersions: resp.JobVersions,
	})
}

// jobHistory serves GET /v1/job/{id}/history: the summaries of the job's
// collected versions, newest first. An unknown job has none ([]), not a
// 404: the summaries outlive a purged job.
func (s *Server) jobHistory(w http.ResponseWriter, r *http.Request) error {
	ns, id := namespace(r), r.PathValue("id")
	return s.blocking(w, r, []string{state.TableJobHistory}, func(snap *state.Snapshot) (any, error) {
		if err := checkNodeJob(r, snap, ns, id); err != nil {
			return nil, err
		}
		hs := snap.JobHistory(ns, id)
		slices.Reverse(hs)
		return nonNil(hs), nil
	})
}
