package jobspec

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Rollout orders a group's destructive updates across the nodes its
// allocations run on. OrderBy is a node attribute reference such as
// "${meta.role}", kept as written and resolved on each node by the
// scheduler; without it a node's value is its name. Nodes whose value is
// listed in Order are updated first, in that order; the others last.
type Rollout struct {
	OrderBy string   `json:"order_by,omitempty"`
	Order   []string `json:"order"`
	// Pos is where the block was written, for checks that run after the
	// parse (an order naming nodes the cluster does not have). Nil for a
	// job that did not come from a file; never part of the job's identity.
	Pos *RolloutPos `json:"-"`
}

// RolloutPos holds the source ranges of a rollout block's order.
type RolloutPos struct {
	Order hcl.Range // the whole order argument
	// Elements are the ranges of Order's values, index for index.
	Elements []hcl.Range
}

// Element returns where Order[i] was written: the element itself when
// known, else the order argument; nil without positions.
func (r *Rollout) Element(i int) *hcl.Range {
	if r == nil || r.Pos == nil {
		return nil
	}
	if i >= 0 && i < len(r.Pos.Elements) {
		return r.Pos.Elements[i].Ptr()
	}
	return r.Pos.Order.Ptr()
}

var rolloutSpec = newSpec("rollout", specOpts{
	attrs:    []string{"order_by"},
	required: []string{"order"},
})

// rolloutRefs are the node values order_by may name: the operands a
// constraint's attribute accepts. A prefix ends with a dot and needs a
// key after it.
var rolloutRefs = []string{"attr.", "meta.", "node.unique.id", "node.unique.name", "node.datacenter", "node.class"}

func decodeRollout(ev *evaluator, b *hclsyntax.Block, typ JobType) (*Rollout, hcl.Diagnostics) {
	body := b.Body
	diags := rolloutSpec.check(body, b.DefRange())
	if !hasDeployments(typ) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Job type %q does not allow the rollout block", typ),
			Detail: fmt.Sprintf("rollout orders the destructive updates of a deployment and only applies to service and system jobs; "+
				"a %s job has no deployments to order. Remove the rollout block.", typ),
			Subject: b.DefRange().Ptr(),
			Context: b.Range().Ptr(),
		})
	}
	r := &Rollout{}
	if a := body.Attributes["order_by"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			r.OrderBy = s
			diags = append(diags, checkOrderBy(a, s)...)
		}
	}
	a := body.Attributes["order"]
	if a == nil {
		return nil, diags // rolloutSpec.check reported it
	}
	order, ok, ds := ev.strList(a)
	diags = append(diags, ds...)
	if !ok {
		return nil, diags
	}
	r.Order = order
	r.Pos = &RolloutPos{Order: a.Expr.Range(), Elements: make([]hcl.Range, len(order))}
	tuple, _ := a.Expr.(*hclsyntax.TupleConsExpr)
	for i := range order {
		r.Pos.Elements[i] = a.Expr.Range()
		if tuple != nil && len(tuple.Exprs) == len(order) {
			r.Pos.Elements[i] = tuple.Exprs[i].Range()
		}
	}
	diags = append(diags, checkOrder(r, a)...)
	return r, diags
}

// checkOrderBy accepts exactly one ${...} reference to a node value.
func checkOrderBy(a *hclsyntax.Attribute, s string) hcl.Diagnostics {
	if validOrderBy(s) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  `Invalid value for "order_by"`,
		Detail: fmt.Sprintf("%q must be one node attribute reference, as in a constraint's attribute: "+
			"${meta.<key>}, ${attr.<key>}, ${node.unique.name}, ${node.unique.id}, ${node.datacenter} or ${node.class}. "+
			"Leave order_by out to order by node name.", s),
		Subject: a.Expr.Range().Ptr(),
		Context: a.SrcRange.Ptr(),
	}}
}

// validOrderBy reports whether s is one ${...} reference to a node value
// that rollout.order_by accepts.
func validOrderBy(s string) bool {
	ref, ok := strings.CutPrefix(s, "${")
	if ok {
		ref, ok = strings.CutSuffix(ref, "}")
	}
	if !ok || strings.ContainsAny(ref, "${} \t") {
		return false
	}
	for _, k := range rolloutRefs {
		if strings.HasSuffix(k, ".") {
			if key, ok := strings.CutPrefix(ref, k); ok && key != "" {
				return true
			}
		} else if ref == k {
			return true
		}
	}
	return false
}

// checkOrder rejects an empty order, empty values and repeated values.
func checkOrder(r *Rollout, a *hclsyntax.Attribute) hcl.Diagnostics {
	if len(r.Order) == 0 {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  `Empty rollout order`,
			Detail:   `"order" must list at least one value of order_by (or, without order_by, one node name); nodes with other values are updated last.`,
			Subject:  a.Expr.Range().Ptr(),
			Context:  a.SrcRange.Ptr(),
		}}
	}
	var diags hcl.Diagnostics
	seen := map[string]int{}
	for i, v := range r.Order {
		if v == "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Empty value in rollout order",
				Detail:   "Every value of \"order\" names a value of order_by or a node; an empty one matches nothing.",
				Subject:  r.Element(i),
			})
			continue
		}
		if prev, dup := seen[v]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate value in rollout order",
				Detail:   fmt.Sprintf("%q is already listed at %s; each value may appear once.", v, r.Element(prev)),
				Subject:  r.Element(i),
			})
			continue
		}
		seen[v] = i
	}
	return diags
}

// CheckRolloutNodes warns about values of rollout.order that name nodes
// the cluster does not have, for groups that order by node name (no
// order_by). known reports whether a node name exists. The warnings point
// at the element when the job came from a file.
func CheckRolloutNodes(j *Job, known func(name string) bool) hcl.Diagnostics {
	if j == nil {
		return nil
	}
	var diags hcl.Diagnostics
	for _, g := range j.Groups {
		if g == nil || g.Rollout == nil || g.Rollout.OrderBy != "" {
			continue
		}
		for i, name := range g.Rollout.Order {
			if known(name) {
				continue
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  fmt.Sprintf("rollout.order of group %q names node %q, which is not in the cluster", g.Name, name),
				Detail:   "Without order_by, order lists node names, and no registered node has this one: check it for a typo. Nodes that are not listed are updated last.",
				Subject:  g.Rollout.Element(i),
			})
		}
	}
	return diags
}

// validateRollout is ValidateJob's check of a rollout that did not come
// from a file.
func validateRollout(r *Rollout, typ JobType, path string, add func(path, format string, args ...any)) {
	if r == nil {
		return
	}
	if typ != "" && !hasDeployments(typ) {
		add(path, "a %s job has no deployments to order; rollout applies to service and system jobs", typ)
	}
	if r.OrderBy != "" {
		if !validOrderBy(r.OrderBy) {
			add(path+".order_by", "%q is not one node attribute reference such as ${meta.role}", r.OrderBy)
		}
	}
	if len(r.Order) == 0 {
		add(path+".order", "must list at least one value")
	}
	seen := map[string]bool{}
	for i, v := range r.Order {
		switch {
		case v == "":
			add(fmt.Sprintf("%s.order[%d]", path, i), "is empty")
		case seen[v]:
			add(fmt.Sprintf("%s.order[%d]", path, i), "%q is listed more than once", v)
		}
		seen[v] = true
	}
}
