package jobspec

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"hash"
	"regexp"

	"github.com/hashicorp/go-cty-funcs/cidr"
	"github.com/hashicorp/go-cty-funcs/crypto"
	"github.com/hashicorp/go-cty-funcs/encoding"
	"github.com/hashicorp/go-cty-funcs/uuid"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"sigs.k8s.io/yaml"
)

// The pure functions of Nomad's jobspec2 added for issue 15, from
// hashicorp/go-cty-funcs where it has them (the implementations Nomad
// uses) and written here where it does not. uuidv4, bcrypt, file and the
// time functions stay out: their results change from parse to parse, and
// a job's hash must depend on the repository only. Each is metered by the
// parse's budget like every function of the table (budget.go); the ones
// whose output can outgrow their input have an estimate there.
func init() {
	for name, f := range map[string]function.Function{
		"md5":          crypto.Md5Func,
		"sha1":         crypto.Sha1Func,
		"sha256":       crypto.Sha256Func,
		"sha512":       crypto.Sha512Func,
		"base64sha256": base64HashFunc(sha256.New),
		"base64sha512": base64HashFunc(sha512.New),
		"urlencode":    encoding.URLEncodeFunc,
		"yamlencode":   yamlEncodeFunc,
		"yamldecode":   yamlDecodeFunc,
		"cidrhost":     cidr.HostFunc,
		"cidrnetmask":  cidr.NetmaskFunc,
		"cidrsubnet":   cidr.SubnetFunc,
		"cidrsubnets":  cidr.SubnetsFunc,
		"uuidv5":       uuid.V5Func,
		"convert":      typeexpr.ConvertFunc,
	} {
		functions[name] = f
	}
}

// base64HashFunc is Terraform's base64sha256 / base64sha512: the hash of
// the string's UTF-8 bytes, base64-encoded (not its hex digest).
func base64HashFunc(h func() hash.Hash) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "str", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			hf := h()
			hf.Write([]byte(args[0].AsString()))
			return cty.StringVal(base64.StdEncoding.EncodeToString(hf.Sum(nil))), nil
		},
	})
}

// yamlEncodeFunc encodes a value as YAML through its JSON form, with
// sigs.k8s.io/yaml: the same document as Nomad's yamlencode, though keys
// may be quoted differently.
var yamlEncodeFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowNull: true}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		j, err := stdlib.JSONEncode(args[0])
		if err != nil {
			return cty.NilVal, err
		}
		y, err := yaml.JSONToYAML([]byte(j.AsString()))
		if err != nil {
			return cty.NilVal, err
		}
		return cty.StringVal(string(y)), nil
	},
})

// yamlAlias finds a YAML alias (*name). Aliases can expand a small
// document exponentially ("billion laughs"), faster than the budget can
// see, so yamldecode refuses them; job files do not need them.
var yamlAlias = regexp.MustCompile(`(^|[\s\[{,:-])\*[^\s,\]}]`)

// yamlDecodeFunc decodes one YAML document into the value jsondecode
// would give for its JSON form: objects, tuples, strings, numbers, bools.
// sigs.k8s.io/yaml reads YAML 1.1, so yes/no/on/off are booleans, where
// Nomad's go-cty-yaml would keep some of them strings; quote them.
var yamlDecodeFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "src", Type: cty.String}},
	Type: func(args []cty.Value) (cty.Type, error) {
		if !args[0].IsKnown() {
			return cty.DynamicPseudoType, nil
		}
		j, err := yamlToJSON(args[0].AsString())
		if err != nil {
			return cty.NilType, err
		}
		return stdlib.JSONDecodeFunc.ReturnTypeForValues([]cty.Value{cty.StringVal(j)})
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		j, err := yamlToJSON(args[0].AsString())
		if err != nil {
			return cty.NilVal, err
		}
		return stdlib.JSONDecode(cty.StringVal(j))
	},
})

func yamlToJSON(src string) (string, error) {
	if yamlAlias.MatchString(src) {
		return "", errors.New("YAML aliases (*name) are not supported: write the values out")
	}
	j, err := yaml.YAMLToJSON([]byte(src))
	if err != nil {
		return "", err
	}
	return string(j), nil
}
