package jobspec

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// functions is the function table of every parse: the pure, deterministic
// part of what Nomad's jobspec2 offers. File-system, time-of-day and
// random functions are left out on purpose: a job's hash must depend on the
// repository content only. The map is built once and only read.
var functions = map[string]function.Function{
	"abs":             stdlib.AbsoluteFunc,
	"base64decode":    base64DecodeFunc,
	"base64encode":    base64EncodeFunc,
	"can":             tryfunc.CanFunc,
	"ceil":            stdlib.CeilFunc,
	"chomp":           stdlib.ChompFunc,
	"chunklist":       stdlib.ChunklistFunc,
	"coalesce":        stdlib.CoalesceFunc,
	"coalescelist":    stdlib.CoalesceListFunc,
	"compact":         stdlib.CompactFunc,
	"concat":          stdlib.ConcatFunc,
	"contains":        stdlib.ContainsFunc,
	"csvdecode":       stdlib.CSVDecodeFunc,
	"distinct":        stdlib.DistinctFunc,
	"element":         stdlib.ElementFunc,
	"flatten":         stdlib.FlattenFunc,
	"floor":           stdlib.FloorFunc,
	"format":          guardFormat(stdlib.FormatFunc),
	"formatdate":      stdlib.FormatDateFunc,
	"formatlist":      guardFormat(stdlib.FormatListFunc),
	"indent":          guardIndent(stdlib.IndentFunc),
	"index":           stdlib.IndexFunc,
	"join":            stdlib.JoinFunc,
	"jsondecode":      stdlib.JSONDecodeFunc,
	"jsonencode":      stdlib.JSONEncodeFunc,
	"keys":            stdlib.KeysFunc,
	"length":          stdlib.LengthFunc,
	"log":             stdlib.LogFunc,
	"lookup":          stdlib.LookupFunc,
	"lower":           stdlib.LowerFunc,
	"max":             stdlib.MaxFunc,
	"merge":           stdlib.MergeFunc,
	"min":             stdlib.MinFunc,
	"parseint":        stdlib.ParseIntFunc,
	"pow":             stdlib.PowFunc,
	"range":           stdlib.RangeFunc, // capped at 1024 values by cty
	"regex":           stdlib.RegexFunc,
	"regexall":        stdlib.RegexAllFunc,
	"regex_replace":   stdlib.RegexReplaceFunc,
	"replace":         stdlib.ReplaceFunc,
	"reverse":         stdlib.ReverseListFunc,
	"setintersection": stdlib.SetIntersectionFunc,
	"setproduct":      guardSetProduct(stdlib.SetProductFunc),
	"setsubtract":     stdlib.SetSubtractFunc,
	"setunion":        stdlib.SetUnionFunc,
	"signum":          stdlib.SignumFunc,
	"slice":           stdlib.SliceFunc,
	"sort":            stdlib.SortFunc,
	"split":           stdlib.SplitFunc,
	"strlen":          stdlib.StrlenFunc,
	"strrev":          stdlib.ReverseFunc,
	"substr":          stdlib.SubstrFunc,
	"timeadd":         stdlib.TimeAddFunc,
	"title":           stdlib.TitleFunc,
	"tobool":          stdlib.MakeToFunc(cty.Bool),
	"tolist":          stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
	"tomap":           stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
	"tonumber":        stdlib.MakeToFunc(cty.Number),
	"toset":           stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
	"tostring":        stdlib.MakeToFunc(cty.String),
	"trim":            stdlib.TrimFunc,
	"trimprefix":      stdlib.TrimPrefixFunc,
	"trimspace":       stdlib.TrimSpaceFunc,
	"trimsuffix":      stdlib.TrimSuffixFunc,
	"try":             tryfunc.TryFunc,
	"upper":           stdlib.UpperFunc,
	"values":          stdlib.ValuesFunc,
	"zipmap":          stdlib.ZipmapFunc,
}

// Limits on functions whose output can be far larger than their input.
const (
	maxFormatWidth = 10000
	maxIndent      = 1000
	maxProduct     = 10000
)

// formatWidth finds width and precision numbers in format verbs.
var formatWidth = regexp.MustCompile(`%[-+# 0]*(\d*)(?:\.(\d*))?`)

// guardFormat rejects a format string with a huge width or precision, which
// would make fmt allocate that much padding.
func guardFormat(f function.Function) function.Function {
	return wrap(f, func(args []cty.Value) error {
		if len(args) == 0 || !args[0].IsKnown() || args[0].IsNull() || args[0].Type() != cty.String {
			return nil
		}
		for _, m := range formatWidth.FindAllStringSubmatch(args[0].AsString(), -1) {
			for _, num := range m[1:] {
				if n, err := strconv.Atoi(num); num != "" && (err != nil || n > maxFormatWidth) {
					return fmt.Errorf("format width and precision may be at most %d", maxFormatWidth)
				}
			}
		}
		return nil
	})
}

func guardIndent(f function.Function) function.Function {
	return wrap(f, func(args []cty.Value) error {
		if len(args) == 0 || !args[0].IsKnown() || args[0].IsNull() || args[0].Type() != cty.Number {
			return nil
		}
		if n, acc := args[0].AsBigFloat().Int64(); acc != 0 || n > maxIndent {
			return fmt.Errorf("indent may be at most %d spaces", maxIndent)
		}
		return nil
	})
}

func guardSetProduct(f function.Function) function.Function {
	return wrap(f, func(args []cty.Value) error {
		total := 1
		for _, a := range args {
			if !a.IsKnown() || a.IsNull() || !a.CanIterateElements() {
				return nil
			}
			total *= a.LengthInt()
			if total > maxProduct {
				return fmt.Errorf("setproduct may produce at most %d elements", maxProduct)
			}
		}
		return nil
	})
}

// wrap adds an argument check in front of f.
func wrap(f function.Function, check func([]cty.Value) error) function.Function {
	spec := &function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type: func(args []cty.Value) (cty.Type, error) {
			return f.ReturnTypeForValues(args)
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if err := check(args); err != nil {
				return cty.NilVal, err
			}
			return f.Call(args)
		},
	}
	return function.New(spec)
}

var base64EncodeFunc = function.New(&function.Spec{
	Description: "Encodes a string's UTF-8 bytes as Base64.",
	Params:      []function.Parameter{{Name: "str", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(args[0].AsString()))), nil
	},
})

var base64DecodeFunc = function.New(&function.Spec{
	Description: "Decodes Base64 into a UTF-8 string.",
	Params:      []function.Parameter{{Name: "str", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		b, err := base64.StdEncoding.DecodeString(args[0].AsString())
		if err != nil {
			return cty.UnknownVal(cty.String), fmt.Errorf("invalid Base64 data: %w", err)
		}
		if !utf8.Valid(b) {
			return cty.UnknownVal(cty.String), fmt.Errorf("the decoded bytes are not valid UTF-8")
		}
		return cty.StringVal(string(b)), nil
	},
})
