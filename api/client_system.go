package api

import (
	"context"
	"net/http"

	"github.com/droverhq/drover/cluster"
)

// System is the cluster-wide maintenance endpoints (Nomad's /v1/system).
type System struct{ c *Client }

// System returns the system endpoints.
func (c *Client) System() *System { return &System{c} }

// GCResponse says how many records a garbage collection removed.
type GCResponse struct {
	Allocs      int `json:"allocs"`
	Evals       int `json:"evals"`
	Jobs        int `json:"jobs"`
	Deployments int `json:"deployments"`
	JobVersions int `json:"job_versions"`
}

// GarbageCollect runs a garbage collection on the leader now, as Nomad's
// PUT /v1/system/gc does: terminal evaluations, allocations and
// deployments and stopped jobs are collected whatever their age, and job
// versions beyond the newest job_tracked_versions. Nothing that runs, or
// is still needed, is collected. It needs the operator:write capability.
func (s *System) GarbageCollect(ctx context.Context) (*GCResponse, error) {
	var out GCResponse
	if err := s.c.write(ctx, http.MethodPut, "/v1/system/gc", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// History returns what the servers keep of a job's versions that garbage
// collection removed (their commit, author, submit time), newest first.
// Versions returns the ones still stored; together they are every
// version the job had. It also answers for a job that was purged.
func (j *Jobs) History(ctx context.Context, id string, q *QueryOptions) ([]*cluster.JobVersionSummary, *QueryMeta, error) {
	var out []*cluster.JobVersionSummary
	meta, err := j.c.query(ctx, "/v1/job/"+esc(id)+"/history", q, &out)
	return out, meta, err
}
