package jobspec

import (
	"fmt"
	"math"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// budgetWalker is the pass of prepare. Like runtimeRefWalker it switches
// on node types rather than going through hclsyntax.Walk, whose closure
// per node would cost a noticeable part of a parse.
type budgetWalker struct {
	m     *meter
	src   []byte
	names map[string]bool // functions the file calls
	// rewrote is set once the tree holds an inserted call.
	rewrote bool
	diags   hcl.Diagnostics
	// levels are the for expressions around the node being visited.
	levels []forLevel
}

type forLevel struct {
	expr *hclsyntax.ForExpr
	n    float64 // elements of its collection; 0 when not known
}

func (w *budgetWalker) body(b *hclsyntax.Body) {
	for _, a := range b.Attributes {
		w.expr(a.Expr)
	}
	for _, blk := range b.Blocks {
		if blk.Type == "variable" {
			// A variable's type is a type expression (list(string)),
			// read by typeexpr, never evaluated.
			for name, a := range blk.Body.Attributes {
				if name != "type" {
					w.expr(a.Expr)
				}
			}
			for _, vb := range blk.Body.Blocks {
				w.body(vb.Body)
			}
			continue
		}
		w.body(blk.Body)
	}
}

func (w *budgetWalker) expr(e hclsyntax.Expression) {
	switch n := e.(type) {
	case *hclsyntax.LiteralValueExpr, *hclsyntax.ScopeTraversalExpr, *hclsyntax.AnonSymbolExpr, *hclsyntax.ExprSyntaxError:
		// Leaves.
	case *hclsyntax.TemplateExpr:
		for i, part := range n.Parts {
			if _, lit := part.(*hclsyntax.LiteralValueExpr); lit {
				continue
			}
			w.expr(part)
			n.Parts[i] = inserted(meterSize, part, 1)
			w.rewrote = true
		}
	case *hclsyntax.TemplateWrapExpr:
		w.expr(n.Wrapped)
	case *hclsyntax.TemplateJoinExpr:
		w.expr(n.Tuple)
		n.Tuple = inserted(meterSize, n.Tuple, 1)
		w.rewrote = true
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
		if hcl.ExprAsKeyword(n.Wrapped) == "" {
			w.expr(n.Wrapped)
		}
	case *hclsyntax.FunctionCallExpr:
		if n.Name == meterGate || n.Name == meterSize {
			// Already prepared (a variable default is visited twice).
			return
		}
		w.call(n.Name)
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
		w.forExpr(n)
	default:
		// A node type this switch does not know (a newer hcl): visit it
		// for the names it calls, without rewriting it.
		hclsyntax.VisitAll(e, func(node hclsyntax.Node) hcl.Diagnostics {
			if fc, ok := node.(*hclsyntax.FunctionCallExpr); ok {
				w.call(fc.Name)
			}
			return nil
		})
	}
}

func (w *budgetWalker) call(name string) {
	if w.names == nil {
		w.names = map[string]bool{}
	}
	w.names[name] = true
}

// forExpr checks the product of the known collection sizes of the for
// expressions nested here, then meters the collection. The collection is
// evaluated once per iteration of the for expressions around this one,
// so it is visited before this one's level is pushed.
func (w *budgetWalker) forExpr(n *hclsyntax.ForExpr) {
	if _, ok := ungated(n.CollExpr); ok {
		return // already prepared
	}
	w.expr(n.CollExpr)
	size, _ := staticLen(n.CollExpr)
	w.levels = append(w.levels, forLevel{expr: n, n: size})
	defer func() { w.levels = w.levels[:len(w.levels)-1] }()
	product := 1.0
	for _, l := range w.levels {
		product *= max(l.n, 1)
	}
	if product > float64(w.m.b.MaxElements) {
		w.diags = append(w.diags, w.productDiag(product))
		return // one error per nest
	}
	weight := 1
	for _, e := range []hclsyntax.Expression{n.KeyExpr, n.ValExpr, n.CondExpr} {
		if e != nil {
			hclsyntax.VisitAll(e, func(hclsyntax.Node) hcl.Diagnostics { weight++; return nil })
		}
	}
	n.CollExpr = gated(n.CollExpr, 1)
	w.rewrote = true
	defer func() {
		// Each iteration passes a gate: the condition, evaluated first,
		// or else the value.
		if n.CondExpr != nil {
			n.CondExpr = gated(n.CondExpr, weight)
		} else {
			n.ValExpr = gated(n.ValExpr, weight)
		}
	}()
	if n.KeyExpr != nil {
		w.expr(n.KeyExpr)
	}
	w.expr(n.ValExpr)
	if n.CondExpr != nil {
		w.expr(n.CondExpr)
	}
}

// productDiag explains which nested collections multiply to what, at the
// outermost one with a known size.
func (w *budgetWalker) productDiag(product float64) *hcl.Diagnostic {
	var texts []string
	var first *forLevel
	for i := range w.levels {
		l := &w.levels[i]
		if l.n == 0 {
			continue
		}
		if first == nil {
			first = l
		}
		texts = append(texts, w.text(l.expr.CollExpr))
	}
	same := true
	for _, t := range texts {
		same = same && t == texts[0]
	}
	var what string
	switch {
	case len(texts) == 1:
		what = fmt.Sprintf("a for expression over %s produces %s elements", texts[0], magnitude(product))
	case same:
		what = fmt.Sprintf("%s nested %s deep produces %s elements", texts[0], countWord(len(texts)), magnitude(product))
	default:
		what = fmt.Sprintf("for expressions over %s, nested, produce %s elements", strings.Join(texts, ", "), magnitude(product))
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Expression too large",
		Detail:   fmt.Sprintf("%s; the limit is %s.", what, magnitude(float64(w.m.b.MaxElements))),
		Subject:  first.expr.CollExpr.Range().Ptr(),
		Context:  w.levels[0].expr.SrcRange.Ptr(),
	}
}

// text is the source of an expression, shortened for a message.
func (w *budgetWalker) text(e hclsyntax.Expression) string {
	if inner, ok := ungated(e); ok {
		e = inner
	}
	rng := e.Range()
	if w.src == nil || rng.Start.Byte < 0 || rng.End.Byte > len(w.src) || rng.Start.Byte > rng.End.Byte {
		return "a collection"
	}
	s := strings.Join(strings.Fields(string(w.src[rng.Start.Byte:rng.End.Byte])), " ")
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}

func countWord(n int) string {
	words := [...]string{"", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"}
	if n < len(words) {
		return words[n]
	}
	return fmt.Sprint(n)
}

// gated is e behind a gate of the meter: [e, unknown][gate(site)]. The
// tuple holds e by reference and indexing it copies nothing, so a gate
// costs the same whatever the size of e.
func gated(e hclsyntax.Expression, weight int) hclsyntax.Expression {
	rng := e.Range()
	return &hclsyntax.IndexExpr{
		Collection: &hclsyntax.TupleConsExpr{
			Exprs:     []hclsyntax.Expression{e, &hclsyntax.LiteralValueExpr{Val: cty.DynamicVal, SrcRange: rng}},
			SrcRange:  rng,
			OpenRange: rng,
		},
		Key: &hclsyntax.FunctionCallExpr{
			Name:            meterGate,
			Args:            []hclsyntax.Expression{&hclsyntax.LiteralValueExpr{Val: cty.CapsuleVal(siteType, &site{rng: rng, weight: weight}), SrcRange: rng}},
			NameRange:       rng,
			OpenParenRange:  rng,
			CloseParenRange: rng,
		},
		SrcRange:     rng,
		OpenRange:    rng,
		BracketRange: rng,
	}
}

// ungated is the expression behind a gate.
func ungated(e hclsyntax.Expression) (hclsyntax.Expression, bool) {
	ix, ok := e.(*hclsyntax.IndexExpr)
	if !ok {
		return nil, false
	}
	fc, ok := ix.Key.(*hclsyntax.FunctionCallExpr)
	t, ok2 := ix.Collection.(*hclsyntax.TupleConsExpr)
	if !ok || !ok2 || fc.Name != meterGate || len(t.Exprs) != 2 {
		return nil, false
	}
	return t.Exprs[0], true
}

// inserted wraps e in a call to one of the meter's functions, carrying
// e's range for the diagnostic.
func inserted(name string, e hclsyntax.Expression, weight int) *hclsyntax.FunctionCallExpr {
	rng := e.Range()
	return &hclsyntax.FunctionCallExpr{
		Name: name,
		Args: []hclsyntax.Expression{
			&hclsyntax.LiteralValueExpr{Val: cty.CapsuleVal(siteType, &site{rng: rng, weight: weight}), SrcRange: rng},
			e,
		},
		NameRange:       rng,
		OpenParenRange:  rng,
		CloseParenRange: rng,
	}
}

// staticLen is the number of elements a collection expression yields when
// the source alone tells: a literal list or object, range() of literal
// numbers, a for expression over such a collection (at most as many), and
// setproduct or concat of those.
func staticLen(e hclsyntax.Expression) (float64, bool) {
	switch n := e.(type) {
	case *hclsyntax.TupleConsExpr:
		return float64(len(n.Exprs)), true
	case *hclsyntax.ObjectConsExpr:
		return float64(len(n.Items)), true
	case *hclsyntax.ParenthesesExpr:
		return staticLen(n.Expression)
	case *hclsyntax.IndexExpr:
		if inner, ok := ungated(n); ok {
			return staticLen(inner)
		}
	case *hclsyntax.ForExpr:
		return staticLen(n.CollExpr)
	case *hclsyntax.ConditionalExpr:
		a, okA := staticLen(n.TrueResult)
		b, okB := staticLen(n.FalseResult)
		return max(a, b), okA && okB
	case *hclsyntax.FunctionCallExpr:
		switch n.Name {
		case meterSize:
			return staticLen(n.Args[1])
		case "range":
			return rangeLen(n.Args)
		case "setproduct", "concat":
			total := 1.0
			if n.Name == "concat" {
				total = 0
			}
			for _, a := range n.Args {
				l, ok := staticLen(a)
				if !ok {
					return 0, false
				}
				if n.Name == "concat" {
					total += l
				} else {
					total *= l
				}
			}
			return total, len(n.Args) > 0
		}
	}
	return 0, false
}

// rangeLen is the length of range(...) with literal arguments, as cty's
// range computes it (before its own cap of 1024 values).
func rangeLen(args []hclsyntax.Expression) (float64, bool) {
	nums := make([]float64, len(args))
	for i, a := range args {
		f, ok := literalNumber(a)
		if !ok {
			return 0, false
		}
		nums[i] = f
	}
	var start, end, step float64
	switch len(nums) {
	case 1:
		end = nums[0]
	case 2:
		start, end = nums[0], nums[1]
	case 3:
		start, end, step = nums[0], nums[1], nums[2]
	default:
		return 0, false
	}
	if step == 0 {
		step = 1
		if end < start {
			step = -1
		}
	}
	n := math.Ceil((end - start) / step)
	if n != n || n < 0 {
		return 0, true
	}
	return n, true
}

func literalNumber(e hclsyntax.Expression) (float64, bool) {
	neg := false
	if u, ok := e.(*hclsyntax.UnaryOpExpr); ok && u.Op == hclsyntax.OpNegate {
		neg, e = true, u.Val
	}
	if p, ok := e.(*hclsyntax.ParenthesesExpr); ok {
		e = p.Expression
	}
	lit, ok := e.(*hclsyntax.LiteralValueExpr)
	if !ok || lit.Val.Type() != cty.Number || !lit.Val.IsKnown() || lit.Val.IsNull() {
		return 0, false
	}
	f, _ := lit.Val.AsBigFloat().Float64()
	if neg {
		f = -f
	}
	return f, true
}
