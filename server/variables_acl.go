package server

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/droverhq/drover/workloadid"
)

// Variable capabilities of ACL policies (Nomad's):
//
//	namespace "default" {
//	  variables {
//	    path "project/*" { capabilities = ["read", "write"] }
//	  }
//	}
//
// read implies list; deny denies every capability on the paths its
// pattern matches. A path is governed by the closest matching pattern:
// an exact one, else the glob that leaves the fewest characters to its
// wildcards (Nomad's rule), so "a/b/*" beats "a/*" for "a/b/c".
const (
	varCapList    = "list"
	varCapRead    = "read"
	varCapWrite   = "write"
	varCapDestroy = "destroy"
	varCapDeny    = "deny"
)

var variableCapabilities = []string{varCapList, varCapRead, varCapWrite, varCapDestroy, varCapDeny}

// maxVariablePathRules bounds the path rules of one namespace.
const maxVariablePathRules = 256

type variablesRule struct {
	Paths []*variablePathRule `hcl:"path,block"`
}

type variablePathRule struct {
	Pattern      string   `hcl:"pattern,label"`
	Capabilities []string `hcl:"capabilities"`
}

func (r *aclRules) addVariables(ns string, vr *variablesRule) error {
	if vr == nil {
		return nil
	}
	if len(vr.Paths) == 0 {
		return fmt.Errorf("variables: give at least one path block")
	}
	if len(vr.Paths) > maxVariablePathRules {
		return fmt.Errorf("variables: at most %d path blocks", maxVariablePathRules)
	}
	if r.variables == nil {
		r.variables = map[string]map[string]map[string]bool{}
	}
	paths := map[string]map[string]bool{}
	for _, p := range vr.Paths {
		if p.Pattern == "" || len(p.Pattern) > 256 {
			return fmt.Errorf("variables: a path pattern is empty or longer than 256 characters")
		}
		if _, dup := paths[p.Pattern]; dup {
			return fmt.Errorf("variables: path %q is given twice", p.Pattern)
		}
		caps := map[string]bool{}
		for _, c := range p.Capabilities {
			if !slices.Contains(variableCapabilities, c) {
				return fmt.Errorf("variables: path %q: unknown capability %q (known: %s)", p.Pattern, c, strings.Join(variableCapabilities, ", "))
			}
			caps[c] = true
		}
		if caps[varCapRead] {
			caps[varCapList] = true
		}
		paths[p.Pattern] = caps
	}
	r.variables[ns] = paths
	return nil
}

func (r *aclRules) mergeVariables(o *aclRules) {
	for ns, paths := range o.variables {
		if r.variables == nil {
			r.variables = map[string]map[string]map[string]bool{}
		}
		dst := r.variables[ns]
		if dst == nil {
			dst = map[string]map[string]bool{}
			r.variables[ns] = dst
		}
		for p, caps := range paths {
			if dst[p] == nil {
				dst[p] = map[string]bool{}
			}
			for c := range caps {
				dst[p][c] = true
			}
		}
	}
}

// variablePaths returns the path rules of namespace ns: its own, else
// "*"'s.
func (r *aclRules) variablePaths(ns string) map[string]map[string]bool {
	if r == nil || r.variables == nil {
		return nil
	}
	if p, ok := r.variables[ns]; ok {
		return p
	}
	return r.variables["*"]
}

// allowVariableAny reports whether some path of ns grants capability c:
// the route-level check; the handler checks the path itself.
func (r *aclRules) allowVariableAny(ns, c string) bool {
	if ns == "*" && r != nil { // a list across namespaces, filtered per variable
		for n := range r.variables {
			if n != "*" && r.allowVariableAny(n, c) {
				return true
			}
		}
	}
	for _, caps := range r.variablePaths(ns) {
		if caps[c] && !caps[varCapDeny] {
			return true
		}
	}
	return false
}

// allowVariable reports whether the rules grant c on path in ns.
func (r *aclRules) allowVariable(ns, path, c string) bool {
	caps := closestVariableRule(r.variablePaths(ns), path)
	return caps != nil && !caps[varCapDeny] && caps[c]
}

// closestVariableRule picks the rule governing path: the exact pattern,
// else the matching glob with the least left to its wildcards.
func closestVariableRule(paths map[string]map[string]bool, path string) map[string]bool {
	if caps, ok := paths[path]; ok {
		return caps
	}
	patterns := make([]string, 0, len(paths))
	for p := range paths {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns) // deterministic on ties
	best, bestDiff := "", -1
	for _, p := range patterns {
		if !strings.Contains(p, "*") || !globMatch(p, path) {
			continue
		}
		diff := len(path) - len(strings.ReplaceAll(p, "*", ""))
		if bestDiff < 0 || diff < bestDiff {
			best, bestDiff = p, diff
		}
	}
	if bestDiff < 0 {
		return nil
	}
	return paths[best]
}

// globMatch matches s against pattern, where * matches any run of
// characters, / included (Nomad's go-glob).
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// workloadIdentity is a task's identity: a request authenticated with
// the task's workload identity JWT (the default identity).
type workloadIdentity struct {
	Namespace, JobID, Group, Task, AllocID string
}

// implicitVariablePaths are the paths a task reads without a policy
// (Nomad's): nomad/jobs, and its job's, group's and task's paths.
func (w *workloadIdentity) implicitVariablePaths() []string {
	return []string{
		"nomad/jobs",
		"nomad/jobs/" + w.JobID,
		"nomad/jobs/" + w.JobID + "/" + w.Group,
		"nomad/jobs/" + w.JobID + "/" + w.Group + "/" + w.Task,
	}
}

// workloadFromClaims reads the group and identity name from the sub
// claim (<region>:<namespace>:<job>:<group>:<task>:<name>); only the
// default identity carries variable access, as in Nomad.
func workloadFromClaims(c *workloadid.Claims) (*workloadIdentity, error) {
	parts := strings.Split(c.Subject, ":")
	if len(parts) != 6 || parts[1] != c.Namespace || parts[2] != c.JobID || parts[4] != c.TaskName {
		return nil, fmt.Errorf("the workload identity's subject does not match its claims")
	}
	if parts[5] != workloadid.DefaultName {
		return nil, fmt.Errorf("only a task's default workload identity may be used as a token, not %q", parts[5])
	}
	return &workloadIdentity{Namespace: c.Namespace, JobID: c.JobID, Group: parts[3], Task: c.TaskName, AllocID: c.AllocationID}, nil
}

// allowVariable reports whether the identity holds variable capability
// c on path in namespace ns. A nil identity is a server without ACLs or
// tokens: everything is allowed there.
func (id *identity) allowVariable(ns, path, c string) bool {
	switch {
	case id == nil || id.management:
		return true
	case id.workload != nil:
		return (c == varCapRead || c == varCapList) && ns == id.workload.Namespace &&
			slices.Contains(id.workload.implicitVariablePaths(), path)
	case id.rules == nil:
		return false
	}
	return id.rules.allowVariable(ns, path, c)
}

// looksLikeJWT tells a workload identity from an ACL secret (a UUID).
func looksLikeJWT(secret string) bool {
	return strings.Count(secret, ".") == 2 && len(secret) > 40
}

// resolveWorkloadIdentity verifies a task's workload identity against
// the servers' identity keys and checks that its allocation still runs.
func (s *Server) resolveWorkloadIdentity(token string, now time.Time) (*identity, error) {
	snap := s.raft.Store().Snapshot()
	set := workloadid.JWKS{}
	if kr := snap.IdentityKeyring(); kr != nil {
		for _, k := range kr.Keys {
			set.Keys = append(set.Keys, workloadid.PublicJWK(k.KeyID, k.PublicKey))
		}
	}
	c, err := workloadid.Verify(token, set, now, "")
	if err != nil {
		return nil, errorf(http.StatusForbidden, "workload identity refused: %v", err)
	}
	w, err := workloadFromClaims(c)
	if err != nil {
		return nil, errorf(http.StatusForbidden, "workload identity refused: %v", err)
	}
	a := snap.Alloc(w.AllocID)
	if a == nil || a.Terminal() || a.Namespace != w.Namespace || a.JobID != w.JobID || a.TaskGroup != w.Group {
		return nil, errorf(http.StatusForbidden, "workload identity refused: allocation %s is not running", w.AllocID)
	}
	return &identity{workload: w}, nil
}
