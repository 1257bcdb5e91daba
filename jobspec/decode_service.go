package jobspec

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Nomad's lower bounds for check timing (structs.minCheckInterval and
// minCheckTimeout).
const (
	minCheckInterval = time.Second
	minCheckTimeout  = time.Second
)

// decodeService reads a group or task service. defaultName is Nomad's
// default, job-group[-task]. The port references it returns are checked by
// the group, which knows the network.
func decodeService(ev *evaluator, b *hclsyntax.Block, defaultName string, groupLevel bool) (*Service, []portRef, hcl.Diagnostics) {
	body := b.Body
	diags := serviceSpec.check(body, b.DefRange())
	s := &Service{Name: defaultName, Provider: "nomad"}
	diags = append(diags, setStr(ev, body, "name", &s.Name)...)
	if s.Name == "" {
		diags = append(diags, typeErr(body.Attributes["name"], "a non-empty service name", nil)...)
	}
	var refs []portRef
	if a := body.Attributes["port"]; a != nil {
		p, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			s.Port = p
			refs = append(refs, portRef{a, p})
		}
	}
	if a := body.Attributes["provider"]; a != nil {
		p, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			switch p {
			case "nomad":
			case "consul":
				diags = append(diags, unsupportedValue("provider", "consul", hintConsul, a.Expr.Range()))
			default:
				diags = append(diags, checkEnum(a, p, []string{"nomad"})...)
			}
			s.Provider = p
		}
	}
	if a := body.Attributes["task"]; a != nil {
		if !groupLevel {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  `Unexpected "task" in a task service`,
				Detail:   `Only a group-level service names the task its checks run in.`,
				Subject:  a.NameRange.Ptr(),
			})
		} else {
			diags = append(diags, setStr(ev, body, "task", &s.Task)...)
		}
	}
	for _, f := range []named[[]string]{{"tags", &s.Tags}, {"canary_tags", &s.CanaryTags}} {
		name, dst := f.name, f.dst
		if a := body.Attributes[name]; a != nil {
			l, ok, ds := ev.strList(a)
			diags = append(diags, ds...)
			if ok && len(l) > 0 {
				*dst = l
			}
		}
	}
	var ds hcl.Diagnostics
	s.Meta, ds = decodeFreeMap(ev, body, "meta")
	diags = append(diags, ds...)
	diags = append(diags, decodeAddressModeOnUpdate(ev, body, serviceAddressModes, &s.AddressMode, &s.OnUpdate)...)
	for _, rb := range body.Blocks {
		if rb.Type == "check_restart" && usable(rb, 0) {
			p, ds := checkRestartFlat.decode(ev, rb)
			diags = append(diags, ds...)
			cr := p.apply(CheckRestart{})
			s.CheckRestart = &cr
		}
	}
	for _, cb := range body.Blocks {
		if cb.Type != "check" || !usable(cb, 0) {
			continue
		}
		c, r, ds := decodeCheck(ev, cb, s.Name, groupLevel)
		diags = append(diags, ds...)
		refs = append(refs, r...)
		if c != nil {
			s.Checks = append(s.Checks, *c)
		}
	}
	return s, refs, diags
}

func decodeCheck(ev *evaluator, b *hclsyntax.Block, service string, groupLevel bool) (*Check, []portRef, hcl.Diagnostics) {
	body := b.Body
	diags := checkSpec.check(body, b.DefRange())
	c := &Check{Name: fmt.Sprintf(defaultServiceCheck, service)}
	if a := body.Attributes["type"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			switch s {
			case "grpc", "ttl":
				diags = append(diags, unsupportedValue("type", s, "Use http, tcp or script.", a.Expr.Range()))
			default:
				diags = append(diags, checkEnum(a, s, []string{"http", "tcp", "script"})...)
			}
			c.Type = s
		}
	} else {
		diags = append(diags, missingArg(b, "type", "check"))
	}
	for _, f := range []named[string]{
		{"name", &c.Name}, {"path", &c.Path}, {"method", &c.Method}, {"protocol", &c.Protocol},
		{"command", &c.Command}, {"task", &c.Task}, {"initial_status", &c.InitialStatus},
	} {
		name, dst := f.name, f.dst
		diags = append(diags, setStr(ev, body, name, dst)...)
	}
	if a := body.Attributes["initial_status"]; a != nil && c.InitialStatus != "" {
		diags = append(diags, checkEnum(a, c.InitialStatus, []string{"passing", "warning", "critical"})...)
	}
	var refs []portRef
	if a := body.Attributes["port"]; a != nil {
		p, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			c.Port = p
			refs = append(refs, portRef{a, p})
		}
	}
	if a := body.Attributes["args"]; a != nil {
		l, ok, ds := ev.strList(a)
		diags = append(diags, ds...)
		if ok && len(l) > 0 {
			c.Args = l
		}
	}
	for _, f := range []named[time.Duration]{{"interval", &c.Interval}, {"timeout", &c.Timeout}} {
		name, dst := f.name, f.dst
		a := body.Attributes[name]
		if a == nil {
			diags = append(diags, missingArg(b, name, "check"))
			continue
		}
		d, ok, ds := ev.duration(a)
		diags = append(diags, ds...)
		if ok {
			*dst = d
			if d < minCheckInterval {
				diags = append(diags, typeErr(a, "at least 1s", nil)...)
			}
		}
	}
	diags = append(diags, decodeAddressModeOnUpdate(ev, body, checkAddressModes, &c.AddressMode, &c.OnUpdate)...)
	var ds hcl.Diagnostics
	c.Header, ds = decodeHeader(ev, body)
	diags = append(diags, ds...)
	for _, rb := range body.Blocks {
		if rb.Type == "check_restart" && usable(rb, 0) {
			p, ds := checkRestartFlat.decode(ev, rb)
			diags = append(diags, ds...)
			cr := p.apply(CheckRestart{})
			c.CheckRestart = &cr
		}
	}

	switch c.Type {
	case "http":
		if c.Path == "" {
			diags = append(diags, missingArg(b, "path", "http check"))
		}
		// Nomad's defaults, spelled out so that the hash does not depend
		// on whether the file does.
		if c.Method == "" {
			c.Method = "GET"
		}
		if c.Protocol == "" {
			c.Protocol = "http"
		}
	case "script":
		if c.Command == "" {
			diags = append(diags, missingArg(b, "command", "script check"))
		}
		if groupLevel && c.Task == "" {
			diags = append(diags, missingArg(b, "task", "script check of a group service"))
		}
	}
	return c, refs, diags
}

func missingArg(b *hclsyntax.Block, name, in string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Missing required argument",
		Detail:   fmt.Sprintf("The argument %q is required in a %s.", name, in),
		Subject:  b.DefRange().Ptr(),
	}
}

// decodeHeader reads HTTP check headers, a map of lists of strings, as an
// argument or as a block.
func decodeHeader(ev *evaluator, body *hclsyntax.Body) (map[string][]string, hcl.Diagnostics) {
	var attrs []*hclsyntax.Attribute
	if a := body.Attributes["header"]; a != nil {
		v, diags := ev.value(a.Expr)
		if v == cty.NilVal {
			return nil, diags
		}
		m, err := convert.Convert(v, cty.Map(cty.List(cty.String)))
		if err != nil {
			return nil, append(diags, typeErr(a, "a map of lists of strings", nil)...)
		}
		out := map[string][]string{}
		for it := m.ElementIterator(); it.Next(); {
			k, l := it.Element()
			for li := l.ElementIterator(); li.Next(); {
				_, e := li.Element()
				if !e.IsNull() {
					out[k.AsString()] = append(out[k.AsString()], e.AsString())
				}
			}
		}
		return out, diags
	}
	for _, b := range body.Blocks {
		if b.Type == "header" && usable(b, 0) {
			for _, a := range b.Body.Attributes {
				attrs = append(attrs, a)
			}
		}
	}
	if len(attrs) == 0 {
		return nil, nil
	}
	var diags hcl.Diagnostics
	out := make(map[string][]string, len(attrs))
	for _, a := range attrs {
		l, ok, ds := ev.strList(a)
		diags = append(diags, ds...)
		if ok {
			out[a.Name] = l
		}
	}
	return out, diags
}
