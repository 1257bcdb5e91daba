package state

import (
	"time"

	"fmt"

	"github.com/droverhq/drover/cluster"
)

func (w *writer) jobRegister(req *JobRegisterRequest) (any, error) {
	if req.Job == nil || req.Job.ID == "" || req.Job.Spec == nil {
		return nil, invalid("job register: job, job ID and spec are required")
	}
	j := req.Job // decoded from the log: ours to change
	j.Namespace = namespaceOr(j.Namespace)
	if err := validEval(req.Eval); err != nil {
		return nil, err
	}
	prev := w.read().Job(j.Namespace, j.ID)
	if err := checkCAS(req.CheckIndex, prev, j.Namespace, j.ID); err != nil {
		return nil, err
	}
	if err := w.checkJobNodePool(j); err != nil { // node_pool.go
		return nil, err
	}

	j.Version, j.CreateIndex = 0, w.index
	if prev != nil {
		j.Version, j.CreateIndex = prev.Version+1, prev.CreateIndex
	}
	j.ModifyIndex, j.JobModifyIndex = w.index, w.index
	j.SubmitTime = req.Now
	j.Stable = false
	j.Status = cluster.JobStatusPending
	if j.Stop {
		j.Status = cluster.JobStatusDead
	}
	if j.Hash == "" {
		j.Hash = j.Spec.Hash()
	}
	if err := w.putJob(j); err != nil {
		return nil, err
	}
	if err := w.jobEval(req.Eval, j, req.Now); err != nil {
		return nil, err
	}
	return &JobRegisterResponse{Version: j.Version, JobModifyIndex: j.JobModifyIndex}, nil
}

func (w *writer) jobDeregister(req *JobDeregisterRequest) (any, error) {
	ns := namespaceOr(req.Namespace)
	if req.JobID == "" {
		return nil, invalid("job deregister: job ID is required")
	}
	if err := validEval(req.Eval); err != nil {
		return nil, err
	}
	prev := w.read().Job(ns, req.JobID)
	if prev == nil {
		return nil, notFound("job %s/%s", ns, req.JobID)
	}
	if err := checkCAS(req.CheckIndex, prev, ns, req.JobID); err != nil {
		return nil, err
	}

	if req.Purge {
		for _, v := range w.read().JobVersions(ns, req.JobID) {
			if err := w.delete(TableJobVersions, v); err != nil {
				return nil, err
			}
		}
		if err := w.delete(TableJobs, prev); err != nil {
			return nil, err
		}
		if err := w.deletePeriodicLaunch(ns, req.JobID); err != nil {
			return nil, err
		}
		if err := w.jobEval(req.Eval, prev, req.Now); err != nil {
			return nil, err
		}
		return &JobRegisterResponse{Version: prev.Version, JobModifyIndex: w.index}, nil
	}

	j := *prev
	j.Version++
	j.Stop = true
	j.Status = cluster.JobStatusDead
	j.Stable = false
	j.Source = req.Source
	j.SubmitTime = req.Now
	j.ModifyIndex, j.JobModifyIndex = w.index, w.index
	if err := w.putJob(&j); err != nil {
		return nil, err
	}
	if err := w.jobEval(req.Eval, &j, req.Now); err != nil {
		return nil, err
	}
	return &JobRegisterResponse{Version: j.Version, JobModifyIndex: j.JobModifyIndex}, nil
}

func (w *writer) jobStable(req *JobStableRequest) (any, error) {
	ns := namespaceOr(req.Namespace)
	r := w.read()
	v := r.JobVersion(ns, req.JobID, req.Version)
	if v == nil {
		return nil, notFound("job %s/%s version %d", ns, req.JobID, req.Version)
	}
	if v.Stable == req.Stable {
		return nil, nil
	}
	j := *v
	j.Stable = req.Stable
	j.ModifyIndex = w.index
	if err := w.insert(TableJobVersions, &j); err != nil {
		return nil, err
	}
	// The latest-jobs table shares the record of the newest version.
	if latest := r.Job(ns, req.JobID); latest != nil && latest.Version == j.Version {
		if err := w.insert(TableJobs, &j); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// putJob stores j as a job's newest version.
func (w *writer) putJob(j *cluster.Job) error {
	if err := w.insert(TableJobVersions, j); err != nil {
		return err
	}
	return w.insert(TableJobs, j)
}

func checkCAS(check *uint64, cur *cluster.Job, ns, id string) error {
	if check == nil {
		return nil
	}
	var have uint64
	if cur != nil {
		have = cur.JobModifyIndex
	}
	if have != *check {
		return fmt.Errorf("%w: job %s/%s has modify index %d, not %d", ErrCASConflict, ns, id, have, *check)
	}
	return nil
}

// jobEval creates the evaluation that comes with a job change.
func (w *writer) jobEval(e *cluster.Evaluation, j *cluster.Job, now time.Time) error {
	if e == nil {
		return nil
	}
	e.Namespace = j.Namespace
	e.JobID = j.ID
	e.JobModifyIndex = w.index
	return w.putEval(e, now)
}
