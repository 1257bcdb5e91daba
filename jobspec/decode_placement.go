package jobspec

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// shorthandOps are constraint arguments that name the operator and carry
// the value, as Nomad allows: regexp = "^lin" is operator "regexp", value
// "^lin".
var shorthandOps = []string{
	"distinct_hosts", "distinct_property", "regexp", "version", "semver",
	"set_contains", "set_contains_any", "set_contains_all",
}

var affinityShorthands = []string{"version", "semver", "regexp", "set_contains_all", "set_contains_any"}

var constraintOps = []string{
	"=", "!=", ">", ">=", "<", "<=", "distinct_hosts", "distinct_property",
	"regexp", "version", "semver", "set_contains", "set_contains_all",
	"set_contains_any", "is_set", "is_not_set",
}

var affinityOps = []string{
	"=", "!=", ">", ">=", "<", "<=", "regexp", "version", "semver",
	"set_contains", "set_contains_all", "set_contains_any",
}

// opAliases are Nomad's spellings of the same operator, normalised so that
// they hash the same.
var opAliases = map[string]string{"==": "=", "is": "=", "not": "!="}

// placement is what constraint and affinity blocks share.
type placement struct {
	attribute, operator, value string
	// opAttr is where the operator was set, for error positions.
	opAttr *hclsyntax.Attribute
	// valueRange is where the value was set.
	valueRange hcl.Range
}

func decodePlacement(ev *evaluator, b *hclsyntax.Block, shorthands []string) (placement, bool, hcl.Diagnostics) {
	body := b.Body
	var diags hcl.Diagnostics
	p := placement{operator: "=", valueRange: b.DefRange()}
	diags = append(diags, setStr(ev, body, "attribute", &p.attribute)...)
	if a := body.Attributes["value"]; a != nil {
		diags = append(diags, setStr(ev, body, "value", &p.value)...)
		p.valueRange = a.Expr.Range()
	}
	if a := body.Attributes["operator"]; a != nil {
		diags = append(diags, setStr(ev, body, "operator", &p.operator)...)
		p.opAttr = a
	}
	var short *hclsyntax.Attribute
	for _, name := range shorthands {
		a := body.Attributes[name]
		if a == nil {
			continue
		}
		if short != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Conflicting operators",
				Detail:   fmt.Sprintf("%q and %q each set the operator; use one.", short.Name, name),
				Subject:  a.NameRange.Ptr(),
			})
			continue
		}
		short = a
	}
	if short == nil {
		if alias, ok := opAliases[p.operator]; ok {
			p.operator = alias
		}
		return p, true, diags
	}
	if p.opAttr != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Conflicting operators",
			Detail:   fmt.Sprintf("%q sets the operator already; remove \"operator\".", short.Name),
			Subject:  p.opAttr.NameRange.Ptr(),
		})
	}
	p.operator, p.opAttr = short.Name, short
	switch short.Name {
	case "distinct_hosts":
		on, ok, ds := ev.boolean(short)
		diags = append(diags, ds...)
		// distinct_hosts = false means no constraint at all, as in Nomad.
		return p, ok && on, diags
	case "distinct_property":
		// The shorthand names the property; "value" stays the limit.
		diags = append(diags, setStr(ev, body, short.Name, &p.attribute)...)
	default:
		diags = append(diags, setStr(ev, body, short.Name, &p.value)...)
		p.valueRange = short.Expr.Range()
	}
	return p, true, diags
}

func decodeConstraint(ev *evaluator, b *hclsyntax.Block) (*Constraint, hcl.Diagnostics) {
	diags := constraintSpec.check(b.Body, b.DefRange())
	p, keep, ds := decodePlacement(ev, b, shorthandOps)
	diags = append(diags, ds...)
	if !keep || hasUnknown(ds) {
		// An unset variable was reported where it failed; checking what
		// is left would only report it again.
		return nil, diags
	}
	diags = append(diags, p.validate(b, constraintOps)...)
	switch p.operator {
	case "distinct_hosts":
		// Nomad's spellings: distinct_hosts = true, or operator =
		// "distinct_hosts" with no value or a boolean value; "false"
		// turns the constraint off and a value that is no boolean
		// enforces it (scheduler.hasDistinctHostsConstraint). The
		// attribute means nothing to it. Stored in one form.
		if p.value != "" {
			on, err := strconv.ParseBool(p.value)
			if err == nil && !on {
				return nil, diags
			}
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagWarning,
					Summary:  "distinct_hosts value is not a boolean",
					Detail:   fmt.Sprintf("%q is not true or false; like Nomad, Drover enforces the constraint. Write value = \"true\", or leave value out.", p.value),
					Subject:  p.valueRange.Ptr(),
				})
			}
		}
		if p.attribute != "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "distinct_hosts ignores attribute",
				Detail:   "A distinct_hosts constraint spreads allocations over nodes; its attribute is ignored, as in Nomad. Remove it.",
				Subject:  b.Body.Attributes["attribute"].NameRange.Ptr(),
			})
		}
		p.attribute, p.value = "", ""
	case "distinct_property":
		// An optional limit: how many allocations may share one value.
		if p.value != "" {
			if n, err := strconv.ParseUint(p.value, 10, 31); err != nil || n < 1 {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid distinct_property limit",
					Detail:   fmt.Sprintf("The value of a distinct_property constraint is how many allocations may share one value of the property: a whole number of at least 1, not %q.", p.value),
					Subject:  p.valueRange.Ptr(),
				})
			}
		}
	case "is_set", "is_not_set":
	default:
		if p.value == "" {
			diags = append(diags, missingArg(b, "value", "constraint with operator "+fmt.Sprintf("%q", p.operator)))
		}
	}
	return &Constraint{Attribute: p.attribute, Operator: p.operator, Value: p.value}, diags
}

// validate checks what constraints and affinities share.
func (p placement) validate(b *hclsyntax.Block, ops []string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if p.opAttr != nil && p.opAttr.Name == "operator" {
		diags = append(diags, checkEnum(p.opAttr, p.operator, ops)...)
	}
	if p.attribute == "" && p.operator != "distinct_hosts" {
		diags = append(diags, missingArg(b, "attribute", b.Type))
	}
	if p.operator == "regexp" && p.value != "" {
		if _, err := regexp.Compile(p.value); err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid regular expression",
				Detail:   err.Error(),
				Subject:  p.valueRange.Ptr(),
			})
		}
	}
	return diags
}

func decodeAffinity(ev *evaluator, b *hclsyntax.Block) (*Affinity, hcl.Diagnostics) {
	diags := affinitySpec.check(b.Body, b.DefRange())
	p, _, ds := decodePlacement(ev, b, affinityShorthands)
	diags = append(diags, ds...)
	if hasUnknown(ds) {
		return nil, diags
	}
	diags = append(diags, p.validate(b, affinityOps)...)
	if p.value == "" {
		diags = append(diags, missingArg(b, "value", "affinity"))
	}
	a := &Affinity{Attribute: p.attribute, Operator: p.operator, Value: p.value, Weight: defaultWeight}
	if w := b.Body.Attributes["weight"]; w != nil {
		n, ok, ds := ev.integer(w, -100, 100)
		diags = append(diags, ds...)
		if ok {
			a.Weight = n
			if n == 0 {
				diags = append(diags, typeErr(w, "a non-zero weight from -100 to 100", nil)...)
			}
		}
	}
	return a, diags
}

func decodeSpread(ev *evaluator, b *hclsyntax.Block) (*Spread, hcl.Diagnostics) {
	body := b.Body
	diags := spreadSpec.check(body, b.DefRange())
	s := &Spread{Weight: defaultWeight}
	diags = append(diags, setStr(ev, body, "attribute", &s.Attribute)...)
	if w := body.Attributes["weight"]; w != nil {
		n, ok, ds := ev.integer(w, 1, 100)
		diags = append(diags, ds...)
		if ok {
			s.Weight = n
		}
	}
	total := 0
	seen := map[string]bool{}
	for _, tb := range body.Blocks {
		if tb.Type != "target" || !usable(tb, 1) {
			continue
		}
		diags = append(diags, targetSpec.check(tb.Body, tb.DefRange())...)
		t := SpreadTarget{Value: tb.Labels[0]}
		if seen[t.Value] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate spread target",
				Detail:   fmt.Sprintf("Target %q appears more than once.", t.Value),
				Subject:  tb.LabelRanges[0].Ptr(),
			})
		}
		seen[t.Value] = true
		if a := tb.Body.Attributes["percent"]; a != nil {
			n, ok, ds := ev.integer(a, 0, 100)
			diags = append(diags, ds...)
			if ok {
				t.Percent = n
				total += n
				if total > 100 {
					diags = append(diags, typeErr(a, "a share that keeps the targets' total at or below 100", nil)...)
				}
			}
		}
		s.Targets = append(s.Targets, t)
	}
	return s, diags
}
