package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/droverhq/drover/cluster"
)

// HeaderNodeSecret carries a node's secret on the calls a node makes for
// itself: registration, heartbeats and allocation updates. The servers
// refuse those without it (403), whatever the operator token.
const HeaderNodeSecret = "X-Drover-Node-Secret"

// WithNodeSecret returns a client that also sends secret in
// HeaderNodeSecret, for a node's own calls. On a new node's first
// registration the secret is the one the node chose for itself; without
// one the servers make one and answer it (NodeRegisterResponse.NodeSecret).
//
// The header is added by the transport, and only on requests to this
// client's server: unlike Authorization, which Go's client drops on a
// redirect to another host, a custom header would follow it there.
func (c *Client) WithNodeSecret(secret string) *Client {
	cc := *c
	hc := *c.hc
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc.Transport = &nodeSecretTransport{next: next, host: c.base.Host, secret: secret}
	cc.hc = &hc
	return &cc
}

type nodeSecretTransport struct {
	next         http.RoundTripper
	host, secret string
}

func (t *nodeSecretTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != t.host || t.secret == "" {
		return t.next.RoundTrip(r)
	}
	r = r.Clone(r.Context()) // a RoundTripper must not change its request
	r.Header.Set(HeaderNodeSecret, t.secret)
	return t.next.RoundTrip(r)
}

// IsNodeSecretRefused reports whether err is the servers refusing a
// node's call for want of that node's own secret: missing, wrong, or
// registered before node secrets (403 naming the node secret). An agent
// cannot retry its way past it.
func IsNodeSecretRefused(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusForbidden && strings.Contains(se.Message, "node secret")
}

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
// heartbeat. Registering a node ID the servers know needs that node's
// secret (see WithNodeSecret); a new node gets one (the answer's
// NodeSecret) unless it brought its own.
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
// TTL is marked down and its allocations are replaced elsewhere. It needs
// the node's secret (WithNodeSecret) and its exact ID.
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
// allocations. It needs the node's secret (WithNodeSecret) and its exact
// ID; allocations of another node make the servers refuse the whole
// update.
func (n *Nodes) UpdateAllocs(ctx context.Context, nodeID string, allocs []*cluster.Allocation) (*AllocUpdateResponse, error) {
	var out AllocUpdateResponse
	if err := n.c.write(ctx, http.MethodPost, "/v1/node/"+esc(nodeID)+"/allocations", nil, &AllocUpdateRequest{Allocs: allocs}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
