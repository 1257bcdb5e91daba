package jobspec

import (
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// evaluator turns expressions into Go values. It holds only the evaluation
// context of one parse and is never changed after it is built.
type evaluator struct {
	ctx *hcl.EvalContext
	// checkConfig is ParseOptions.CheckConfig; nil checks nothing.
	checkConfig ConfigChecker
	// meter spends the parse's budget; ctx.Functions are its guarded
	// functions.
	meter *meter
}

// unknownDiag marks an error that only repeats an earlier one: a value is
// unknown exactly when it depends on a variable or local that already
// failed. finishDiags drops these when any other error exists.
type unknownMarker struct{}

func unknownDiag(rng hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Value not known",
		Detail:   "This value depends on a variable or local value that could not be evaluated.",
		Subject:  rng.Ptr(),
		Extra:    unknownMarker{},
	}
}

// value evaluates expr; a null result comes back as cty.NilVal with no
// error, so callers treat `x = null` like an absent argument, as HCL does.
func (ev *evaluator) value(expr hclsyntax.Expression) (cty.Value, hcl.Diagnostics) {
	if v, ok := literalString(expr); ok {
		return v, nil
	}
	v, diags := ev.meter.eval(expr, ev.ctx)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, append(diags, unknownDiag(expr.Range()))
	}
	if v.IsNull() {
		return cty.NilVal, diags
	}
	return v, diags
}

// literalString is the value of a plain quoted string such as "http",
// the most common expression of a job file, without TemplateExpr.Value's
// buffer, marks map and refinement: for one known, unmarked string part
// that yields the same string.
func literalString(expr hclsyntax.Expression) (cty.Value, bool) {
	t, ok := expr.(*hclsyntax.TemplateExpr)
	if !ok || len(t.Parts) != 1 {
		return cty.NilVal, false
	}
	lit, ok := t.Parts[0].(*hclsyntax.LiteralValueExpr)
	if !ok {
		return cty.NilVal, false
	}
	v := lit.Val
	if v.IsMarked() || v.Type() != cty.String || !v.IsKnown() || v.IsNull() {
		return cty.NilVal, false
	}
	return v, true
}

func typeErr(attr *hclsyntax.Attribute, want string, err error) hcl.Diagnostics {
	detail := fmt.Sprintf("%q must be %s.", attr.Name, want)
	if err != nil {
		detail = fmt.Sprintf("%q must be %s: %s.", attr.Name, want, err)
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid value for %q", attr.Name),
		Detail:   detail,
		Subject:  attr.Expr.Range().Ptr(),
		Context:  attr.SrcRange.Ptr(),
	}}
}

// str returns the attribute as a string; ok is false when it is null or
// failed. Numbers and bools convert the way HCL converts them.
func (ev *evaluator) str(attr *hclsyntax.Attribute) (string, bool, hcl.Diagnostics) {
	v, diags := ev.value(attr.Expr)
	if v == cty.NilVal {
		return "", false, diags
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		return "", false, append(diags, typeErr(attr, "a string", nil)...)
	}
	return s.AsString(), true, diags
}

func (ev *evaluator) boolean(attr *hclsyntax.Attribute) (bool, bool, hcl.Diagnostics) {
	v, diags := ev.value(attr.Expr)
	if v == cty.NilVal {
		return false, false, diags
	}
	b, err := convert.Convert(v, cty.Bool)
	if err != nil {
		return false, false, append(diags, typeErr(attr, "true or false", nil)...)
	}
	return b.True(), true, diags
}

// integer returns a whole number within [lo, hi]. cty numbers are
// arbitrary precision, so 1e400 arrives intact and is rejected here rather
// than wrapping around in a conversion.
func (ev *evaluator) integer(attr *hclsyntax.Attribute, lo, hi int) (int, bool, hcl.Diagnostics) {
	v, diags := ev.value(attr.Expr)
	if v == cty.NilVal {
		return 0, false, diags
	}
	bad := func() hcl.Diagnostics {
		return append(diags, typeErr(attr, fmt.Sprintf("a whole number from %d to %d", lo, hi), nil)...)
	}
	n, err := convert.Convert(v, cty.Number)
	if err != nil {
		return 0, false, bad()
	}
	bf := n.AsBigFloat()
	if bf.IsInf() || !bf.IsInt() {
		return 0, false, bad()
	}
	i, acc := bf.Int64()
	if acc != big.Exact || i < int64(lo) || i > int64(hi) {
		return 0, false, bad()
	}
	return int(i), true, diags
}

// duration parses Go duration strings, as Nomad does ("30s", "1h30m").
func (ev *evaluator) duration(attr *hclsyntax.Attribute) (time.Duration, bool, hcl.Diagnostics) {
	v, diags := ev.value(attr.Expr)
	if v == cty.NilVal {
		return 0, false, diags
	}
	const want = `a duration such as "30s" or "1h30m"`
	if v.Type() != cty.String {
		return 0, false, append(diags, typeErr(attr, want, nil)...)
	}
	d, err := time.ParseDuration(v.AsString())
	if err != nil {
		return 0, false, append(diags, typeErr(attr, want, err)...)
	}
	if d < 0 {
		return 0, false, append(diags, typeErr(attr, "a duration that is not negative", nil)...)
	}
	return d, true, diags
}

func (ev *evaluator) strList(attr *hclsyntax.Attribute) ([]string, bool, hcl.Diagnostics) {
	if l, ok := literalStrings(attr.Expr); ok {
		return l, true, nil
	}
	v, diags := ev.value(attr.Expr)
	if v == cty.NilVal {
		return nil, false, diags
	}
	l, err := convert.Convert(v, cty.List(cty.String))
	if err != nil || !l.IsWhollyKnown() {
		return nil, false, append(diags, typeErr(attr, "a list of strings", nil)...)
	}
	out := make([]string, 0, l.LengthInt())
	for it := l.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			return nil, false, append(diags, typeErr(attr, "a list of strings without nulls", nil)...)
		}
		out = append(out, e.AsString())
	}
	return out, true, diags
}

// literalStrings reads a list written as plain quoted strings, such as
// ["dc1", "dc2"], without building the tuple and converting it to a list:
// for known strings the conversion yields them as they are, in order.
func literalStrings(expr hclsyntax.Expression) ([]string, bool) {
	t, ok := expr.(*hclsyntax.TupleConsExpr)
	if !ok || len(t.Exprs) == 0 {
		return nil, false
	}
	for _, e := range t.Exprs {
		if _, ok := literalString(e); !ok {
			return nil, false
		}
	}
	out := make([]string, len(t.Exprs))
	for i, e := range t.Exprs {
		v, _ := literalString(e)
		out[i] = v.AsString()
	}
	return out, true
}

func (ev *evaluator) strMap(attr *hclsyntax.Attribute) (map[string]string, bool, hcl.Diagnostics) {
	v, diags := ev.value(attr.Expr)
	if v == cty.NilVal {
		return nil, false, diags
	}
	m, err := convert.Convert(v, cty.Map(cty.String))
	if err != nil {
		return nil, false, append(diags, typeErr(attr, "a map of strings", nil)...)
	}
	out := make(map[string]string, m.LengthInt())
	for it := m.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() {
			continue
		}
		out[k.AsString()] = e.AsString()
	}
	return out, true, diags
}

// freeMap reads a block whose arguments are arbitrary names (env, meta),
// in the form `meta { a = "b" }`.
func (ev *evaluator) freeMap(body *hclsyntax.Body) (map[string]string, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	for _, b := range body.Blocks {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unexpected block",
			Detail:   fmt.Sprintf("Only name = value arguments may appear here, not a %q block.", b.Type),
			Subject:  b.TypeRange.Ptr(),
		})
	}
	out := make(map[string]string, len(body.Attributes))
	for name, attr := range body.Attributes {
		s, ok, d := ev.str(attr)
		diags = append(diags, d...)
		if ok {
			out[name] = s
		}
	}
	return out, diags
}

// toPlain converts a cty value into the plain JSON values of Task.Config.
func toPlain(v cty.Value, rng hcl.Range) (any, hcl.Diagnostics) {
	if v.IsNull() {
		return nil, nil
	}
	if !v.IsWhollyKnown() {
		return nil, hcl.Diagnostics{unknownDiag(rng)}
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return v.AsString(), nil
	case ty == cty.Bool:
		return v.True(), nil
	case ty == cty.Number:
		f, _ := v.AsBigFloat().Float64()
		if math.IsInf(f, 0) {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Number out of range",
				Detail:   "Driver configuration numbers must fit a 64-bit float.",
				Subject:  rng.Ptr(),
			}}
		}
		return f, nil
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		out := make([]any, 0, v.LengthInt())
		var diags hcl.Diagnostics
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			p, d := toPlain(e, rng)
			diags = append(diags, d...)
			out = append(out, p)
		}
		return out, diags
	case ty.IsMapType() || ty.IsObjectType():
		out := make(map[string]any, v.LengthInt())
		var diags hcl.Diagnostics
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			p, d := toPlain(e, rng)
			diags = append(diags, d...)
			out[k.AsString()] = p
		}
		return out, diags
	}
	return nil, hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Unsupported value",
		Detail:   fmt.Sprintf("A value of type %s cannot be part of a job.", ty.FriendlyName()),
		Subject:  rng.Ptr(),
	}}
}
