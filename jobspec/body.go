package jobspec

import (
	"fmt"
	"sort"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// bodySpec is the shape of one kind of block: what it may contain and
// which of Nomad's arguments and blocks Drover knowingly rejects. Specs are
// built once at package init and never change, so parses share them.
type bodySpec struct {
	what   string            // "job", "task", ... for messages
	attrs  map[string]bool   // supported argument -> required
	blocks map[string]int    // supported block type -> number of labels
	single map[string]bool   // block types that may appear at most once
	nomad  map[string]string // known to Nomad, not to Drover -> hint
}

type specOpts struct {
	attrs    []string
	required []string
	blocks   map[string]int
	single   []string
	nomad    map[string]string
}

func newSpec(what string, o specOpts) *bodySpec {
	s := &bodySpec{
		what:   what,
		attrs:  map[string]bool{},
		blocks: o.blocks,
		single: map[string]bool{},
		nomad:  o.nomad,
	}
	if s.blocks == nil {
		s.blocks = map[string]int{}
	}
	if s.nomad == nil {
		s.nomad = map[string]string{}
	}
	for _, a := range o.attrs {
		s.attrs[a] = false
	}
	for _, a := range o.required {
		s.attrs[a] = true
	}
	for _, b := range o.single {
		s.single[b] = true
	}
	return s
}

// check reports every argument and block of body that the spec does not
// allow, missing required arguments, label counts and repeated singleton
// blocks. Decoders then read body.Attributes and body.Blocks directly and
// skip whatever check complained about (see usable).
func (s *bodySpec) check(body *hclsyntax.Body, def hcl.Range) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for name, attr := range body.Attributes {
		if _, ok := s.attrs[name]; ok {
			if _, isBlock := s.blocks[name]; isBlock {
				for _, b := range body.Blocks {
					if b.Type == name {
						diags = append(diags, &hcl.Diagnostic{
							Severity: hcl.DiagError,
							Summary:  fmt.Sprintf("Duplicate %s", name),
							Detail:   fmt.Sprintf("%q is set both as an argument and as a block; use one.", name),
							Subject:  b.TypeRange.Ptr(),
							Context:  hcl.RangeBetween(attr.NameRange, b.TypeRange).Ptr(),
						})
					}
				}
			}
			continue
		}
		if hint, ok := s.nomad[name]; ok {
			diags = append(diags, unsupportedDiag("argument", name, s.what, hint, attr.NameRange))
			continue
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unsupported argument",
			Detail:   fmt.Sprintf("An argument named %q is not expected in a %s block.%s", name, s.what, s.suggestAttr(name)),
			Subject:  attr.NameRange.Ptr(),
		})
	}
	for name, required := range s.attrs {
		if required && body.Attributes[name] == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing required argument",
				Detail:   fmt.Sprintf("The argument %q is required in a %s block.", name, s.what),
				Subject:  def.Ptr(),
			})
		}
	}
	// The first of each singleton block type: a handful at most, so a
	// slice searched in order, which costs no map per body.
	type first struct {
		typ string
		rng hcl.Range
	}
	var seen []first
	for _, b := range body.Blocks {
		labels, ok := s.blocks[b.Type]
		if !ok {
			if hint, known := s.nomad[b.Type]; known {
				diags = append(diags, unsupportedDiag("block", b.Type, s.what, hint, b.DefRange()))
				continue
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported block type",
				Detail:   fmt.Sprintf("Blocks of type %q are not expected in a %s block.%s", b.Type, s.what, s.suggestBlock(b.Type)),
				Subject:  b.TypeRange.Ptr(),
			})
			continue
		}
		diags = append(diags, checkLabels(b, labels)...)
		if s.single[b.Type] {
			dup := false
			for _, f := range seen {
				if f.typ == b.Type {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  fmt.Sprintf("Duplicate %s block", b.Type),
						Detail:   fmt.Sprintf("A %s block may have only one %s block; the first one is at %s.", s.what, b.Type, f.rng),
						Subject:  b.DefRange().Ptr(),
					})
					dup = true
					break
				}
			}
			if !dup {
				seen = append(seen, first{b.Type, b.DefRange()})
			}
		}
	}
	return diags
}

// optLabel, as a block's label count, lets the block take one name or
// none (identity: unnamed is the "default" identity).
const optLabel = -1

// usable says whether a decoder should read block b: check has already
// reported blocks with the wrong number of labels.
func usable(b *hclsyntax.Block, labels int) bool {
	if labels == optLabel {
		return len(b.Labels) <= 1
	}
	return len(b.Labels) == labels
}

func checkLabels(b *hclsyntax.Block, want int) hcl.Diagnostics {
	got := len(b.Labels)
	if want == optLabel {
		if got <= 1 {
			return nil
		}
		want = 1
	}
	if b.Type == "scaling" && got > want {
		// Nomad's scaling "cpu" / "mem" (Dynamic Application Sizing) is
		// an Enterprise feature; say so rather than "extraneous label".
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Drover does not support scaling %q", b.Labels[0]),
			Detail:   hintDAS,
			Subject:  b.LabelRanges[0].Ptr(),
			Context:  b.DefRange().Ptr(),
		}}
	}
	switch {
	case got < want:
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Missing name for %s", b.Type),
			Detail:   fmt.Sprintf("A %s block needs a name: %s \"name\" { ... }.", b.Type, b.Type),
			Subject:  b.OpenBraceRange.Ptr(),
			Context:  b.DefRange().Ptr(),
		}}
	case got > want:
		r := b.LabelRanges[want]
		detail := fmt.Sprintf("A %s block takes no name.", b.Type)
		if want > 0 {
			detail = fmt.Sprintf("A %s block takes exactly %d name.", b.Type, want)
		}
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Extraneous label for %s", b.Type),
			Detail:   detail,
			Subject:  r.Ptr(),
			Context:  b.DefRange().Ptr(),
		}}
	}
	return nil
}

func unsupportedDiag(kind, name, in, hint string, rng hcl.Range) *hcl.Diagnostic {
	detail := fmt.Sprintf("Nomad accepts the %q %s in a %s block, but Drover does not support it.", name, kind, in)
	if hint != "" {
		detail += " " + hint
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Drover does not support the %q %s", name, kind),
		Detail:   detail,
		Subject:  rng.Ptr(),
	}
}

// unsupportedValue rejects a value Nomad accepts for an argument but
// Drover does not, such as a check type.
func unsupportedValue(arg, value, hint string, rng hcl.Range) *hcl.Diagnostic {
	detail := fmt.Sprintf("Nomad accepts %s = %q, but Drover does not support it.", arg, value)
	if hint != "" {
		detail += " " + hint
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Drover does not support %s %q", arg, value),
		Detail:   detail,
		Subject:  rng.Ptr(),
	}
}

func (s *bodySpec) suggestAttr(name string) string {
	if sug := suggest(name, s.attrs); sug != "" {
		return fmt.Sprintf(" Did you mean %q?", sug)
	}
	if _, ok := s.blocks[name]; ok {
		return fmt.Sprintf(" Did you mean to define a block of type %q?", name)
	}
	return ""
}

func (s *bodySpec) suggestBlock(name string) string {
	if sug := suggest(name, s.blocks); sug != "" {
		return fmt.Sprintf(" Did you mean %q?", sug)
	}
	if _, ok := s.attrs[name]; ok {
		return fmt.Sprintf(" Did you mean to define argument %q? If so, use the equals sign to assign it a value.", name)
	}
	return ""
}

// suggest returns the closest candidate within edit distance 2, the same
// threshold hcl uses for its own suggestions. Candidates are sorted so the
// choice between equally close names does not depend on map order.
func suggest[V any](given string, candidates map[string]V) string {
	names := make([]string, 0, len(candidates))
	for n := range candidates {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestDist := "", 3
	for _, n := range names {
		if d := levenshtein.Distance(given, n, nil); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}
