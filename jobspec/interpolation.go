package jobspec

import (
	"fmt"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// keepRuntimeRefs rewrites, in place, every template interpolation that is
// a bare reference to something other than var, local or a for-expression
// symbol, such as ${attr.kernel.name} or ${NOMAD_ADDR_http}, into the
// literal text it was written as. Those names are resolved later by the
// scheduler or on the node, so the job keeps them verbatim; Nomad's
// jobspec2 does the same through a patched hcl. Rewriting the syntax tree
// (which belongs to this parse alone) keeps evaluation on the stock hcl
// code path.
//
// It also warns about roots that look like a misspelt var or local, since
// those would otherwise silently reach the node as literal text.
func keepRuntimeRefs(body *hclsyntax.Body, src []byte) hcl.Diagnostics {
	w := &runtimeRefWalker{src: src}
	w.body(body)
	return w.diags
}

// body, block and expr visit the tree in the order hclsyntax.Walk does,
// calling Enter and Exit the same way, but without Walk's closure per
// node, which made this pass a tenth of a whole parse. A node type this
// switch does not know (a newer hcl) goes through Walk itself.
func (w *runtimeRefWalker) body(b *hclsyntax.Body) {
	for _, a := range b.Attributes {
		w.expr(a.Expr)
	}
	for _, blk := range b.Blocks {
		w.body(blk.Body)
	}
}

func (w *runtimeRefWalker) expr(e hclsyntax.Expression) {
	switch n := e.(type) {
	case *hclsyntax.LiteralValueExpr, *hclsyntax.ScopeTraversalExpr, *hclsyntax.AnonSymbolExpr, *hclsyntax.ExprSyntaxError:
		// Leaves.
	case *hclsyntax.TemplateExpr:
		w.Enter(n)
		for _, part := range n.Parts {
			w.expr(part)
		}
	case *hclsyntax.TemplateWrapExpr:
		w.Enter(n)
		w.expr(n.Wrapped)
	case *hclsyntax.TemplateJoinExpr:
		w.expr(n.Tuple)
	case *hclsyntax.TupleConsExpr:
		for _, x := range n.Exprs {
			w.expr(x)
		}
	case *hclsyntax.ObjectConsExpr:
		for _, item := range n.Items {
			w.expr(item.KeyExpr)
			w.expr(item.ValueExpr)
		}
	case *hclsyntax.ObjectConsKeyExpr:
		// As ObjectConsKeyExpr.walkChildNodes: a bare name is a literal.
		if hcl.ExprAsKeyword(n.Wrapped) == "" {
			w.expr(n.Wrapped)
		}
	case *hclsyntax.FunctionCallExpr:
		for _, x := range n.Args {
			w.expr(x)
		}
	case *hclsyntax.ParenthesesExpr:
		w.expr(n.Expression)
	case *hclsyntax.RelativeTraversalExpr:
		w.expr(n.Source)
	case *hclsyntax.ConditionalExpr:
		w.expr(n.Condition)
		w.expr(n.TrueResult)
		w.expr(n.FalseResult)
	case *hclsyntax.IndexExpr:
		w.expr(n.Collection)
		w.expr(n.Key)
	case *hclsyntax.SplatExpr:
		w.expr(n.Source)
		w.expr(n.Each)
	case *hclsyntax.BinaryOpExpr:
		w.expr(n.LHS)
		w.expr(n.RHS)
	case *hclsyntax.UnaryOpExpr:
		w.expr(n.Val)
	case *hclsyntax.ForExpr:
		w.Enter(n)
		w.expr(n.CollExpr)
		if n.KeyExpr != nil {
			w.expr(n.KeyExpr)
		}
		w.expr(n.ValExpr)
		if n.CondExpr != nil {
			w.expr(n.CondExpr)
		}
		w.Exit(n)
	default:
		hclsyntax.Walk(e, w)
	}
}

type runtimeRefWalker struct {
	src    []byte
	scopes []string // symbols bound by enclosing for expressions
	diags  hcl.Diagnostics
}

func (w *runtimeRefWalker) Enter(node hclsyntax.Node) hcl.Diagnostics {
	switch n := node.(type) {
	case *hclsyntax.ForExpr:
		w.scopes = append(w.scopes, n.KeyVar, n.ValVar)
	case *hclsyntax.TemplateExpr:
		for i, part := range n.Parts {
			if lit := w.literalFor(part); lit != nil {
				n.Parts[i] = lit
			}
		}
	case *hclsyntax.TemplateWrapExpr:
		if lit := w.literalFor(n.Wrapped); lit != nil {
			n.Wrapped = lit
		}
	}
	return nil
}

func (w *runtimeRefWalker) Exit(node hclsyntax.Node) hcl.Diagnostics {
	if _, ok := node.(*hclsyntax.ForExpr); ok {
		w.scopes = w.scopes[:len(w.scopes)-2]
	}
	return nil
}

// literalFor returns the replacement for a template part, or nil to keep it.
func (w *runtimeRefWalker) literalFor(part hclsyntax.Expression) hclsyntax.Expression {
	st, ok := part.(*hclsyntax.ScopeTraversalExpr)
	if !ok {
		return nil
	}
	root := st.Traversal.RootName()
	if root == "var" || root == "local" {
		return nil
	}
	for _, s := range w.scopes {
		if s == root {
			return nil
		}
	}
	for _, known := range [...]string{"var", "local"} {
		if levenshtein.Distance(root, known, nil) == 1 || root == known+"s" {
			w.diags = append(w.diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Reference kept for the node",
				Detail:   fmt.Sprintf("%q is not a variable root, so the text is kept as written and resolved on the node. Did you mean %q?", root, known),
				Subject:  st.SrcRange.Ptr(),
			})
		}
	}
	rng := st.SrcRange
	return &hclsyntax.LiteralValueExpr{Val: cty.StringVal(w.interpolationText(rng)), SrcRange: rng}
}

// interpolationText recovers the exact source of the ${...} sequence around
// rng, including spacing and strip markers.
func (w *runtimeRefWalker) interpolationText(rng hcl.Range) string {
	src := w.src
	start, end := rng.Start.Byte, rng.End.Byte
	if start < 0 || end > len(src) || start > end {
		return "${" + string(rng.SliceBytes(src)) + "}"
	}
	i := start
	for i > 0 && (src[i-1] == ' ' || src[i-1] == '\t' || src[i-1] == '~') {
		i--
	}
	j := end
	for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '~') {
		j++
	}
	if i >= 2 && src[i-1] == '{' && src[i-2] == '$' && j < len(src) && src[j] == '}' {
		return string(src[i-2 : j+1])
	}
	return "${" + string(src[start:end]) + "}"
}
