package jobspec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// decodeConfig turns a task's opaque config block into plain values. The
// driver, not the parser, knows its schema. Nested blocks follow the shape
// Nomad's HCL1 parser gave them, which drivers expect: each block is an
// object appended to a list under its type, and each label wraps the body
// in one more {label: [ ... ]} level, so
//
//	mount "a" { x = 1 }   becomes   mount = [{a = [{x = 1}]}]
func decodeConfig(ev *evaluator, body *hclsyntax.Body) (map[string]any, hcl.Diagnostics) {
	out := make(map[string]any, len(body.Attributes)+len(body.Blocks))
	var diags hcl.Diagnostics
	// Attributes in source order, so diagnostics come out in order too.
	attrs := make([]*hclsyntax.Attribute, 0, len(body.Attributes))
	for _, a := range body.Attributes {
		attrs = append(attrs, a)
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].SrcRange.Start.Byte < attrs[j].SrcRange.Start.Byte })
	for _, a := range attrs {
		v, ds := ev.value(a.Expr)
		diags = append(diags, ds...)
		if ds.HasErrors() || v.IsNull() {
			continue
		}
		p, ds := toPlain(v, a.Expr.Range())
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			out[a.Name] = p
		}
	}
	for _, b := range body.Blocks {
		inner, ds := decodeConfig(ev, b.Body)
		diags = append(diags, ds...)
		var v any = inner
		for i := len(b.Labels) - 1; i >= 0; i-- {
			v = map[string]any{b.Labels[i]: []any{v}}
		}
		if _, isAttr := body.Attributes[b.Type]; isAttr {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Duplicate %s", b.Type),
				Detail:   fmt.Sprintf("%q is set both as an argument and as a block; use one.", b.Type),
				Subject:  b.TypeRange.Ptr(),
			})
			continue
		}
		prev, _ := out[b.Type].([]any)
		out[b.Type] = append(prev, v)
	}
	return out, diags
}

// configProblems turns a driver's schema problems into diagnostics at the
// attribute or nested block the path starts with, or at the config block
// itself for what is missing.
func configProblems(blk *hclsyntax.Block, driver string, problems []ConfigProblem) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, p := range problems {
		subject := blk.DefRange()
		head := p.Path
		if i := strings.IndexAny(head, ".["); i >= 0 {
			head = head[:i]
		}
		if a, ok := blk.Body.Attributes[head]; ok {
			subject = a.SrcRange
		} else {
			for _, b := range blk.Body.Blocks {
				if b.Type == head {
					subject = b.DefRange()
					break
				}
			}
		}
		detail := p.Msg
		if p.Path != "" {
			detail = p.Path + ": " + p.Msg
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid %s config", driver),
			Detail:   detail,
			Subject:  subject.Ptr(),
		})
	}
	return diags
}
