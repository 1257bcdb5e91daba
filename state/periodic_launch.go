package state

import (
	"fmt"
	"time"

	"github.com/droverhq/drover/cluster"
	memdb "github.com/hashicorp/go-memdb"
)

// TablePeriodicLaunch holds, for each periodic job, the time of its last
// scheduled launch. It is what makes launches survive a leader change: a
// new leader computes the next launch after the recorded one, so that it
// neither launches a time twice nor forgets one that came due while no
// server led.
const TablePeriodicLaunch = "periodic_launch"

// PeriodicLaunch is a periodic job's last scheduled launch.
type PeriodicLaunch struct {
	Namespace   string    `json:"namespace"`
	ID          string    `json:"id"`
	Launch      time.Time `json:"launch"`
	ModifyIndex uint64    `json:"modify_index"`
}

// PeriodicLaunchRequest launches a periodic job: it records Launch as the
// job's last launch and registers Child, with Eval, at the same index, so
// that a launch is either wholly done or not at all.
type PeriodicLaunchRequest struct {
	Namespace string `json:"namespace"`
	// JobID is the periodic (parent) job.
	JobID string `json:"job_id"`
	// Launch is the scheduled time being launched (whole seconds: it
	// names the child).
	Launch time.Time `json:"launch"`
	// Child is the job to register, nil to record the launch without
	// one (prohibit_overlap skipped it).
	Child *cluster.Job        `json:"child,omitempty"`
	Eval  *cluster.Evaluation `json:"eval,omitempty"`
	// Force launches outside the schedule (`drover job periodic force`):
	// the launch record is left alone, and a child of the same second
	// already there is an error instead of nothing to do.
	Force bool      `json:"force,omitempty"`
	Now   time.Time `json:"now"`
}

// PeriodicLaunchResponse says whether the command launched anything.
// Launched is false, with no error, for a scheduled launch at or before
// the recorded one: another leader already did it.
type PeriodicLaunchResponse struct {
	Launched       bool   `json:"launched"`
	ChildID        string `json:"child_id,omitempty"`
	JobModifyIndex uint64 `json:"job_modify_index,omitempty"`
}

func periodicLaunchTable() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TablePeriodicLaunch,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: keyIndex[*PeriodicLaunch](2, func(l *PeriodicLaunch) []string {
				return []string{l.Namespace, l.ID}
			})},
		},
	}
}

// PeriodicLaunch returns a periodic job's launch record, or nil.
func (s *Snapshot) PeriodicLaunch(namespace, id string) *PeriodicLaunch {
	return first[*PeriodicLaunch](s.txn.First(TablePeriodicLaunch, "id", namespace, id))
}

func (w *writer) periodicLaunch(req *PeriodicLaunchRequest) (any, error) {
	ns := namespaceOr(req.Namespace)
	if req.JobID == "" || req.Launch.IsZero() {
		return nil, invalid("periodic launch: job ID and launch time are required")
	}
	if req.Child != nil && (req.Child.Spec == nil || req.Child.ParentID != req.JobID || req.Child.Spec.Periodic != nil) {
		return nil, invalid("periodic launch: child of %s/%s must have a spec, ParentID %q and no periodic block", ns, req.JobID, req.JobID)
	}
	if req.Force && req.Child == nil {
		return nil, invalid("periodic launch: a forced launch needs a child")
	}
	if err := validEval(req.Eval); err != nil {
		return nil, err
	}
	r := w.read()
	parent := r.Job(ns, req.JobID)
	if parent == nil || parent.Stop || parent.Spec == nil || parent.Spec.Periodic == nil {
		return nil, notFound("periodic job %s/%s (stopped, purged or no longer periodic)", ns, req.JobID)
	}
	rec := r.PeriodicLaunch(ns, req.JobID)
	if !req.Force && rec != nil && !req.Launch.After(rec.Launch) {
		// A launch at or before the recorded one was done (or skipped)
		// already, by this leader or an earlier one.
		return &PeriodicLaunchResponse{}, nil
	}
	resp := &PeriodicLaunchResponse{}
	if c := req.Child; c != nil {
		c.Namespace = ns
		if r.Job(ns, c.ID) != nil {
			if req.Force {
				return nil, fmt.Errorf("%w: periodic job %s/%s already has a child %s; try again in a second", ErrCASConflict, ns, req.JobID, c.ID)
			}
		} else {
			out, err := w.jobRegister(&JobRegisterRequest{Job: c, Eval: req.Eval, Now: req.Now})
			if err != nil {
				return nil, err
			}
			resp.Launched, resp.ChildID = true, c.ID
			resp.JobModifyIndex = out.(*JobRegisterResponse).JobModifyIndex
		}
	}
	if !req.Force {
		l := &PeriodicLaunch{Namespace: ns, ID: req.JobID, Launch: req.Launch, ModifyIndex: w.index}
		if err := w.insert(TablePeriodicLaunch, l); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// deletePeriodicLaunch drops a purged job's launch record.
func (w *writer) deletePeriodicLaunch(ns, id string) error {
	if rec := w.read().PeriodicLaunch(ns, id); rec != nil {
		return w.delete(TablePeriodicLaunch, rec)
	}
	return nil
}
