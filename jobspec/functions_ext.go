package jobspec

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"hash"
	"path"
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
// time functions stay out (see leftOut): their results change from parse
// to parse, and a job's hash must depend on the repository only. Each is metered by the
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
		"basename":     pathFunc(path.Base),
		"dirname":      pathFunc(path.Dir),
	} {
		functions[name] = f
	}
	for name, hint := range leftOut {
		functions[name] = leftOutFunc(hint)
	}
}

// leftOut are the functions of Nomad's jobspec that Drover leaves out on
// purpose, each with why and what to write instead. They are in the table
// so that a call is an error that says so, rather than "no function".
var leftOut = map[string]string{
	"uuidv4":       "its value changes at every parse, so the job would change at every sync; use uuidv5(namespace, name) for a stable ID, or ${NOMAD_ALLOC_ID} at run time",
	"timestamp":    "its value changes at every parse, so the job would change at every sync; write the time out, or read the clock at run time",
	"bcrypt":       "it salts at random, so the job would change at every parse; hash the value beforehand and commit the hash",
	"rsadecrypt":   "a private key in a job file is stored with every version of the job; render the secret at run time in a template instead",
	"file":         "Drover parses each job file on its own, without the files beside it; inline the content (a heredoc), or generate the job file before committing it",
	"filebase64":   "Drover parses each job file on its own, without the files beside it; inline the content, or generate the job file before committing it",
	"fileexists":   "Drover parses each job file on its own, without the files beside it",
	"fileset":      "Drover parses each job file on its own, without the files beside it",
	"templatefile": "Drover parses each job file on its own, without the files beside it; put the template in a template block (data = <<EOT ... EOT)",
	"pathexpand":   "its result depends on the machine that parses the job; write the path out",
	"abspath":      "its result depends on the machine that parses the job; write the path out",
}

// leftOutFunc fails every call with hint.
func leftOutFunc(hint string) function.Function {
	return function.New(&function.Spec{
		VarParam: &function.Parameter{Name: "args", Type: cty.DynamicPseudoType, AllowNull: true, AllowUnknown: true, AllowDynamicType: true},
		Type: func([]cty.Value) (cty.Type, error) {
			return cty.NilType, errors.New("Drover leaves this function out: " + hint)
		},
	})
}

// pathFunc is Terraform's basename / dirname on slash-separated paths.
func pathFunc(f func(string) string) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.StringVal(f(args[0].AsString())), nil
		},
	})
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
