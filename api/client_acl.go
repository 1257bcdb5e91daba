package api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// ACLPolicy is a named set of ACL rules (HCL).
type ACLPolicy struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Rules       string `json:"rules"`
	CreateIndex uint64 `json:"create_index,omitempty"`
	ModifyIndex uint64 `json:"modify_index,omitempty"`
}

// ACLToken is an API token as the servers show it. SecretID is set only
// in the answer that creates the token: the servers keep its hash alone.
type ACLToken struct {
	AccessorID string   `json:"accessor_id"`
	SecretID   string   `json:"secret_id,omitempty"`
	Name       string   `json:"name,omitempty"`
	Type       string   `json:"type"`
	Policies   []string `json:"policies,omitempty"`
	// MissingPolicies are policies the token names that do not exist
	// (deleted): they grant nothing.
	MissingPolicies []string   `json:"missing_policies,omitempty"`
	CreateTime      time.Time  `json:"create_time"`
	ExpirationTime  *time.Time `json:"expiration_time,omitempty"`
	CreateIndex     uint64     `json:"create_index,omitempty"`
	ModifyIndex     uint64     `json:"modify_index,omitempty"`
}

// ACLTokenCreateRequest is POST /v1/acl/token.
type ACLTokenCreateRequest struct {
	Name     string   `json:"name,omitempty"`
	Type     string   `json:"type,omitempty"` // client (default) or management
	Policies []string `json:"policies,omitempty"`
	// TTL, when set, is a Go duration ("1h") after which the token
	// expires.
	TTL string `json:"ttl,omitempty"`
}

// ACLCapabilities is what the caller's token may do, as the servers
// enforce it (GET /v1/acl/token/self/capabilities).
type ACLCapabilities struct {
	// ACL is false on a server that does not check ACL policies: then
	// every level is write and every namespace capability is granted.
	ACL bool `json:"acl"`
	// Management is true for a token that may do everything: a
	// management token, the token_file token, or any request to a
	// server that checks no tokens.
	Management bool `json:"management"`
	// Namespaces maps each namespace asked about to the capabilities the
	// routes check that the token holds there (Nomad's names:
	// "list-jobs", "read-job", "submit-job", ...).
	Namespaces map[string][]string `json:"namespaces"`
	// Node, Agent and Operator are "write", "read" or "" (none).
	Node     string `json:"node"`
	Agent    string `json:"agent"`
	Operator string `json:"operator"`
}

// Allows reports whether the token holds the namespace capability (e.g.
// "submit-job") in namespace ns, which must be among those asked about.
func (c *ACLCapabilities) Allows(ns, capability string) bool {
	return slices.Contains(c.Namespaces[ns], capability)
}

// ACL is the ACL endpoints.
type ACL struct{ c *Client }

// ACL returns the ACL endpoints.
func (c *Client) ACL() *ACL { return &ACL{c} }

// Bootstrap creates the first management token, once per cluster.
func (a *ACL) Bootstrap(ctx context.Context) (*ACLToken, error) {
	var out ACLToken
	if err := a.c.write(ctx, http.MethodPost, "/v1/acl/bootstrap", nil, struct{}{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ApplyPolicy creates or replaces a policy.
func (a *ACL) ApplyPolicy(ctx context.Context, p *ACLPolicy) error {
	return a.c.write(ctx, http.MethodPost, "/v1/acl/policy/"+esc(p.Name), nil, p, nil)
}

// Policies lists the policies.
func (a *ACL) Policies(ctx context.Context) ([]*ACLPolicy, error) {
	var out []*ACLPolicy
	_, err := a.c.query(ctx, "/v1/acl/policies", nil, &out)
	return out, err
}

// Policy returns one policy.
func (a *ACL) Policy(ctx context.Context, name string) (*ACLPolicy, error) {
	var out ACLPolicy
	if _, err := a.c.query(ctx, "/v1/acl/policy/"+esc(name), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeletePolicy deletes a policy.
func (a *ACL) DeletePolicy(ctx context.Context, name string) error {
	return a.c.write(ctx, http.MethodDelete, "/v1/acl/policy/"+esc(name), nil, nil, nil)
}

// CreateToken creates a token; the answer carries its secret, once.
func (a *ACL) CreateToken(ctx context.Context, req *ACLTokenCreateRequest) (*ACLToken, error) {
	var out ACLToken
	if err := a.c.write(ctx, http.MethodPost, "/v1/acl/token", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Tokens lists the tokens (without secrets).
func (a *ACL) Tokens(ctx context.Context) ([]*ACLToken, error) {
	var out []*ACLToken
	_, err := a.c.query(ctx, "/v1/acl/tokens", nil, &out)
	return out, err
}

// Token returns one token by accessor ID.
func (a *ACL) Token(ctx context.Context, accessor string) (*ACLToken, error) {
	var out ACLToken
	if _, err := a.c.query(ctx, "/v1/acl/token/"+esc(accessor), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Self returns the token the client authenticates with.
func (a *ACL) Self(ctx context.Context) (*ACLToken, error) {
	var out ACLToken
	if _, err := a.c.query(ctx, "/v1/acl/token/self", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Capabilities returns what the client's token may do in each of
// namespaces ("default" when none is given; at most 64). Any valid token
// may ask; asking writes nothing.
func (a *ACL) Capabilities(ctx context.Context, namespaces ...string) (*ACLCapabilities, error) {
	var out ACLCapabilities
	if _, err := a.c.do(ctx, http.MethodGet, "/v1/acl/token/self/capabilities", url.Values{"namespace": namespaces}, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeToken deletes a token by accessor ID; it fails at once on every
// server.
func (a *ACL) RevokeToken(ctx context.Context, accessor string) error {
	return a.c.write(ctx, http.MethodDelete, "/v1/acl/token/"+esc(accessor), nil, nil, nil)
}
