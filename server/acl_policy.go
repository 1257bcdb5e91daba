package server

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// MaxACLPolicyBytes bounds the rules of one policy: parsing is done on
// every server for every token that names it.
const MaxACLPolicyBytes = 32 << 10

// Policy levels, Nomad's names.
const (
	policyDeny  = "deny"
	policyRead  = "read"
	policyWrite = "write"
)

// namespaceCapabilities are the capabilities a namespace rule may list
// (Nomad's names; Drover's routes use list-jobs, read-job and
// submit-job, the others are accepted for the routes to come).
var namespaceCapabilities = []string{
	"deny", "list-jobs", "read-job", "submit-job", "dispatch-job",
	"read-logs", "read-fs", "alloc-exec", "alloc-lifecycle", "scale-job",
}

// namespacePolicyCaps expands a namespace policy level.
var namespacePolicyCaps = map[string][]string{
	policyDeny:  {"deny"},
	policyRead:  {"list-jobs", "read-job"},
	policyWrite: {"list-jobs", "read-job", "submit-job", "dispatch-job", "read-logs", "read-fs", "alloc-lifecycle", "scale-job"},
}

type policyFile struct {
	Namespaces []*namespaceRule `hcl:"namespace,block"`
	Node       *levelRule       `hcl:"node,block"`
	Operator   *levelRule       `hcl:"operator,block"`
	Agent      *levelRule       `hcl:"agent,block"`
}

type namespaceRule struct {
	Name         string   `hcl:"name,label"`
	Policy       string   `hcl:"policy,optional"`
	Capabilities []string `hcl:"capabilities,optional"`
	// Variables are per-path variable rules (variables_acl.go).
	Variables *variablesRule `hcl:"variables,block"`
}

type levelRule struct {
	Policy string `hcl:"policy"`
}

// aclRules is what one or more policies grant.
type aclRules struct {
	// namespaces maps a namespace name (or "*") to its capabilities;
	// "deny" among them denies every capability there.
	namespaces map[string]map[string]bool
	// node, agent and operator are "", deny, read or write.
	node, agent, operator string
	// variables maps a namespace (or "*") to its variable path rules:
	// path pattern to capabilities (variables_acl.go).
	variables map[string]map[string]map[string]bool
}

// ParseACLPolicy parses a policy's HCL rules. Errors carry the position
// in filename.
func ParseACLPolicy(filename string, src []byte) (*aclRules, error) {
	if len(src) > MaxACLPolicyBytes {
		return nil, fmt.Errorf("%s: policy is %d bytes, more than the limit of %d", filename, len(src), MaxACLPolicyBytes)
	}
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	var pf policyFile
	if diags := gohcl.DecodeBody(f.Body, nil, &pf); diags.HasErrors() {
		return nil, diags
	}
	rules := &aclRules{namespaces: map[string]map[string]bool{}}
	body, _ := f.Body.(*hclsyntax.Body)
	pos := func(typ string, i int) string {
		n := 0
		if body != nil {
			for _, b := range body.Blocks {
				if b.Type == typ {
					if n == i {
						return b.DefRange().String()
					}
					n++
				}
			}
		}
		return filename
	}
	for i, ns := range pf.Namespaces {
		if ns.Name == "" {
			return nil, fmt.Errorf("%s: namespace needs a name", pos("namespace", i))
		}
		if _, dup := rules.namespaces[ns.Name]; dup {
			return nil, fmt.Errorf("%s: namespace %q is given twice", pos("namespace", i), ns.Name)
		}
		caps := map[string]bool{}
		if ns.Policy != "" {
			expanded, ok := namespacePolicyCaps[ns.Policy]
			if !ok {
				return nil, fmt.Errorf("%s: namespace %q: policy %q: want read, write or deny", pos("namespace", i), ns.Name, ns.Policy)
			}
			for _, c := range expanded {
				caps[c] = true
			}
		}
		for _, c := range ns.Capabilities {
			if !slices.Contains(namespaceCapabilities, c) {
				return nil, fmt.Errorf("%s: namespace %q: unknown capability %q (known: %s)", pos("namespace", i), ns.Name, c, strings.Join(namespaceCapabilities, ", "))
			}
			caps[c] = true
		}
		if ns.Policy == "" && len(ns.Capabilities) == 0 && ns.Variables == nil {
			return nil, fmt.Errorf("%s: namespace %q: set policy, capabilities or variables", pos("namespace", i), ns.Name)
		}
		if err := rules.addVariables(ns.Name, ns.Variables); err != nil {
			return nil, fmt.Errorf("%s: namespace %q: %w", pos("namespace", i), ns.Name, err)
		}
		rules.namespaces[ns.Name] = caps
	}
	for _, lr := range []struct {
		name string
		rule *levelRule
		dst  *string
	}{{"node", pf.Node, &rules.node}, {"operator", pf.Operator, &rules.operator}, {"agent", pf.Agent, &rules.agent}} {
		if lr.rule == nil {
			continue
		}
		switch lr.rule.Policy {
		case policyDeny, policyRead, policyWrite:
			*lr.dst = lr.rule.Policy
		default:
			return nil, fmt.Errorf("%s: %s: policy %q: want read, write or deny", pos(lr.name, 0), lr.name, lr.rule.Policy)
		}
	}
	return rules, nil
}

// merge adds what o grants to r: capabilities add up, and deny wins.
func (r *aclRules) merge(o *aclRules) {
	for ns, caps := range o.namespaces {
		dst := r.namespaces[ns]
		if dst == nil {
			dst = map[string]bool{}
			r.namespaces[ns] = dst
		}
		for c := range caps {
			dst[c] = true
		}
	}
	r.mergeVariables(o)
	r.node = mergeLevel(r.node, o.node)
	r.agent = mergeLevel(r.agent, o.agent)
	r.operator = mergeLevel(r.operator, o.operator)
}

func mergeLevel(a, b string) string {
	rank := map[string]int{"": 0, policyRead: 1, policyWrite: 2, policyDeny: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// allowNamespace reports whether the rules grant capability c in
// namespace ns: the namespace's own rule if there is one, else "*".
func (r *aclRules) allowNamespace(ns, c string) bool {
	caps, ok := r.namespaces[ns]
	if !ok {
		caps = r.namespaces["*"]
	}
	return !caps["deny"] && caps[c]
}

// allowLevel reports whether a level grants read or write.
func allowLevel(level, want string) bool {
	switch want {
	case policyRead:
		return level == policyRead || level == policyWrite
	case policyWrite:
		return level == policyWrite
	}
	return false
}
