package reconciler

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// Cluster is what the reconciler needs of a cluster. The server
// implements it over its Raft state; `drover reconcile --once` over the
// HTTP API.
type Cluster interface {
	// Jobs returns the latest version of every job.
	Jobs(ctx context.Context) ([]*cluster.Job, error)
	// Register submits a job version with its provenance, only if the
	// job's JobModifyIndex is still checkIndex (0: it must not exist); a
	// mismatch returns an error wrapping ErrConflict.
	Register(ctx context.Context, job *jobspec.Job, src *cluster.Source, checkIndex uint64) (Submitted, error)
	// Deregister stops a job, recording src as the stopped version's
	// provenance, with the same check-and-set.
	Deregister(ctx context.Context, namespace, id string, src *cluster.Source, checkIndex uint64) (Submitted, error)
}

// Submitted is what the cluster did with one action.
type Submitted struct {
	Namespace string
	ID        string
	Version   uint64
	EvalID    string
	// Unchanged: the spec equalled the current version; nothing written.
	Unchanged bool
	Stop      bool
}

// Observe is the observe step.
func Observe(ctx context.Context, c Cluster) ([]*cluster.Job, error) {
	jobs, err := c.Jobs(ctx)
	if err != nil {
		return nil, stepErr("observe", Failed, err)
	}
	return jobs, nil
}

// submitWorkers bounds concurrent submits: Raft batches concurrent
// applies into one disk write, so a first sync of thousands of jobs is
// not thousands of fsyncs in a row, while a handful keeps the leader
// responsive.
const submitWorkers = 8

// Submit is the submit step: it registers and stops what the decision
// says, each job with its provenance. It stops at the first error and
// returns what was done until then; a conflict is Waiting (the next pass
// decides again), anything else Failed.
func Submit(ctx context.Context, c Cluster, d Decision, prov cluster.Source) ([]Submitted, error) {
	var mu sync.Mutex
	var done []Submitted
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(submitWorkers)
	run := func(a Action) {
		g.Go(func() error {
			src := prov
			src.Path = a.Path
			var s Submitted
			var err error
			if a.Job != nil {
				s, err = c.Register(gctx, a.Job, &src, a.CheckIndex)
			} else {
				s, err = c.Deregister(gctx, a.Namespace, a.ID, &src, a.CheckIndex)
				s.Stop = true
			}
			if err != nil {
				return fmt.Errorf("%s job %s: %w", verb(a), a.ID, err)
			}
			s.Namespace, s.ID = a.Namespace, a.ID
			mu.Lock()
			done = append(done, s)
			mu.Unlock()
			return nil
		})
	}
	for _, a := range d.Register {
		run(a)
	}
	for _, a := range d.Stop {
		run(a)
	}
	if err := g.Wait(); err != nil {
		kind := Failed
		if errors.Is(err, ErrConflict) {
			kind = Waiting
		}
		return done, stepErr("submit", kind, err)
	}
	return done, nil
}

func verb(a Action) string {
	if a.Job == nil {
		return "stop"
	}
	return "register"
}
