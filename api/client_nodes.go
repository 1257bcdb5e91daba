package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/droverhq/drover/cluster"
)

// Nodes is the node endpoints, used by the CLI and by client agents.
type Nodes struct{ c *Client }

// Nodes returns the node endpoints.
func (c *Client) Nodes() *Nodes { return &Nodes{c} }

// List returns every node, filtered by q.Prefix.
func (n *Nodes) List(ctx context.Context, q *QueryOptions) ([]*NodeListStub, *QueryMeta, error) {
	var out []*NodeListStub
	meta, err := n.c.query(ctx, "/v1/nodes", q, &out)
	return out, meta, err
}

// Info returns a node by ID or unique ID prefix.
func (n *Nodes) Info(ctx context.Context, idOrPrefix string, q *QueryOptions) (*cluster.Node, *QueryMeta, error) {
	var out cluster.Node
	meta, err := n.c.query(ctx, "/v1/node/"+esc(idOrPrefix), q, &out)
	if err != nil {
		return nil, meta, err
	}
	return &out, meta, nil
}

// Register creates or updates a node; the answer says how often it must
// heartbeat.
func (n *Nodes) Register(ctx context.Context, node *cluster.Node) (*NodeRegisterResponse, error) {
	if node == nil {
		return nil, errors.New("api: register: no node")
	}
	var out NodeRegisterResponse
	if err := n.c.write(ctx, http.MethodPost, "/v1/nodes", nil, &NodeRegisterRequest{Node: node}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Heartbeat tells the servers the node is alive. A node that misses its
// TTL is marked down and its allocations are replaced elsewhere.
func (n *Nodes) Heartbeat(ctx context.Context, id string) (*HeartbeatResponse, error) {
	var out HeartbeatResponse
	if err := n.c.write(ctx, http.MethodPut, "/v1/node/"+esc(id)+"/heartbeat", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Eligibility sets whether the scheduler may place new work on the node.
func (n *Nodes) Eligibility(ctx context.Context, id string, eligible bool) (*WriteResponse, error) {
	var out WriteResponse
	if err := n.c.write(ctx, http.MethodPost, "/v1/node/"+esc(id)+"/eligibility", nil, &NodeEligibilityRequest{Eligible: eligible}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Drain starts (enable) or ends a drain: the node's allocations are
// migrated and it takes no new work.
func (n *Nodes) Drain(ctx context.Context, id string, enable bool) (*WriteResponse, error) {
	var out WriteResponse
	if err := n.c.write(ctx, http.MethodPost, "/v1/node/"+esc(id)+"/drain", nil, &NodeDrainRequest{Enable: enable}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Allocations returns the allocations placed on a node. Agents run it as
// a blocking query to learn what to run.
func (n *Nodes) Allocations(ctx context.Context, id string, q *QueryOptions) ([]*cluster.Allocation, *QueryMeta, error) {
	var out []*cluster.Allocation
	meta, err := n.c.query(ctx, "/v1/node/"+esc(id)+"/allocations", q, &out)
	return out, meta, err
}

// UpdateAllocs reports the client status and task states of a node's
// allocations.
func (n *Nodes) UpdateAllocs(ctx context.Context, nodeID string, allocs []*cluster.Allocation) (*AllocUpdateResponse, error) {
	var out AllocUpdateResponse
	if err := n.c.write(ctx, http.MethodPost, "/v1/node/"+esc(nodeID)+"/allocations", nil, &AllocUpdateRequest{Allocs: allocs}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
