package api

import (
	"context"
	"net/http"

	"github.com/droverhq/drover/cluster"
)

// WebhookResponse answers POST /v1/webhooks/github and
// /v1/webhooks/{source}.
type WebhookResponse struct {
	// Status is "accepted" (a fetch was asked for), "ignored" (an event,
	// ref or repository no source tracks), "duplicate" (a delivery seen
	// before) or "pong".
	Status string `json:"status"`
	// Sources are the sources asked to fetch.
	Sources []string `json:"sources,omitempty"`
	Reason  string   `json:"reason,omitempty"`
}

// JobStopRequest is POST /v1/job/{id}/deregister: a stop that records the
// commit that removed the job's file, as `drover reconcile` prunes.
type JobStopRequest struct {
	Source     *cluster.Source `json:"source,omitempty"`
	CheckIndex *uint64         `json:"check_index,omitempty"`
}

// Sync is the sync status endpoints.
type Sync struct{ c *Client }

// Sync returns the sync status endpoints.
func (c *Client) Sync() *Sync { return &Sync{c} }

// List returns the sync status of every Git source, by name.
func (s *Sync) List(ctx context.Context, q *QueryOptions) ([]*cluster.SyncStatus, *QueryMeta, error) {
	var out []*cluster.SyncStatus
	meta, err := s.c.query(ctx, "/v1/sync", q, &out)
	return out, meta, err
}

// Info returns one source's sync status.
func (s *Sync) Info(ctx context.Context, source string, q *QueryOptions) (*cluster.SyncStatus, *QueryMeta, error) {
	var out cluster.SyncStatus
	meta, err := s.c.query(ctx, "/v1/sync/"+esc(source), q, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Stop stops a job with provenance and check-and-set (a mismatch is a
// 409, IsConflict).
func (j *Jobs) Stop(ctx context.Context, id string, req *JobStopRequest) (*JobDeregisterResponse, error) {
	var out JobDeregisterResponse
	if err := j.c.write(ctx, http.MethodPost, "/v1/job/"+esc(id)+"/deregister", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Deployments returns deployments of every job (for history's outcomes).
func (s *Sync) Deployments(ctx context.Context, q *QueryOptions) ([]*cluster.Deployment, *QueryMeta, error) {
	var out []*cluster.Deployment
	meta, err := s.c.query(ctx, "/v1/deployments", q, &out)
	return out, meta, err
}

// SyncRetryResponse answers POST /v1/sync/{source}/retry.
type SyncRetryResponse struct {
	// Commit is the failed commit that will be applied again.
	Commit string `json:"commit"`
	// Attempt is the retry's number: 1 for the first retry of a commit.
	Attempt int    `json:"attempt"`
	Index   uint64 `json:"index"`
}

// Retry asks the source's reconciler to apply its newest commit again
// after its rollout failed (Argo CD's sync retry). A source whose newest
// commit did not fail answers 409 (IsConflict) saying why.
func (s *Sync) Retry(ctx context.Context, source string) (*SyncRetryResponse, error) {
	var out SyncRetryResponse
	if err := s.c.write(ctx, http.MethodPost, "/v1/sync/"+esc(source)+"/retry", nil, struct{}{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
