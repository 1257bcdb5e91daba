package drivers

import (
	"fmt"
	"maps"
	"slices"
)

// Nested blocks reach a driver the way jobspec decodes them, the shape
// Nomad's drivers expect: every `mount { ... }` block becomes one object in
// a list under "mount", so a config holds "mount": []any{map[string]any{…}}.
// Map attributes that Nomad job files write as blocks (`labels { … }`,
// `port_map { … }`) arrive the same way, which is what BlockForm accepts.

// checkAttr checks v against a, adding blocks and the block form of maps
// to what checkType knows.
func checkAttr(path string, a Attribute, v any) []SchemaError {
	switch {
	case a.Type == TypeBlock:
		return checkBlocks(path, a, v)
	case a.Type == TypeMapNumber:
		if l, ok := v.([]any); ok && a.BlockForm {
			return eachBlock(path, l, func(p string, m map[string]any) []SchemaError { return checkNumberMap(p, m) })
		}
		m, ok := v.(map[string]any)
		if !ok {
			if _, ok := v.(map[string]int); ok {
				return nil
			}
			return []SchemaError{{Path: path, Msg: fmt.Sprintf("must be %s, not %s", a.Type, describe(v))}}
		}
		return checkNumberMap(path, m)
	case a.Type == TypeMapString && a.BlockForm:
		if l, ok := v.([]any); ok {
			return eachBlock(path, l, func(p string, m map[string]any) []SchemaError { return checkType(p, TypeMapString, m) })
		}
	case a.Type == TypeString && len(a.Values) > 0:
		if s, ok := v.(string); ok && !slices.Contains(a.Values, s) {
			msg := fmt.Sprintf("%q is not one of %q", s, a.Values)
			if a.ValuesHint != "" {
				msg += "; " + a.ValuesHint
			}
			return []SchemaError{{Path: path, Msg: msg}}
		}
	}
	return checkType(path, a.Type, v)
}

func checkBlocks(path string, a Attribute, v any) []SchemaError {
	var blocks []map[string]any
	switch b := v.(type) {
	case []any:
		for i, e := range b {
			m, ok := e.(map[string]any)
			if !ok {
				return []SchemaError{{Path: fmt.Sprintf("%s[%d]", path, i), Msg: "must be a block, not " + describe(e)}}
			}
			blocks = append(blocks, m)
		}
	case []map[string]any:
		blocks = b
	case map[string]any: // a single block built by hand
		blocks = []map[string]any{b}
	default:
		return []SchemaError{{Path: path, Msg: "must be a block, not " + describe(v)}}
	}
	if a.MaxBlocks > 0 && len(blocks) > a.MaxBlocks {
		return []SchemaError{{Path: path, Msg: fmt.Sprintf("at most %d %s block(s) allowed, found %d", a.MaxBlocks, a.Name, len(blocks))}}
	}
	var errs []SchemaError
	for i, b := range blocks {
		for _, e := range a.Block.Validate(b) {
			errs = append(errs, SchemaError{Path: fmt.Sprintf("%s[%d].%s", path, i, e.Path), Msg: e.Msg})
		}
	}
	return errs
}

func eachBlock(path string, l []any, check func(string, map[string]any) []SchemaError) []SchemaError {
	var errs []SchemaError
	for i, e := range l {
		p := fmt.Sprintf("%s[%d]", path, i)
		m, ok := e.(map[string]any)
		if !ok {
			errs = append(errs, SchemaError{Path: p, Msg: "must be a block or map, not " + describe(e)})
			continue
		}
		errs = append(errs, check(p, m)...)
	}
	return errs
}

func checkNumberMap(path string, m map[string]any) []SchemaError {
	var errs []SchemaError
	for k, e := range m {
		if !isNumber(e) {
			errs = append(errs, SchemaError{Path: path + "." + k, Msg: "must be number, not " + describe(e)})
		}
	}
	return errs
}

// Blocks returns the blocks of a TypeBlock attribute; absent is nil. Call
// after Validate.
func Blocks(cfg map[string]any, name string) []map[string]any {
	switch b := cfg[name].(type) {
	case []map[string]any:
		return b
	case map[string]any:
		return []map[string]any{b}
	case []any:
		out := make([]map[string]any, 0, len(b))
		for _, e := range b {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// StringMap returns a map(string) attribute, merging the blocks of its
// block form in order; absent is nil. Call after Validate.
func StringMap(cfg map[string]any, name string) map[string]string {
	var out map[string]string
	add := func(m map[string]any) {
		for k, v := range m {
			if s, ok := v.(string); ok {
				if out == nil {
					out = map[string]string{}
				}
				out[k] = s
			}
		}
	}
	switch m := cfg[name].(type) {
	case map[string]string:
		return maps.Clone(m)
	case map[string]any:
		add(m)
	case []any:
		for _, b := range m {
			if bm, ok := b.(map[string]any); ok {
				add(bm)
			}
		}
	}
	return out
}

// NumberMap is StringMap for map(number), with values as int64
// (fractions are dropped). Call after Validate.
func NumberMap(cfg map[string]any, name string) map[string]int64 {
	var out map[string]int64
	add := func(m map[string]any) {
		for k, v := range m {
			if n, ok := Number(map[string]any{k: v}, k); ok {
				if out == nil {
					out = map[string]int64{}
				}
				out[k] = int64(n)
			}
		}
	}
	switch m := cfg[name].(type) {
	case map[string]int:
		out = make(map[string]int64, len(m))
		for k, v := range m {
			out[k] = int64(v)
		}
	case map[string]any:
		add(m)
	case []any:
		for _, b := range m {
			if bm, ok := b.(map[string]any); ok {
				add(bm)
			}
		}
	}
	return out
}

// Number returns cfg[name] as a float64 and whether it is a number.
func Number(cfg map[string]any, name string) (float64, bool) {
	switch n := cfg[name].(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case interface{ Float64() (float64, error) }:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// Bool returns cfg[name] as a bool; absent or not a bool is false.
func Bool(cfg map[string]any, name string) bool {
	b, _ := cfg[name].(bool)
	return b
}
