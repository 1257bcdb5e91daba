package server

import (
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/droverhq/drover/api"
)

// Bounds of GET /v1/acl/token/self/capabilities: each namespace asked
// about is a policy lookup, and the answer grows with them.
const (
	maxCapabilityNamespaces = 64
	// maxNamespaceLen is Nomad's limit on a namespace name.
	maxNamespaceLen = 128
)

// aclCapabilities answers GET /v1/acl/token/self/capabilities: what the
// caller's token may do, for a UI to grey out what it may not (and for
// scripts to check before they act). Every answer comes from
// identity.allow, the function withAuth enforces with, over the
// capabilities the registered routes ask for, so the two cannot drift:
// a capability a new route checks appears here by itself. It writes
// nothing, so asking is never an audit entry (a probing write was).
func (s *Server) aclCapabilities(rt *router) apiFunc {
	// The namespace capabilities of the routes: read once the table is
	// complete, at the first request (routes are all registered before
	// the server serves).
	routeCaps := sync.OnceValue(func() []Capability { return namespaceRouteCaps(rt.routes) })
	return func(w http.ResponseWriter, r *http.Request) error {
		namespaces, err := capabilityNamespaces(r)
		if err != nil {
			return err
		}
		id := identityFrom(r.Context())
		if id == nil {
			// withAuth passes no identity only when this server checks no
			// tokens (no ACLs, no token_file): every request may do
			// everything, and the answer says so.
			id = &identity{management: true}
		}
		snap := s.raft.Store().Snapshot()
		return s.reply(w, snap.Index(), capabilitiesOf(id, s.cfg.ACL, namespaces, routeCaps()))
	}
}

// capabilityNamespaces reads the namespaces asked about: the repeatable
// namespace parameter, "default" when there is none, each at most once.
func capabilityNamespaces(r *http.Request) ([]string, error) {
	vals := r.URL.Query()["namespace"]
	if len(vals) > maxCapabilityNamespaces {
		return nil, errorf(http.StatusBadRequest, "%d namespace parameters: ask about at most %d namespaces per request", len(vals), maxCapabilityNamespaces)
	}
	var out []string
	for _, v := range vals {
		ns := strings.TrimSpace(v)
		if ns == "" {
			ns = "default" // as namespace(r) reads an empty one
		}
		if len(ns) > maxNamespaceLen {
			return nil, errorf(http.StatusBadRequest, "namespace %q: at most %d bytes", truncateName(ns), maxNamespaceLen)
		}
		if !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	if len(out) == 0 {
		out = []string{"default"}
	}
	return out, nil
}

// namespaceRouteCaps lists the namespace capabilities that routes ask
// for, sorted and each once.
func namespaceRouteCaps(routes []Route) []Capability {
	var out []Capability
	for _, rt := range routes {
		if strings.HasPrefix(string(rt.Capability), "namespace:") && !slices.Contains(out, rt.Capability) {
			out = append(out, rt.Capability)
		}
	}
	slices.Sort(out)
	return out
}

// capabilitiesOf is what id may do: for each namespace, the capabilities
// among caps that id.allow grants there (Nomad's names, without the
// "namespace:" scope), and the node, agent and operator levels.
func capabilitiesOf(id *identity, acl bool, namespaces []string, caps []Capability) *api.ACLCapabilities {
	out := &api.ACLCapabilities{
		ACL:        acl,
		Management: id.management,
		Namespaces: make(map[string][]string, len(namespaces)),
		Node:       level(id, "node"),
		Agent:      level(id, "agent"),
		Operator:   level(id, "operator"),
	}
	for _, ns := range namespaces {
		granted := []string{}
		for _, c := range caps {
			if id.allow(c, ns) {
				granted = append(granted, strings.TrimPrefix(string(c), "namespace:"))
			}
		}
		out.Namespaces[ns] = granted
	}
	return out
}

// level is the level id holds in a scope (node, agent, operator):
// "write", "read" or "". Asked of id.allow as the routes ask it; agent
// has no write route, but a policy may grant it, and the answer says so.
func level(id *identity, scope string) string {
	switch {
	case id.allow(Capability(scope+":"+policyWrite), ""):
		return policyWrite
	case id.allow(Capability(scope+":"+policyRead), ""):
		return policyRead
	}
	return ""
}
