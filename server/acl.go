package server

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/droverhq/drover/cluster"
)

// ACL bootstrap modes.
const (
	ACLBootstrapAuto   = "auto"
	ACLBootstrapManual = "manual"
)

// Capability is what a route needs of the request's token: Nomad's
// names where Nomad has one ("namespace:submit-job", "node:write"), and
// a few of Drover's own for routes that do not take an API token.
type Capability string

// Capabilities of the routes.
const (
	// CapPublic routes take no token: health checks, the catch-all 404,
	// and the one-time ACL bootstrap.
	CapPublic Capability = "public"
	// CapWebhook routes authenticate by the HMAC of their body.
	CapWebhook Capability = "webhook"
	// CapJoinToken routes authenticate by a server join token.
	CapJoinToken Capability = "join-token"
	// CapServerProof routes authenticate by a request signed with a
	// server key of the cluster CA (tls_proof.go): certificate renewal,
	// and adding a Raft voter, which an API token alone must not do.
	CapServerProof Capability = "server-proof"
	// CapAnyToken routes need a valid token, whatever it grants.
	CapAnyToken Capability = "token"
	// CapManagement routes need a management token (ACL administration).
	CapManagement Capability = "management"

	CapListJobs  Capability = "namespace:list-jobs"
	CapReadJob   Capability = "namespace:read-job"
	CapSubmitJob Capability = "namespace:submit-job"
	// CapDispatchJob dispatches a parameterized job (Nomad's
	// dispatch-job; a write policy grants it, submit-job alone does not).
	CapDispatchJob Capability = "namespace:dispatch-job"
	// CapScaleJob is Nomad's scale-job; submit-job grants it too, as in
	// Nomad (identity.allow).
	CapScaleJob Capability = "namespace:scale-job"
	// CapAllocExec runs commands inside a task (`drover action`).
	CapAllocExec Capability = "namespace:alloc-exec"
	CapNodeRead  Capability = "node:read"
	CapNodeWrite Capability = "node:write"
	// CapNodeSelfRead and CapNodeSelfWrite are a node's own routes
	// (registration, heartbeat, its allocations): the node's client
	// certificate passes for that node, and a token with node:read or
	// node:write for any.
	CapNodeSelfRead  Capability = "node-self:read"
	CapNodeSelfWrite Capability = "node-self:write"
	CapAgentRead     Capability = "agent:read"
	CapOperatorRead  Capability = "operator:read"
	CapOperatorWrite Capability = "operator:write"
	// Variable capabilities (variables_acl.go): the route passes a token
	// whose policies grant the capability on some path of the
	// namespace (or a task's workload identity, for read and list); the
	// handler checks the variable's own path.
	CapVarList    Capability = "variables:list"
	CapVarRead    Capability = "variables:read"
	CapVarWrite   Capability = "variables:write"
	CapVarDestroy Capability = "variables:destroy"
)

// unauthenticated reports whether a route is served without an API token.
func (c Capability) unauthenticated() bool {
	return c == CapPublic || c == CapWebhook || c == CapJoinToken || c == CapServerProof
}

// Route is one registered API route and the capability it needs.
type Route struct {
	Method     string     `json:"method"`
	Pattern    string     `json:"pattern"`
	Capability Capability `json:"capability"`
}

// router is the only way to register a route: it takes the capability
// with the handler and keeps the table withAuth consults and Routes
// lists. A route registered on the mux any other way has no capability,
// and withAuth refuses every client token on it.
type router struct {
	mux    *http.ServeMux
	routes []Route
	caps   map[string]Capability // by ServeMux pattern
}

func newRouter() *router {
	return &router{mux: http.NewServeMux(), caps: map[string]Capability{}}
}

// handle registers h for pattern ("METHOD /path") behind capability c.
func (rt *router) handle(pattern string, c Capability, h http.Handler) {
	if c == "" {
		panic("route " + pattern + " declares no capability")
	}
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "", pattern
	}
	rt.mux.Handle(pattern, h)
	rt.caps[pattern] = c
	rt.routes = append(rt.routes, Route{Method: method, Pattern: path, Capability: c})
}

// declare lists a route that a middleware serves ahead of the mux (the
// TLS join), so that the table is complete.
func (rt *router) declare(method, path string, c Capability) {
	rt.routes = append(rt.routes, Route{Method: method, Pattern: path, Capability: c})
}

// capability returns the capability of the route r reaches; ok is false
// for a request that reaches no registered pattern (a redirect, or a
// method the mux refuses).
func (rt *router) capability(r *http.Request) (Capability, bool) {
	_, pattern := rt.mux.Handler(r)
	c, ok := rt.caps[pattern]
	return c, ok
}

// pattern returns the registered pattern the request reaches.
func (rt *router) pattern(r *http.Request) string {
	_, pattern := rt.mux.Handler(r)
	return pattern
}

// Routes lists every API route with its capability, in registration
// order.
func (s *Server) Routes() []Route {
	rt := newRouter()
	s.routes(rt)
	return slices.Clone(rt.routes)
}

// identity is who a request's token says it is.
type identity struct {
	// token is the ACL token, nil for the legacy token_file token.
	token *cluster.ACLToken
	// management tokens may do everything.
	management bool
	rules      *aclRules
	// missing lists policies the token names that no longer exist.
	missing []string
	// node is the node ID of an agent's client certificate; server is
	// set for another server's certificate (auth.go, certIdentity).
	node   string
	server bool
	// workload is set for a task's workload identity JWT
	// (variables_acl.go): it grants only its implicit variable paths,
	// and the service reads of its namespace (template_acl.go).
	workload *workloadIdentity
}

type identityKey struct{}

func identityFrom(ctx context.Context) *identity {
	id, _ := ctx.Value(identityKey{}).(*identity)
	return id
}

// allow reports whether the identity holds capability c for a request
// in namespace ns.
func (id *identity) allow(c Capability, ns string) bool {
	switch {
	case c.unauthenticated() || c == CapAnyToken:
		return true
	case id.management:
		return true
	case id.workload != nil:
		return (c == CapVarRead || c == CapVarList) && ns == id.workload.Namespace
	case c == CapManagement || id.rules == nil:
		return false
	}
	scope, name, _ := strings.Cut(string(c), ":")
	switch scope {
	case "variables":
		return id.rules.allowVariableAny(ns, name)
	case "namespace":
		if c == CapScaleJob && id.rules.allowNamespace(ns, "submit-job") {
			return true
		}
		return id.rules.allowNamespace(ns, name)
	case "node", "node-self":
		return allowLevel(id.rules.node, name)
	case "agent":
		return allowLevel(id.rules.agent, name)
	case "operator":
		return allowLevel(id.rules.operator, name)
	}
	return false
}

// errTokenNotFound is the answer for a token the servers do not know: a
// typo, a revoked token, or one of another cluster.
var errTokenNotFound = errorf(http.StatusForbidden, "ACL token not found (revoked, or of another cluster): check DROVER_TOKEN")

// resolveToken finds what a secret grants, from this server's replicated
// state: a revoke applied here is refused here at once.
func (s *Server) resolveToken(secret string, now time.Time) (*identity, error) {
	if s.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.Token)) == 1 {
		return &identity{management: true}, nil
	}
	if looksLikeJWT(secret) {
		return s.resolveWorkloadIdentity(secret, now)
	}
	if !s.cfg.ACL {
		return nil, errorf(http.StatusForbidden, "invalid token")
	}
	snap := s.raft.Store().Snapshot()
	tok := snap.ACLTokenBySecretHash(cluster.HashACLSecret(secret))
	if tok == nil {
		return nil, errTokenNotFound
	}
	if tok.Expired(now) {
		return nil, errorf(http.StatusForbidden, "ACL token %s expired at %s: ask for a new one", tok.AccessorID, tok.ExpirationTime.UTC().Format(time.RFC3339))
	}
	id := &identity{token: tok, management: tok.Type == cluster.ACLTokenManagement}
	if id.management {
		return id, nil
	}
	id.rules = &aclRules{namespaces: map[string]map[string]bool{}}
	for _, name := range tok.Policies {
		p := snap.ACLPolicy(name)
		if p == nil {
			// A deleted policy grants nothing.
			id.missing = append(id.missing, name)
			continue
		}
		rules, err := s.policies.get(p)
		if err != nil {
			s.logger.Error("stored ACL policy does not parse", "policy", name, "err", err)
			continue
		}
		id.rules.merge(rules)
	}
	return id, nil
}

// policyCache keeps parsed policies by name and modify index: a token
// is resolved on every request. Each server has its own.
type policyCache struct {
	mu sync.Mutex
	m  map[string]*aclRules
}

func (c *policyCache) get(p *cluster.ACLPolicy) (*aclRules, error) {
	key := fmt.Sprintf("%s\x00%d\x00%s", p.Name, p.ModifyIndex, p.Rules)
	c.mu.Lock()
	r, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := ParseACLPolicy(p.Name+".hcl", []byte(p.Rules))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= 1024 {
		c.m = map[string]*aclRules{}
	}
	c.m[key] = r
	c.mu.Unlock()
	return r, nil
}
