package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// Jobs is the job endpoints.
type Jobs struct{ c *Client }

// Jobs returns the job endpoints.
func (c *Client) Jobs() *Jobs { return &Jobs{c} }

// List returns every job's latest version, filtered by q.Prefix.
func (j *Jobs) List(ctx context.Context, q *QueryOptions) ([]*JobListStub, *QueryMeta, error) {
	var out []*JobListStub
	meta, err := j.c.query(ctx, "/v1/jobs", q, &out)
	return out, meta, err
}

// Info returns a job's latest version.
func (j *Jobs) Info(ctx context.Context, id string, q *QueryOptions) (*cluster.Job, *QueryMeta, error) {
	var out cluster.Job
	meta, err := j.c.query(ctx, "/v1/job/"+esc(id), q, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Versions returns every stored version of a job, newest first.
func (j *Jobs) Versions(ctx context.Context, id string, q *QueryOptions) ([]*cluster.Job, *QueryMeta, error) {
	var out []*cluster.Job
	meta, err := j.c.query(ctx, "/v1/job/"+esc(id)+"/versions", q, &out)
	return out, meta, err
}

// Register submits a job version. An invalid job comes back as a
// *StatusError with code 400 and Diagnostics; a check_index mismatch as
// 409 (IsConflict).
func (j *Jobs) Register(ctx context.Context, req *JobRegisterRequest) (*JobRegisterResponse, error) {
	if req == nil || req.Job == nil {
		return nil, errors.New("api: register: no job")
	}
	var out JobRegisterResponse
	if err := j.c.write(ctx, http.MethodPost, "/v1/jobs", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Deregister stops a job, or with purge deletes it and its history.
func (j *Jobs) Deregister(ctx context.Context, id string, purge bool) (*JobDeregisterResponse, error) {
	var params url.Values
	if purge {
		params = url.Values{"purge": {strconv.FormatBool(purge)}}
	}
	var out JobDeregisterResponse
	if err := j.c.write(ctx, http.MethodDelete, "/v1/job/"+esc(id), params, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Plan dry-runs a job: the diff against the running version and what the
// scheduler would do. Nothing is written.
func (j *Jobs) Plan(ctx context.Context, job *jobspec.Job) (*JobPlanResponse, error) {
	if job == nil {
		return nil, errors.New("api: plan: no job")
	}
	var out JobPlanResponse
	if err := j.c.write(ctx, http.MethodPost, "/v1/job/"+esc(job.ID)+"/plan", nil, &JobPlanRequest{Job: job}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Allocations returns a job's allocations, of every version.
func (j *Jobs) Allocations(ctx context.Context, id string, q *QueryOptions) ([]*cluster.Allocation, *QueryMeta, error) {
	var out []*cluster.Allocation
	meta, err := j.c.query(ctx, "/v1/job/"+esc(id)+"/allocations", q, &out)
	return out, meta, err
}

// Evaluations returns a job's evaluations.
func (j *Jobs) Evaluations(ctx context.Context, id string, q *QueryOptions) ([]*cluster.Evaluation, *QueryMeta, error) {
	var out []*cluster.Evaluation
	meta, err := j.c.query(ctx, "/v1/job/"+esc(id)+"/evaluations", q, &out)
	return out, meta, err
}

// Deployments returns a job's deployments.
func (j *Jobs) Deployments(ctx context.Context, id string, q *QueryOptions) ([]*cluster.Deployment, *QueryMeta, error) {
	var out []*cluster.Deployment
	meta, err := j.c.query(ctx, "/v1/job/"+esc(id)+"/deployments", q, &out)
	return out, meta, err
}

// PeriodicForce launches a child of a periodic job now, outside its
// schedule (Nomad's `job periodic force`).
func (j *Jobs) PeriodicForce(ctx context.Context, id string) (*PeriodicForceResponse, error) {
	var out PeriodicForceResponse
	if err := j.c.write(ctx, http.MethodPost, "/v1/job/"+esc(id)+"/periodic/force", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
