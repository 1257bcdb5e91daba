package api

import (
	"context"

	"github.com/droverhq/drover/cluster"
)

// Allocations is the allocation endpoints.
type Allocations struct{ c *Client }

// Allocations returns the allocation endpoints.
func (c *Client) Allocations() *Allocations { return &Allocations{c} }

// List returns allocations, filtered by q.Prefix and by q.Params "job"
// and "node".
func (a *Allocations) List(ctx context.Context, q *QueryOptions) ([]*cluster.Allocation, *QueryMeta, error) {
	var out []*cluster.Allocation
	meta, err := a.c.query(ctx, "/v1/allocations", q, &out)
	return out, meta, err
}

// Info returns an allocation by ID or unique ID prefix. An ambiguous
// prefix is a 400 that lists the matches.
func (a *Allocations) Info(ctx context.Context, idOrPrefix string, q *QueryOptions) (*cluster.Allocation, *QueryMeta, error) {
	var out cluster.Allocation
	meta, err := a.c.query(ctx, "/v1/allocation/"+esc(idOrPrefix), q, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Evaluations is the evaluation endpoints.
type Evaluations struct{ c *Client }

// Evaluations returns the evaluation endpoints.
func (c *Client) Evaluations() *Evaluations { return &Evaluations{c} }

// List returns evaluations, filtered by q.Prefix and q.Params "job".
func (e *Evaluations) List(ctx context.Context, q *QueryOptions) ([]*cluster.Evaluation, *QueryMeta, error) {
	var out []*cluster.Evaluation
	meta, err := e.c.query(ctx, "/v1/evaluations", q, &out)
	return out, meta, err
}

// Info returns an evaluation by ID or unique ID prefix.
func (e *Evaluations) Info(ctx context.Context, idOrPrefix string, q *QueryOptions) (*cluster.Evaluation, *QueryMeta, error) {
	var out cluster.Evaluation
	meta, err := e.c.query(ctx, "/v1/evaluation/"+esc(idOrPrefix), q, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Deployments is the deployment endpoints.
type Deployments struct{ c *Client }

// Deployments returns the deployment endpoints.
func (c *Client) Deployments() *Deployments { return &Deployments{c} }

// List returns deployments, filtered by q.Prefix and q.Params "job".
func (d *Deployments) List(ctx context.Context, q *QueryOptions) ([]*cluster.Deployment, *QueryMeta, error) {
	var out []*cluster.Deployment
	meta, err := d.c.query(ctx, "/v1/deployments", q, &out)
	return out, meta, err
}

// Info returns a deployment by ID or unique ID prefix.
func (d *Deployments) Info(ctx context.Context, idOrPrefix string, q *QueryOptions) (*cluster.Deployment, *QueryMeta, error) {
	var out cluster.Deployment
	meta, err := d.c.query(ctx, "/v1/deployment/"+esc(idOrPrefix), q, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}
