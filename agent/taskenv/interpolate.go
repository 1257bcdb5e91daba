package taskenv

import (
	"strings"

	"github.com/droverhq/drover/cluster"
)

// Resolver resolves ${...} runtime references against a task's
// environment and its node.
type Resolver struct {
	env  map[string]string
	node *cluster.Node
}

// NewResolver resolves against env (variables by name, NOMAD_* and
// DROVER_* alike) and in.Node (attr.*, meta.*, node.*).
func NewResolver(in Input, env map[string]string) *Resolver {
	return &Resolver{env: env, node: in.Node}
}

// Lookup resolves one reference, as written between ${ and }.
func (r *Resolver) Lookup(ref string) (string, bool) {
	ref = strings.TrimSpace(ref)
	switch {
	case strings.HasPrefix(ref, "NOMAD_"), strings.HasPrefix(ref, "DROVER_"):
		v, ok := r.env[ref]
		return v, ok
	case strings.HasPrefix(ref, "env."):
		v, ok := r.env[strings.TrimPrefix(ref, "env.")]
		return v, ok
	}
	if r.node == nil {
		return "", false
	}
	if k, ok := strings.CutPrefix(ref, "attr."); ok {
		v, ok := r.node.Attributes[k]
		return v, ok
	}
	if k, ok := strings.CutPrefix(ref, "meta."); ok {
		v, ok := r.node.Meta[k]
		return v, ok
	}
	switch ref {
	case "node.unique.id":
		return r.node.ID, true
	case "node.unique.name":
		return r.node.Name, true
	case "node.datacenter":
		return r.node.Datacenter, true
	case "node.class":
		return r.node.NodeClass, true
	}
	return "", false
}

// Interpolate replaces every ${ref} that resolves; the others stay as
// written, as in Nomad, so a typo shows up verbatim in the task's output
// rather than as an empty string.
func (r *Resolver) Interpolate(s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i+2:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		ref := s[i+2 : i+2+j]
		b.WriteString(s[:i])
		if v, ok := r.Lookup(ref); ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+2+j+1])
		}
		s = s[i+2+j+1:]
	}
}

// InterpolateAny resolves references in every string of a decoded config
// value (strings, lists, maps), returning a new value.
func (r *Resolver) InterpolateAny(v any) any {
	switch x := v.(type) {
	case string:
		return r.Interpolate(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.InterpolateAny(e)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = r.Interpolate(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = r.InterpolateAny(e)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(x))
		for k, e := range x {
			out[k] = r.Interpolate(e)
		}
		return out
	}
	return v
}
