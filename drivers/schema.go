package drivers

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
)

// Type is the type of a config attribute.
type Type string

// The attribute types a driver may declare. Values arrive as decoded JSON
// (string, float64, bool, []any, map[string]any); the Go types a caller
// builds by hand ([]string, int, ...) are accepted too.
const (
	TypeString     Type = "string"
	TypeNumber     Type = "number"
	TypeBool       Type = "bool"
	TypeListString Type = "list(string)"
	TypeMapString  Type = "map(string)"
	TypeMapNumber  Type = "map(number)"
	// TypeBlock is a nested block, written zero or more times; each is
	// checked against Attribute.Block. See schema_block.go.
	TypeBlock Type = "block"
)

// Attribute declares one attribute of a driver's config {} block.
type Attribute struct {
	Name        string
	Type        Type
	Required    bool
	Description string
	// Block is the schema of each block of a TypeBlock attribute, and
	// MaxBlocks how many may be written (0: any number).
	Block     Schema
	MaxBlocks int
	// BlockForm lets a map attribute also be written as a block,
	// `labels { a = "b" }`, as Nomad's HCL1 job files do.
	BlockForm bool
	// Values, when set, are the only values a string attribute may take;
	// ValuesHint follows the error for any other, saying what to do.
	Values     []string
	ValuesHint string
}

// Schema is a driver's declared config {} block, in documentation order.
type Schema []Attribute

// SchemaError is one problem of a config block. Path is relative to the
// block: "command", "args[2]", "labels.env".
type SchemaError struct {
	Path string
	Msg  string
}

func (e SchemaError) Error() string { return e.Path + ": " + e.Msg }

// Attribute returns the declared attribute name.
func (s Schema) Attribute(name string) (Attribute, bool) {
	i := slices.IndexFunc(s, func(a Attribute) bool { return a.Name == name })
	if i < 0 {
		return Attribute{}, false
	}
	return s[i], true
}

// Validate returns every problem of cfg: unknown attributes (with a
// did-you-mean), missing required ones and wrong types, sorted by path.
// None means valid.
func (s Schema) Validate(cfg map[string]any) []SchemaError {
	var errs []SchemaError
	for name, v := range cfg {
		a, ok := s.Attribute(name)
		if !ok {
			msg := "unknown attribute"
			if near := s.suggest(name); near != "" {
				msg += fmt.Sprintf("; did you mean %q?", near)
			}
			errs = append(errs, SchemaError{Path: name, Msg: msg})
			continue
		}
		errs = append(errs, checkAttr(name, a, v)...)
	}
	for _, a := range s {
		if _, ok := cfg[a.Name]; a.Required && !ok {
			errs = append(errs, SchemaError{Path: a.Name, Msg: fmt.Sprintf("required attribute (%s) is missing", a.Type)})
		}
	}
	sort.Slice(errs, func(i, j int) bool {
		if errs[i].Path != errs[j].Path {
			return errs[i].Path < errs[j].Path
		}
		return errs[i].Msg < errs[j].Msg
	})
	return errs
}

// suggest returns the declared name closest to an unknown one, if it is
// close enough to be a typo. HCL uses the same bound for its suggestions.
func (s Schema) suggest(name string) string {
	best, bestDist := "", 3
	for _, a := range s {
		if d := levenshtein.Distance(strings.ToLower(name), a.Name, nil); d < bestDist {
			best, bestDist = a.Name, d
		}
	}
	return best
}

func checkType(path string, t Type, v any) []SchemaError {
	wrong := func(p string, want Type, got any) []SchemaError {
		return []SchemaError{{Path: p, Msg: fmt.Sprintf("must be %s, not %s", want, describe(got))}}
	}
	switch t {
	case TypeString:
		if _, ok := v.(string); !ok {
			return wrong(path, t, v)
		}
	case TypeBool:
		if _, ok := v.(bool); !ok {
			return wrong(path, t, v)
		}
	case TypeNumber:
		if !isNumber(v) {
			return wrong(path, t, v)
		}
	case TypeListString:
		switch l := v.(type) {
		case []string:
		case []any:
			var errs []SchemaError
			for i, e := range l {
				if _, ok := e.(string); !ok {
					errs = append(errs, wrong(fmt.Sprintf("%s[%d]", path, i), TypeString, e)...)
				}
			}
			return errs
		default:
			return wrong(path, t, v)
		}
	case TypeMapString:
		switch m := v.(type) {
		case map[string]string:
		case map[string]any:
			var errs []SchemaError
			for k, e := range m {
				if _, ok := e.(string); !ok {
					errs = append(errs, wrong(path+"."+k, TypeString, e)...)
				}
			}
			return errs
		default:
			return wrong(path, t, v)
		}
	default:
		return []SchemaError{{Path: path, Msg: fmt.Sprintf("driver declares unknown type %q", t)}}
	}
	return nil
}

func isNumber(v any) bool {
	switch n := v.(type) {
	case float64:
		return !math.IsNaN(n) && !math.IsInf(n, 0)
	case float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return true
	case json.Number:
		_, err := n.Float64()
		return err == nil
	}
	return false
}

// describe names a value's type in the schema's terms, for messages.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a bool"
	case []any, []string:
		return "a list"
	case map[string]any, map[string]string:
		return "a map or block"
	}
	if isNumber(v) {
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// String returns cfg[name] as a string; absent is "". Call after Validate.
func String(cfg map[string]any, name string) string {
	s, _ := cfg[name].(string)
	return s
}

// StringList returns cfg[name] as a []string; absent is nil. Call after
// Validate.
func StringList(cfg map[string]any, name string) []string {
	switch l := cfg[name].(type) {
	case []string:
		return slices.Clone(l)
	case []any:
		out := make([]string, 0, len(l))
		for _, e := range l {
			s, _ := e.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}
