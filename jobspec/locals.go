package jobspec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// minLocalCap is the size a computed local may reach regardless of its
// source length. Locals are capped so that a chain like b = "${a}${a}",
// c = "${b}${b}", ... cannot double its way to gigabytes.
const minLocalCap = 64 << 10

// evalLocals evaluates the attributes of every locals block in dependency
// order. A cycle is reported once, naming its members, and those locals
// become unknown so that nothing waits on them.
func evalLocals(blocks []*hclsyntax.Block, vars cty.Value, m *meter) (map[string]cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	attrs := map[string]*hclsyntax.Attribute{}
	for _, b := range blocks {
		for _, nb := range b.Body.Blocks {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unexpected block in locals",
				Detail:   "A locals block holds only name = value assignments.",
				Subject:  nb.DefRange().Ptr(),
			})
		}
		for name, a := range b.Body.Attributes {
			if prev, dup := attrs[name]; dup {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate local value",
					Detail:   fmt.Sprintf("Local %q was already defined at %s.", name, prev.NameRange),
					Subject:  a.NameRange.Ptr(),
				})
				continue
			}
			attrs[name] = a
		}
	}
	if len(attrs) == 0 {
		return map[string]cty.Value{}, diags
	}

	names := make([]string, 0, len(attrs))
	deps := make(map[string][]string, len(attrs))
	for name, a := range attrs {
		names = append(names, name)
		deps[name] = localRefs(a.Expr)
	}
	sort.Strings(names)

	vals := make(map[string]cty.Value, len(attrs))
	const (
		unvisited = iota
		visiting
		done
	)
	state := make(map[string]int, len(attrs))
	var stack []string
	var visit func(name string)
	visit = func(name string) {
		switch state[name] {
		case done:
			return
		case visiting:
			// Everything on the stack from the first occurrence of name
			// is on the cycle.
			i := len(stack) - 1
			for stack[i] != name {
				i--
			}
			cycle := append(append([]string{}, stack[i:]...), name)
			for _, n := range stack[i:] {
				vals[n] = cty.DynamicVal
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cycle in local values",
				Detail:   "These locals refer to each other in a loop: local." + strings.Join(cycle, " -> local.") + ".",
				Subject:  attrs[name].NameRange.Ptr(),
			})
			return
		}
		state[name] = visiting
		stack = append(stack, name)
		for _, dep := range deps[name] {
			if attrs[dep] != nil {
				visit(dep)
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		if _, failed := vals[name]; failed {
			return // on a cycle
		}
		v, ds := evalLocal(attrs[name], deps[name], vals, vars, m)
		diags = append(diags, ds...)
		vals[name] = v
	}
	for _, name := range names {
		visit(name)
	}
	return vals, diags
}

func evalLocal(a *hclsyntax.Attribute, deps []string, vals map[string]cty.Value, vars cty.Value, m *meter) (cty.Value, hcl.Diagnostics) {
	scope := make(map[string]cty.Value, len(deps))
	for _, dep := range deps {
		if v, ok := vals[dep]; ok {
			scope[dep] = v
		}
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": vars, "local": cty.ObjectVal(scope)},
		Functions: m.funcs,
	}
	v, diags := m.eval(a.Expr, ctx)
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	limit := max(minLocalCap, 2*(a.SrcRange.End.Byte-a.SrcRange.Start.Byte))
	if valueSize(v, limit) > limit {
		return cty.DynamicVal, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Local value too large",
			Detail:   fmt.Sprintf("Local %q computes to more than %d bytes.", a.Name, limit),
			Subject:  a.SrcRange.Ptr(),
		})
	}
	return v, diags
}

// localRefs lists the local names an expression refers to.
func localRefs(expr hclsyntax.Expression) []string {
	var out []string
	for _, t := range expr.Variables() {
		if t.RootName() != "local" || len(t) < 2 {
			continue
		}
		if step, ok := t[1].(hcl.TraverseAttr); ok {
			out = append(out, step.Name)
		}
	}
	return out
}

// valueSize estimates the memory a value represents, stopping early once
// it passes limit.
func valueSize(v cty.Value, limit int) int {
	if v.IsNull() || !v.IsKnown() {
		return 1
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return len(v.AsString())
	case ty.IsPrimitiveType():
		return 8
	case v.CanIterateElements():
		n := 8
		for it := v.ElementIterator(); it.Next() && n <= limit; {
			k, e := it.Element()
			n += valueSize(k, limit) + valueSize(e, limit)
		}
		return n
	}
	return 8
}
