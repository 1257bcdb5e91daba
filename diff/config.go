package diff

import (
	"sort"
	"strconv"
)

// configAttrs flattens a driver config into one attribute per leaf, as
// Nomad's plan does: `ports[0]`, `mount[0].source`. Every leaf under a key
// that looks secret is secret, however deep; so is a leaf whose value
// holds a URL with a password.
func configAttrs(cfg map[string]any, s secrets) []attr {
	if len(cfg) == 0 {
		return nil
	}
	var out []attr
	flatten("", cfg, false, s, &out)
	return out
}

func flatten(p string, v any, secret bool, s secrets, out *[]attr) {
	leaf := func(value string) {
		*out = append(*out, attr{name: p, seg: p, value: value, secret: secret || s.value(value), force: destructive})
	}
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			leaf("{}")
			return
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			flatten(joinPath(p, k), x[k], secret || s.key(k), s, out)
		}
	case []any:
		if len(x) == 0 {
			leaf("[]")
			return
		}
		for i, e := range x {
			flatten(p+"["+strconv.Itoa(i)+"]", e, secret, s, out)
		}
	case []map[string]any:
		if len(x) == 0 {
			leaf("[]")
			return
		}
		for i, e := range x {
			flatten(p+"["+strconv.Itoa(i)+"]", e, secret, s, out)
		}
	case []string:
		if len(x) == 0 {
			leaf("[]")
			return
		}
		for i, e := range x {
			flatten(p+"["+strconv.Itoa(i)+"]", e, secret, s, out)
		}
	default:
		leaf(fmtScalar(v))
	}
}
