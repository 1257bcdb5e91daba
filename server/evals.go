package server

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

// runEvals is the leader's evaluation loop, the part of Nomad's eval
// broker and worker that Drover needs: one goroutine that picks runnable
// evaluations from the state, runs the scheduler on each and commits the
// plan. One worker serializes evaluations per job, and across jobs, which
// keeps plans from racing each other; EvaluatePlan still guards against
// writes from the API between snapshot and commit.
//
// It wakes on writes to the evaluations or nodes tables (a new node may
// unblock evaluations), on unblock kicks (capacity freed by stopped
// allocations), and when the earliest delayed evaluation comes due.
func (s *Server) runEvals(ctx context.Context) {
	// Blocked evaluations re-run once when a server takes office: the
	// cluster may have changed while no leader was watching.
	unblock := true
	var nodesIndex uint64
	for ctx.Err() == nil {
		snap := s.raft.Store().Snapshot()
		if ni := snap.Index(state.TableNodes); ni != nodesIndex {
			unblock, nodesIndex = true, ni
		}
		// At least 1: a wait from index 0 returns at once, and until the
		// first node or evaluation is written that would spin a core.
		waitIndex := max(snap.Index(state.TableEvals, state.TableNodes), 1)
		batch, next := runnableEvals(snap, time.Now(), unblock)
		unblock = false

		progressed := false
		for _, b := range batch {
			if ctx.Err() != nil {
				return
			}
			if s.runEval(ctx, b) {
				progressed = true
			}
		}
		if progressed {
			// Processing wrote evaluations; look again before sleeping.
			continue
		}
		if len(batch) > 0 {
			// Every evaluation failed to commit (a lost leadership, most
			// likely): back off rather than spin.
			if !sleepCtx(ctx, s.cfg.RetryInterval) {
				return
			}
			continue
		}
		if s.waitForEvals(ctx, waitIndex, next) {
			unblock = true
		}
	}
}

// evalBatch is the evaluation to run for one job, with the older pending
// evaluations of the same job that it makes redundant.
type evalBatch struct {
	eval       *cluster.Evaluation
	superseded []*cluster.Evaluation
	// blocked are the job's other blocked evaluations, which the run
	// replaces.
	blocked []*cluster.Evaluation
}

// runnableEvals picks, per job, the newest pending evaluation that is
// due, or with unblock the job's blocked evaluation; it returns them by
// priority, then age, and the earliest due time of a delayed evaluation.
func runnableEvals(snap *state.Snapshot, now time.Time, unblock bool) ([]evalBatch, time.Time) {
	type jobKey struct{ ns, id string }
	byJob := map[jobKey]*evalBatch{}
	blocked := map[jobKey][]*cluster.Evaluation{}
	var next time.Time
	for _, e := range snap.Evals() {
		k := jobKey{e.Namespace, e.JobID}
		switch e.Status {
		case cluster.EvalStatusPending:
			if !e.WaitUntil.IsZero() && e.WaitUntil.After(now) {
				if next.IsZero() || e.WaitUntil.Before(next) {
					next = e.WaitUntil
				}
				continue
			}
			b := byJob[k]
			if b == nil {
				byJob[k] = &evalBatch{eval: e}
				continue
			}
			if e.CreateIndex > b.eval.CreateIndex {
				b.superseded = append(b.superseded, b.eval)
				b.eval = e
			} else {
				b.superseded = append(b.superseded, e)
			}
		case cluster.EvalStatusBlocked:
			blocked[k] = append(blocked[k], e)
		}
	}
	for k, bs := range blocked {
		slices.SortFunc(bs, func(a, b *cluster.Evaluation) int { return cmp.Compare(b.CreateIndex, a.CreateIndex) })
		if b := byJob[k]; b != nil {
			b.blocked = bs
			continue
		}
		if unblock {
			byJob[k] = &evalBatch{eval: bs[0], blocked: bs[1:]}
		}
	}
	out := make([]evalBatch, 0, len(byJob))
	for _, b := range byJob {
		out = append(out, *b)
	}
	slices.SortFunc(out, func(a, b evalBatch) int {
		return cmp.Or(cmp.Compare(b.eval.Priority, a.eval.Priority), cmp.Compare(a.eval.CreateIndex, b.eval.CreateIndex))
	})
	return out, next
}

// waitForEvals sleeps until the evaluations or nodes tables pass index,
// a delayed evaluation comes due at next, or an unblock kick arrives; it
// reports the kick.
func (s *Server) waitForEvals(ctx context.Context, index uint64, next time.Time) (kicked bool) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var due <-chan time.Time
	if !next.IsZero() {
		t := time.NewTimer(max(time.Until(next), 0))
		defer t.Stop()
		due = t.C
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-s.unblockC:
			kicked = true
			cancel()
		case <-due:
			cancel()
		case <-wctx.Done():
		}
	}()
	_, _, _ = s.raft.Store().Blocking(wctx, index, []string{state.TableEvals, state.TableNodes},
		func(snap *state.Snapshot) (uint64, any) {
			return snap.Index(state.TableEvals, state.TableNodes), nil
		})
	cancel()
	<-done
	return kicked
}

// kickUnblock asks the evaluation loop to re-run blocked evaluations.
func (s *Server) kickUnblock() {
	select {
	case s.unblockC <- struct{}{}:
	default:
	}
}
