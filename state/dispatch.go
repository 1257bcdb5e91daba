package state

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/droverhq/drover/cluster"
)

// DispatchSuffix separates a parameterized job's ID from its dispatched
// children's: `<parent>/dispatch-<unix>-<8 hex>` (Nomad's form).
const DispatchSuffix = "/dispatch-"

// ErrTooManyChildren is the answer to a dispatch of a parameterized job
// that already has MaxChildren children not yet finished. It is an
// ErrInvalid: the command is refused the same way on every replica.
var ErrTooManyChildren = fmt.Errorf("%w: too many dispatched children", ErrInvalid)

// JobDispatchRequest registers a parameterized job's dispatched child and
// its evaluation at one index: the dispatch is wholly done or not at all,
// and the checks (the parent is still parameterized and running, the
// bound on children) are made against the state the child is written to.
type JobDispatchRequest struct {
	Namespace string `json:"namespace"`
	// ParentID is the parameterized job dispatched.
	ParentID string `json:"parent_id"`
	// Child is the job to register: the parent's spec without its
	// parameterized block, with the dispatch's meta and payload, under
	// `<parent>/dispatch-...`, ParentID set.
	Child *cluster.Job `json:"child"`
	// Eval schedules the child; nil for a child that is itself periodic
	// (a periodic parameterized job: the leader launches its children).
	Eval *cluster.Evaluation `json:"eval,omitempty"`
	// MaxChildren bounds the parent's children not yet finished
	// (0: no bound). It travels in the command so that every replica
	// decides with the leader's configuration.
	MaxChildren int       `json:"max_children,omitempty"`
	Now         time.Time `json:"now"`
}

// JobDispatchResponse is what a dispatch stored. Existing is set when
// the child's idempotency token matched an unfinished child: ChildID and
// JobCreateIndex are that child's, and nothing was written.
type JobDispatchResponse struct {
	ChildID        string `json:"child_id"`
	JobCreateIndex uint64 `json:"job_create_index"`
	Existing       bool   `json:"existing,omitempty"`
}

// DispatchedChildren returns the jobs dispatched from a parameterized job
// that the state still holds (finished ones until the GC purges them), in
// ID order. It walks the jobs index from `<parent>/dispatch-` on, so it
// costs the number of children, not the number of jobs.
func (s *Snapshot) DispatchedChildren(namespace, parentID string) []*cluster.Job {
	prefix := parentID + DispatchSuffix
	it, err := s.txn.LowerBound(TableJobs, "id", namespace, prefix)
	if err != nil {
		panic(fmt.Sprintf("state: query: %v", err))
	}
	var out []*cluster.Job
	for raw := it.Next(); raw != nil; raw = it.Next() {
		j := raw.(*cluster.Job)
		if j.Namespace != namespace || !strings.HasPrefix(j.ID, prefix) {
			break
		}
		if j.ParentID == parentID {
			out = append(out, j)
		}
	}
	return out
}

// liveChildren counts the children of a parent that are not finished
// (finishedChild), stopping at limit: the FSM only needs to know whether
// the bound is reached, and counting the rest would cost for nothing.
func liveChildren(r *Snapshot, kids []*cluster.Job, limit int) int {
	n := 0
	for _, k := range kids {
		if k.Stop && jobPurgeable(r, k) || finishedChild(r, k) {
			continue
		}
		if n++; n >= limit {
			break
		}
	}
	return n
}

func (w *writer) jobDispatch(req *JobDispatchRequest) (any, error) {
	ns := namespaceOr(req.Namespace)
	c := req.Child
	switch {
	case req.ParentID == "":
		return nil, invalid("job dispatch: the parent job ID is required")
	case c == nil || c.Spec == nil || c.ID == "":
		return nil, invalid("job dispatch of %s/%s: a child with an ID and a spec is required", ns, req.ParentID)
	case c.ParentID != req.ParentID || !strings.HasPrefix(c.ID, req.ParentID+DispatchSuffix):
		return nil, invalid("job dispatch: child %q must be named %s%s... and have ParentID %q", c.ID, req.ParentID, DispatchSuffix, req.ParentID)
	case c.Spec.Parameterized != nil:
		return nil, invalid("job dispatch: child %q must not be parameterized itself", c.ID)
	case c.Stop:
		return nil, invalid("job dispatch: child %q must not be stopped", c.ID)
	}
	if err := validEval(req.Eval); err != nil {
		return nil, err
	}
	r := w.read()
	parent := r.Job(ns, req.ParentID)
	switch {
	case parent == nil:
		return nil, notFound("job %s/%s (purged since the dispatch was accepted?)", ns, req.ParentID)
	case parent.Spec == nil || parent.Spec.Parameterized == nil:
		return nil, invalid("job %s/%s is not a parameterized job; only a job with a parameterized block can be dispatched", ns, req.ParentID)
	case parent.Stop:
		return nil, invalid("job %s/%s is stopped; run it again before dispatching it", ns, req.ParentID)
	}
	if tok := c.DispatchIdempotencyToken; tok != "" {
		// A retried dispatch: the child made with the same token, while
		// it has not finished, is the answer (Nomad's rule). Checked
		// here, against the state written to, so that two retries at
		// once make one child.
		for _, k := range r.DispatchedChildren(ns, req.ParentID) {
			if k.DispatchIdempotencyToken == tok && !k.Stop && !finishedChild(r, k) {
				return &JobDispatchResponse{ChildID: k.ID, JobCreateIndex: k.CreateIndex, Existing: true}, nil
			}
		}
	}
	if r.Job(ns, c.ID) != nil {
		// The random part makes this all but impossible; refusing keeps
		// a dispatch from ever overwriting another's child.
		return nil, fmt.Errorf("%w: job %s/%s exists already; dispatch again", ErrCASConflict, ns, c.ID)
	}
	if req.MaxChildren > 0 {
		kids := r.DispatchedChildren(ns, req.ParentID)
		if len(kids) >= req.MaxChildren && liveChildren(r, kids, req.MaxChildren) >= req.MaxChildren {
			return nil, fmt.Errorf("%w: job %s/%s has %d dispatched jobs that have not finished, the limit; "+
				"wait for some to finish (drover job status %s lists them), or stop some with 'drover job stop'",
				ErrTooManyChildren, ns, req.ParentID, req.MaxChildren, req.ParentID)
		}
	}
	c.Namespace = ns
	if _, err := w.jobRegister(&JobRegisterRequest{Job: c, Eval: req.Eval, Now: req.Now}); err != nil {
		return nil, err
	}
	return &JobDispatchResponse{ChildID: c.ID, JobCreateIndex: w.index}, nil
}

// IsTooManyChildren reports whether err is a dispatch refused by the
// bound on a parent's unfinished children.
func IsTooManyChildren(err error) bool { return errors.Is(err, ErrTooManyChildren) }
