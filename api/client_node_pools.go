package api

import (
	"context"
	"net/http"

	"github.com/droverhq/drover/cluster"
)

// NodePoolRegisterRequest is POST /v1/node/pools: Nomad's node pool
// body (its "Name", "Description" and "Meta" keys match these too).
type NodePoolRegisterRequest struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
}

// NodePools is the node pool endpoints.
type NodePools struct{ c *Client }

// NodePools returns the node pool endpoints.
func (c *Client) NodePools() *NodePools { return &NodePools{c} }

// List returns every node pool, the built-in "all" and "default" too,
// filtered by q.Prefix.
func (p *NodePools) List(ctx context.Context, q *QueryOptions) ([]*cluster.NodePool, *QueryMeta, error) {
	var out []*cluster.NodePool
	meta, err := p.c.query(ctx, "/v1/node/pools", q, &out)
	return out, meta, err
}

// Info returns one node pool.
func (p *NodePools) Info(ctx context.Context, name string, q *QueryOptions) (*cluster.NodePool, *QueryMeta, error) {
	var out cluster.NodePool
	meta, err := p.c.query(ctx, "/v1/node/pool/"+esc(name), q, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Register creates or replaces a node pool. The built-in ones cannot be
// changed.
func (p *NodePools) Register(ctx context.Context, pool *NodePoolRegisterRequest) (*WriteResponse, error) {
	var out WriteResponse
	if err := p.c.write(ctx, http.MethodPost, "/v1/node/pools", nil, pool, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Delete deletes a node pool that has no nodes and no jobs that are not
// dead.
func (p *NodePools) Delete(ctx context.Context, name string) (*WriteResponse, error) {
	var out WriteResponse
	if err := p.c.write(ctx, http.MethodDelete, "/v1/node/pool/"+esc(name), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListNodes returns the nodes of a pool (every node for "all").
func (p *NodePools) ListNodes(ctx context.Context, name string, q *QueryOptions) ([]*NodeListStub, *QueryMeta, error) {
	var out []*NodeListStub
	meta, err := p.c.query(ctx, "/v1/node/pool/"+esc(name)+"/nodes", q, &out)
	return out, meta, err
}

// ListJobs returns the jobs of a pool, in q.Namespace or, without one,
// in every namespace the token may list jobs in.
func (p *NodePools) ListJobs(ctx context.Context, name string, q *QueryOptions) ([]*JobListStub, *QueryMeta, error) {
	var out []*JobListStub
	meta, err := p.c.query(ctx, "/v1/node/pool/"+esc(name)+"/jobs", q, &out)
	return out, meta, err
}
