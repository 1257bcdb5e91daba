package jobspec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var (
	variableSpec = newSpec("variable", specOpts{
		attrs:  []string{"type", "default", "description"},
		blocks: map[string]int{"validation": 0},
		nomad: map[string]string{"sensitive": "Drover does not hide variable values: they become part of the stored job and its plans. " +
			"Keep secrets out of job files (render them in a template from the node's environment) and remove sensitive."},
	})
	validationSpec = newSpec("validation", specOpts{
		required: []string{"condition", "error_message"},
	})
)

// Environment variable prefixes, lowest precedence first: a Drover-specific
// value overrides a Nomad one for the same variable.
var envPrefixes = [...]string{"NOMAD_VAR_", "DROVER_VAR_"}

type variableDecl struct {
	name     string
	block    *hclsyntax.Block
	ty       cty.Type
	defaults *typeexpr.Defaults
	val      cty.Value
	valRange hcl.Range // where the effective value was set
}

// assignment is a value for a variable from outside the job file.
type assignment struct {
	raw  string               // from -var or the environment: needs parsing
	expr hclsyntax.Expression // from a var file
	rng  hcl.Range
}

// evalVariables resolves every declared variable: default, then
// environment, then var files in order, then -var. Values for variables
// the file does not declare are ignored, so one var file can serve many
// jobs.
func evalVariables(blocks []*hclsyntax.Block, opts *ParseOptions, m *meter) (map[string]cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	decls := make(map[string]*variableDecl, len(blocks))
	order := make([]*variableDecl, 0, len(blocks))
	for _, b := range blocks {
		d, ds := declareVariable(b, m)
		diags = append(diags, ds...)
		if d == nil {
			continue
		}
		if prev, dup := decls[d.name]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate variable declaration",
				Detail:   fmt.Sprintf("Variable %q was already declared at %s.", d.name, prev.block.DefRange()),
				Subject:  b.DefRange().Ptr(),
			})
			continue
		}
		decls[d.name] = d
		order = append(order, d)
	}
	if len(order) == 0 {
		return map[string]cty.Value{}, diags
	}

	assigned, ds := collectAssignments(decls, opts)
	diags = append(diags, ds...)

	vals := make(map[string]cty.Value, len(order))
	for _, d := range order {
		if a, ok := assigned[d.name]; ok {
			v, ds := a.value(d, m)
			diags = append(diags, ds...)
			if ds.HasErrors() {
				vals[d.name] = cty.DynamicVal
				continue
			}
			d.val, d.valRange = v, a.rng
		}
		if d.val == cty.NilVal {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unset variable",
				Detail:   fmt.Sprintf("Variable %q has no default and no value was given; set it with -var '%s=...', in a file given with -var-file, or in the NOMAD_VAR_%s (or DROVER_VAR_%s) environment variable, or give it a default.", d.name, d.name, d.name, d.name),
				Subject:  d.block.DefRange().Ptr(),
			})
			vals[d.name] = cty.DynamicVal
			continue
		}
		diags = append(diags, d.validate(m)...)
		vals[d.name] = d.val
	}
	return vals, diags
}

func declareVariable(b *hclsyntax.Block, m *meter) (*variableDecl, hcl.Diagnostics) {
	diags := variableSpec.check(b.Body, b.DefRange())
	if !usable(b, 1) {
		return nil, diags
	}
	name := b.Labels[0]
	if !hclsyntax.ValidIdentifier(name) {
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid variable name",
			Detail:   "A variable name must start with a letter or underscore and contain only letters, digits, underscores and dashes.",
			Subject:  b.LabelRanges[0].Ptr(),
		})
	}
	d := &variableDecl{name: name, block: b, ty: cty.DynamicPseudoType}
	if a := b.Body.Attributes["type"]; a != nil {
		ty, defaults, ds := typeexpr.TypeConstraintWithDefaults(a.Expr)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			d.ty, d.defaults = ty, defaults
		}
	}
	if a := b.Body.Attributes["default"]; a != nil {
		v, ds := m.evalStatic(a.Expr, false)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			v, ds = d.convert(v, a.Expr.Range())
			diags = append(diags, ds...)
			if !ds.HasErrors() {
				d.val, d.valRange = v, a.Expr.Range()
			}
		}
	}
	return d, diags
}

func (d *variableDecl) convert(v cty.Value, rng hcl.Range) (cty.Value, hcl.Diagnostics) {
	if d.defaults != nil {
		v = d.defaults.Apply(v)
	}
	out, err := convert.Convert(v, d.ty)
	if err != nil {
		return cty.NilVal, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid value for variable %q", d.name),
			Detail:   fmt.Sprintf("The value must be of type %s: %s.", typeexpr.TypeString(d.ty), err),
			Subject:  rng.Ptr(),
		}}
	}
	return out, nil
}

// validate runs the variable's validation blocks with only the variable
// itself in scope, as Terraform and Nomad do.
func (d *variableDecl) validate(m *meter) hcl.Diagnostics {
	var diags hcl.Diagnostics
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{d.name: d.val})},
		Functions: m.funcs,
	}
	for _, vb := range d.block.Body.Blocks {
		if vb.Type != "validation" || !usable(vb, 0) {
			continue
		}
		ds := validationSpec.check(vb.Body, vb.DefRange())
		diags = append(diags, ds...)
		cond, msg := vb.Body.Attributes["condition"], vb.Body.Attributes["error_message"]
		if ds.HasErrors() || cond == nil || msg == nil {
			continue
		}
		ok, ds := m.eval(cond.Expr, ctx)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		if ok.IsNull() || !ok.IsKnown() || ok.Type() != cty.Bool {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid validation condition",
				Detail:   "The condition must be true or false.",
				Subject:  cond.Expr.Range().Ptr(),
			})
			continue
		}
		if ok.True() {
			continue
		}
		text := "The value is not valid."
		if v, ds := msg.Expr.Value(m.staticCtx()); !ds.HasErrors() && v.IsWhollyKnown() && v.Type() == cty.String && !v.IsNull() {
			text = v.AsString()
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid value for variable %q", d.name),
			Detail:   text,
			Subject:  d.valRange.Ptr(),
			Context:  vb.DefRange().Ptr(),
		})
	}
	return diags
}

func collectAssignments(decls map[string]*variableDecl, opts *ParseOptions) (map[string]assignment, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	out := map[string]assignment{}
	if opts == nil {
		return out, nil
	}
	for _, prefix := range envPrefixes {
		for _, kv := range opts.Environ {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || !strings.HasPrefix(k, prefix) {
				continue
			}
			name := k[len(prefix):]
			if decls[name] != nil {
				out[name] = assignment{raw: v, rng: hcl.Range{Filename: "<environment " + k + ">"}}
			}
		}
	}
	for _, vf := range opts.VarFiles {
		attrs, ds := parseVarFile(vf)
		diags = append(diags, ds...)
		for _, a := range attrs {
			if decls[a.Name] != nil {
				out[a.Name] = assignment{expr: a.Expr, rng: a.Expr.Range()}
			}
		}
	}
	names := make([]string, 0, len(opts.Vars))
	for name := range opts.Vars {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if decls[name] != nil {
			out[name] = assignment{raw: opts.Vars[name], rng: hcl.Range{Filename: "<value for var." + name + ">"}}
		}
	}
	return out, diags
}

// parseVarFile returns the file's assignments in source order.
func parseVarFile(vf VarFile) ([]*hclsyntax.Attribute, hcl.Diagnostics) {
	if diags := checkInput(vf.Name, vf.Src); diags.HasErrors() {
		return nil, diags
	}
	f, diags := hclsyntax.ParseConfig(vf.Src, vf.Name, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	body := f.Body.(*hclsyntax.Body)
	for _, b := range body.Blocks {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unexpected block in variables file",
			Detail:   "A variables file holds only name = value assignments.",
			Subject:  b.DefRange().Ptr(),
		})
	}
	attrs := make([]*hclsyntax.Attribute, 0, len(body.Attributes))
	for _, a := range body.Attributes {
		attrs = append(attrs, a)
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].SrcRange.Start.Byte < attrs[j].SrcRange.Start.Byte })
	return attrs, diags
}

// value turns an assignment into a value of the variable's type. A raw
// string is taken literally for string (and untyped) variables and parsed
// as an HCL expression otherwise, so -var count=3 gives a number.
func (a assignment) value(d *variableDecl, m *meter) (cty.Value, hcl.Diagnostics) {
	if a.expr != nil {
		v, diags := m.evalStatic(a.expr, true)
		if diags.HasErrors() {
			return cty.NilVal, diags
		}
		return d.convert(v, a.rng)
	}
	if d.ty == cty.String || d.ty == cty.DynamicPseudoType {
		return cty.StringVal(a.raw), nil
	}
	src := []byte(a.raw)
	if diags := checkInput(a.rng.Filename, src); diags.HasErrors() {
		return cty.NilVal, diags
	}
	expr, diags := hclsyntax.ParseExpression(src, a.rng.Filename, hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	v, diags := m.evalStatic(expr, true)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	return d.convert(v, a.rng)
}
