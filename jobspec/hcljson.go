package jobspec

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
)

// HCL's JSON syntax (*.nomad.json, *.hcl.json) is read by hcl/v2/json and
// then rebuilt as an hclsyntax tree, so that one decoder, one spec check
// and one budget walk (prepare, keepRuntimeRefs) serve both syntaxes. The
// alternative, generalizing every decoder over hcl.Body, would have
// doubled the code paths the budget protections must cover.
//
// JSON cannot say by itself whether a property is an argument or a block:
// the specs of schema.go decide, as hcl's own JSON decoding does with a
// schema. Properties no spec knows become arguments, so the spec check
// reports them with the same "did you mean" message as in HCL. Strings are
// parsed as templates at their position in the file, so ${var.x} and
// function calls work and errors point into the JSON file (a string with
// escapes shifts the columns inside it).

// IsHCLJSON says whether filename is in HCL's JSON syntax.
func IsHCLJSON(filename string) bool {
	return strings.HasSuffix(filename, ".nomad.json") || strings.HasSuffix(filename, ".hcl.json")
}

// jsonSpecs maps a block type to the spec of its body. Block types absent
// from it (meta, env, config, locals, header, ...) have free-form bodies
// whose properties are all arguments.
var jsonSpecs = func() map[string]*bodySpec {
	m := map[string]*bodySpec{}
	for _, s := range []*bodySpec{
		jobSpec, groupSpec, taskSpec, resourcesSpec, networkSpec, portSpec, serviceSpec,
		checkSpec, constraintSpec, affinitySpec, spreadSpec, targetSpec, periodicSpec,
		parameterizedSpec, templateSpec, lifecycleSpec, variableSpec, validationSpec,
		uiSpec, uiLinkSpec, volumeSpec, volumeMountSpec, scalingSpec, disconnectSpec,
		dispatchPayloadSpec, identitySpec, actionSpec, templateWaitSpec, changeScriptSpec,
		rolloutSpec, updateFlat.spec, migrateFlat.spec, restartFlat.spec, rescheduleFlat.spec,
		diskFlat.spec, logsFlat.spec, checkRestartFlat.spec,
	} {
		m[s.what] = s
	}
	return m
}()

// parseHCLJSON parses src in HCL's JSON syntax into an hclsyntax body. It
// returns the text the body's byte ranges index: src with each string's
// decoded value written over its raw form, so that passes reading the
// source of an expression (keepRuntimeRefs, the budget's messages) see
// template text, not JSON escapes.
func parseHCLJSON(filename string, src []byte) (*hclsyntax.Body, []byte, hcl.Diagnostics) {
	f, diags := hcljson.Parse(src, filename)
	if diags.HasErrors() {
		return nil, src, diags
	}
	c := &jsonConv{src: src, text: bytes.Clone(src), filename: filename}
	body := c.body(f.Body, topSpec, "")
	return body, c.text, append(diags, c.diags...)
}

type jsonConv struct {
	src      []byte
	text     []byte
	filename string
	diags    hcl.Diagnostics
}

// jsonPositions recomputes the line and column of each diagnostic from its
// byte offset in the JSON file: inside a string with escapes, hclsyntax
// counted lines and columns in the decoded value.
func jsonPositions(filename string, src []byte, diags hcl.Diagnostics) {
	fix := func(r *hcl.Range) {
		if r == nil || r.Filename != filename {
			return // a variables file's diagnostic: HCL, already right
		}
		r.Start = posAt(src, r.Start.Byte)
		r.End = posAt(src, r.End.Byte)
	}
	for _, d := range diags {
		fix(d.Subject)
		fix(d.Context)
	}
}

func posAt(src []byte, off int) hcl.Pos {
	off = max(0, min(off, len(src)))
	line := 1 + bytes.Count(src[:off], []byte{'\n'})
	lineStart := bytes.LastIndexByte(src[:off], '\n') + 1
	return hcl.Pos{Line: line, Column: 1 + utf8.RuneCount(src[lineStart:off]), Byte: off}
}

func (c *jsonConv) body(b hcl.Body, spec *bodySpec, what string) *hclsyntax.Body {
	out := &hclsyntax.Body{Attributes: hclsyntax.Attributes{}}
	rng := b.MissingItemRange()
	out.SrcRange, out.EndRange = rng, rng
	if spec == nil {
		attrs, ds := b.JustAttributes()
		c.diags = append(c.diags, ds...)
		for name, a := range attrs {
			out.Attributes[name] = c.attr(a, false)
		}
		return out
	}
	schema := &hcl.BodySchema{}
	for name := range spec.attrs {
		if _, isBlock := spec.blocks[name]; isBlock {
			continue // meta, env, header: the block form reads both
		}
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: name})
	}
	var optional []hcl.BlockHeaderSchema
	for name, labels := range spec.blocks {
		bs := hcl.BlockHeaderSchema{Type: name}
		if labels == optLabel {
			optional = append(optional, bs)
			continue
		}
		for i := 0; i < labels; i++ {
			bs.LabelNames = append(bs.LabelNames, "name")
		}
		schema.Blocks = append(schema.Blocks, bs)
	}
	content, remain, ds := b.PartialContent(schema)
	c.diags = append(c.diags, ds...)
	for name, a := range content.Attributes {
		out.Attributes[name] = c.attr(a, what == "variable" && name == "type")
	}
	for _, blk := range content.Blocks {
		out.Blocks = append(out.Blocks, c.block(blk, blk.Labels, blk.LabelRanges, blk.Body))
	}
	if len(optional) > 0 {
		var oc *hcl.BodyContent
		oc, remain, ds = remain.PartialContent(&hcl.BodySchema{Blocks: optional})
		c.diags = append(c.diags, ds...)
		for _, blk := range oc.Blocks {
			out.Blocks = append(out.Blocks, c.optionalBlock(blk)...)
		}
	}
	// The rest (unknown or Nomad-only names) become arguments, which the
	// spec check then reports by name.
	if rest, ds := remain.JustAttributes(); !ds.HasErrors() {
		for name, a := range rest {
			if _, dup := out.Attributes[name]; !dup {
				out.Attributes[name] = c.attr(a, false)
			}
		}
	}
	// JSON objects have no order; blocks come in file order so that
	// groups and tasks keep the order of the file, as in HCL.
	sortBlocks(out.Blocks)
	return out
}

// optionalBlock reads a block whose label is optional (identity): when
// every property of its object is an argument of the block it is unnamed,
// otherwise each property is a named block.
func (c *jsonConv) optionalBlock(blk *hcl.Block) []*hclsyntax.Block {
	spec := jsonSpecs[blk.Type]
	props, ds := blk.Body.JustAttributes()
	if ds.HasErrors() {
		c.diags = append(c.diags, ds...)
		return nil
	}
	named := false
	for name := range props {
		_, attr := spec.attrs[name]
		_, nomad := spec.nomad[name]
		if !attr && !nomad {
			named = true
		}
	}
	if !named {
		return []*hclsyntax.Block{c.block(blk, nil, nil, blk.Body)}
	}
	schema := &hcl.BodySchema{}
	for name := range props {
		schema.Blocks = append(schema.Blocks, hcl.BlockHeaderSchema{Type: name})
	}
	inner, _, ds := blk.Body.PartialContent(schema)
	c.diags = append(c.diags, ds...)
	var out []*hclsyntax.Block
	for _, ib := range inner.Blocks {
		nb := c.block(&hcl.Block{Type: blk.Type, TypeRange: blk.TypeRange, DefRange: hcl.RangeBetween(blk.TypeRange, ib.TypeRange)},
			[]string{ib.Type}, []hcl.Range{ib.TypeRange}, ib.Body)
		out = append(out, nb)
	}
	return out
}

func sortBlocks(bs hclsyntax.Blocks) {
	for i := 1; i < len(bs); i++ {
		for j := i; j > 0 && bs[j].CloseBraceRange.Start.Byte < bs[j-1].CloseBraceRange.Start.Byte; j-- {
			bs[j], bs[j-1] = bs[j-1], bs[j]
		}
	}
}

func (c *jsonConv) block(blk *hcl.Block, labels []string, ranges []hcl.Range, body hcl.Body) *hclsyntax.Block {
	out := &hclsyntax.Block{
		Type:        blk.Type,
		Labels:      labels,
		TypeRange:   blk.TypeRange,
		LabelRanges: ranges,
	}
	// DefRange() ends at the open brace; the JSON block's definition ends
	// at its last label (or its type).
	def := blk.DefRange
	out.OpenBraceRange = hcl.Range{Filename: def.Filename, Start: def.End, End: def.End}
	out.CloseBraceRange = body.MissingItemRange()
	out.Body = c.body(body, jsonSpecs[blk.Type], blk.Type)
	out.Body.SrcRange = hcl.RangeBetween(def, out.CloseBraceRange)
	return out
}

func (c *jsonConv) attr(a *hcl.Attribute, asExpr bool) *hclsyntax.Attribute {
	return &hclsyntax.Attribute{
		Name:        a.Name,
		Expr:        c.expr(a.Expr, asExpr),
		SrcRange:    a.Range,
		NameRange:   a.NameRange,
		EqualsRange: a.NameRange,
	}
}

// expr rebuilds a JSON value as an hclsyntax expression. asExpr parses a
// string as an HCL expression instead of a template (a variable's type).
func (c *jsonConv) expr(e hcl.Expression, asExpr bool) hclsyntax.Expression {
	rng := e.Range()
	if rng.Start.Byte >= len(c.src) || rng.End.Byte > len(c.src) || rng.Start.Byte >= rng.End.Byte {
		return &hclsyntax.LiteralValueExpr{Val: cty.NullVal(cty.DynamicPseudoType), SrcRange: rng}
	}
	raw := c.src[rng.Start.Byte:rng.End.Byte]
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			c.diags = append(c.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid JSON string", Detail: err.Error(), Subject: rng.Ptr()})
			return &hclsyntax.LiteralValueExpr{Val: cty.DynamicVal, SrcRange: rng}
		}
		start := hcl.Pos{Line: rng.Start.Line, Column: rng.Start.Column + 1, Byte: rng.Start.Byte + 1}
		// The decoded value is never longer than its raw form.
		n := copy(c.text[start.Byte:rng.End.Byte-1], s)
		for i := start.Byte + n; i < rng.End.Byte-1; i++ {
			c.text[i] = ' '
		}
		var x hclsyntax.Expression
		var ds hcl.Diagnostics
		if asExpr {
			x, ds = hclsyntax.ParseExpression([]byte(s), c.filename, start)
		} else {
			x, ds = hclsyntax.ParseTemplate([]byte(s), c.filename, start)
		}
		c.diags = append(c.diags, ds...)
		if ds.HasErrors() {
			return &hclsyntax.LiteralValueExpr{Val: cty.DynamicVal, SrcRange: rng}
		}
		return x
	case '[':
		items, ds := hcl.ExprList(e)
		c.diags = append(c.diags, ds...)
		t := &hclsyntax.TupleConsExpr{SrcRange: rng, OpenRange: hcl.Range{Filename: rng.Filename, Start: rng.Start, End: rng.Start}}
		for _, it := range items {
			t.Exprs = append(t.Exprs, c.expr(it, false))
		}
		return t
	case '{':
		pairs, ds := hcl.ExprMap(e)
		c.diags = append(c.diags, ds...)
		o := &hclsyntax.ObjectConsExpr{SrcRange: rng, OpenRange: hcl.Range{Filename: rng.Filename, Start: rng.Start, End: rng.Start}}
		for _, p := range pairs {
			o.Items = append(o.Items, hclsyntax.ObjectConsItem{
				KeyExpr:   &hclsyntax.ObjectConsKeyExpr{Wrapped: c.expr(p.Key, false)},
				ValueExpr: c.expr(p.Value, false),
			})
		}
		return o
	}
	// Numbers, true, false, null: their value needs no context.
	v, ds := e.Value(nil)
	c.diags = append(c.diags, ds...)
	return &hclsyntax.LiteralValueExpr{Val: v, SrcRange: rng}
}
