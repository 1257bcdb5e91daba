package api

import (
	"context"
	"errors"
	"net/http"
)

// Status is the cluster status endpoints. Servers answer them from their
// own view, without forwarding to the leader.
type Status struct{ c *Client }

// Status returns the status endpoints.
func (c *Client) Status() *Status { return &Status{c} }

// Leader returns the current Raft leader.
func (s *Status) Leader(ctx context.Context) (*LeaderResponse, error) {
	var out LeaderResponse
	if err := s.c.write(ctx, http.MethodGet, "/v1/status/leader", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Peers returns the servers of the Raft configuration.
func (s *Status) Peers(ctx context.Context) ([]ServerMember, error) {
	var out []ServerMember
	if err := s.c.write(ctx, http.MethodGet, "/v1/status/peers", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Agent is the endpoints about the answering server itself.
type Agent struct{ c *Client }

// Agent returns the agent endpoints.
func (c *Client) Agent() *Agent { return &Agent{c} }

// Health returns the server's health. An unhealthy server answers 503:
// the response is returned together with a *StatusError.
func (a *Agent) Health(ctx context.Context) (*HealthResponse, error) {
	var out HealthResponse
	err := a.c.write(ctx, http.MethodGet, "/v1/agent/health", nil, nil, &out)
	var se *StatusError
	if err != nil && !(errors.As(err, &se) && se.Code == http.StatusServiceUnavailable) {
		return nil, err
	}
	return &out, err
}

// Self returns who the answering server is.
func (a *Agent) Self(ctx context.Context) (*AgentSelf, error) {
	var out AgentSelf
	if err := a.c.write(ctx, http.MethodGet, "/v1/agent/self", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Operator is the cluster operation endpoints.
type Operator struct{ c *Client }

// Operator returns the operator endpoints.
func (c *Client) Operator() *Operator { return &Operator{c} }

// RaftJoin asks the cluster to add a server as a voter. Any server takes
// the request; followers forward it to the leader.
func (o *Operator) RaftJoin(ctx context.Context, req *JoinRequest) (*WriteResponse, error) {
	if req == nil {
		return nil, errors.New("api: raft join: no request")
	}
	var out WriteResponse
	if err := o.c.write(ctx, http.MethodPost, "/v1/operator/raft/join", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
