package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

const varPutHelp = `
Usage: drover var put [options] PATH [KEY=VALUE ...]
       drover var put [options] -in json|hcl - [KEY=VALUE ...]

Create or update a variable. Items are KEY=VALUE pairs; KEY=@file reads
the value from a file and KEY=- from stdin, as is. A whole variable
specification (Nomad's: Path, Namespace, Items) can come from stdin with
PATH "-" and -in json or hcl, or from a file with @file; pairs on the
command line override its items.

A put replaces all the items of an existing variable. To avoid
overwriting someone else's change, pass -check-index N (the modify index
'drover var get' shows; 0 means it must not exist yet). With a
specification that carries a ModifyIndex, that is the check index unless
-force.

Examples:
  drover var put secret/db user=app password=@./db-password.txt
  drover var put -check-index 0 secret/api token=-  < token.txt
  drover var get -out json secret/db | drover var put -in json - password=new
  drover var put -check-index 1234 secret/db user=app password=rotated

Exit codes: 0 success, 1 an error or a check-index conflict (the error
says the current index).
`

func runVarPut(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("var put", varPutHelp, io)
	var opts queryOptions
	opts.client.register(fs)
	ns := fs.String("namespace", "", "namespace (default DROVER_NAMESPACE or \"default\")")
	in := fs.String("in", "json", "format of a specification read from stdin or @file: `json` or hcl")
	check := fs.Int64("check-index", -1, "write only if the variable's modify index is `N` (0: it must not exist)")
	fs.Int64Var(check, "cas", -1, "same as -check-index")
	force := fs.Bool("force", false, "write whatever the variable's current index (ignore a specification's ModifyIndex)")
	out := fs.String("out", "none", "print the written variable: `none`, json or table")
	pos, code, done := parseArgs(fs, args, io, 1, 1+cluster.MaxVariableItems, "Error: give a variable path and items: drover var put PATH KEY=VALUE ...")
	if done {
		return code
	}
	v, err := buildVarPut(pos, *in, io)
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	if *ns != "" || v.Namespace == "" {
		v.Namespace = varNamespace(*ns, io)
	}
	if err := cluster.ValidateVariablePath(v.Path); err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	if err := cluster.ValidateVariableItems(v.Items); err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	var cas *uint64
	switch {
	case *check >= 0:
		n := uint64(*check)
		cas = &n
	case !*force && v.ModifyIndex > 0:
		n := v.ModifyIndex
		cas = &n
	}
	client, now, ok := opts.connect(io)
	if !ok {
		return exitError
	}
	put := &api.Variable{Namespace: v.Namespace, Path: v.Path, Items: v.Items}
	got, err := client.Variables().Put(ctx, put, cas)
	if err != nil {
		if c := printVarConflict(io, v.Path, err); c >= 0 {
			return c
		}
		return printAPIError(io, err, client.Address())
	}
	switch *out {
	case "json":
		return jsonExit(writeJSON(io.out, got))
	case "table":
		renderVariable(io.out, got, now)
	default:
		fmt.Fprintf(io.out, "Successfully wrote variable %q (modify index %d)\n", v.Path, got.ModifyIndex)
	}
	return exitOK
}

// maxVarInput bounds a specification or item read from a file or stdin.
const maxVarInput = cluster.MaxVariableSize + 4096

// buildVarPut reads the specification (if any) and the KEY=VALUE pairs.
func buildVarPut(pos []string, in string, io stdio) (*api.Variable, error) {
	v := &api.Variable{Items: map[string]string{}}
	first, rest := pos[0], pos[1:]
	stdinUsed := false
	switch {
	case first == "-" || strings.HasPrefix(first, "@"):
		var src []byte
		var err error
		name := "stdin"
		if first == "-" {
			src, err = readBounded(io.in, "stdin")
			stdinUsed = true
		} else {
			name = first[1:]
			src, err = readFileBounded(name)
		}
		if err != nil {
			return nil, err
		}
		spec, err := parseVarSpec(name, src, in)
		if err != nil {
			return nil, err
		}
		v = spec
		if v.Items == nil {
			v.Items = map[string]string{}
		}
	default:
		v.Path = first
	}
	if len(rest) > 0 && !strings.Contains(rest[0], "=") && strings.HasPrefix(rest[0], "@") {
		// PATH @spec-file KEY=VALUE: the path of the command line wins.
		spec, err := readSpecFile(rest[0][1:], in)
		if err != nil {
			return nil, err
		}
		spec.Path = v.Path
		v, rest = spec, rest[1:]
		if v.Items == nil {
			v.Items = map[string]string{}
		}
	}
	for _, kv := range rest {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("item %q: want KEY=VALUE, KEY=@file or KEY=-", kv)
		}
		switch {
		case val == "-":
			if stdinUsed {
				return nil, fmt.Errorf("item %q: stdin is already read", k)
			}
			b, err := readBounded(io.in, "stdin")
			if err != nil {
				return nil, err
			}
			stdinUsed = true
			val = string(b)
		case strings.HasPrefix(val, "@"):
			b, err := readFileBounded(val[1:])
			if err != nil {
				return nil, fmt.Errorf("item %q: %w", k, err)
			}
			val = string(b)
		}
		v.Items[k] = val
	}
	if v.Path == "" {
		return nil, fmt.Errorf("the specification names no Path: give it as the first argument")
	}
	return v, nil
}

func readSpecFile(name, in string) (*api.Variable, error) {
	src, err := readFileBounded(name)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(name, ".hcl") {
		in = "hcl"
	}
	return parseVarSpec(name, src, in)
}

func readBounded(r io.Reader, name string) ([]byte, error) {
	if r == nil {
		return nil, fmt.Errorf("%s: nothing to read", name)
	}
	b, err := io.ReadAll(io.LimitReader(r, maxVarInput+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxVarInput {
		return nil, fmt.Errorf("%s is larger than a variable may be (64 KiB)", name)
	}
	return b, nil
}

func readFileBounded(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readBounded(f, name)
}

// varSpecHCL is Nomad's variable specification in HCL:
//
//	path = "secret/db"
//	items { user = "app" }
type varSpecHCL struct {
	Path      string            `hcl:"path,optional"`
	Namespace string            `hcl:"namespace,optional"`
	Items     map[string]string `hcl:"items,optional"`
}

func parseVarSpec(name string, src []byte, in string) (*api.Variable, error) {
	switch in {
	case "json":
		var v api.Variable
		dec := json.NewDecoder(strings.NewReader(string(src)))
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: not a JSON variable specification: %v", name, err)
		}
		return &v, nil
	case "hcl":
		f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
		if diags.HasErrors() {
			return nil, diags
		}
		// items may be a block (Nomad's) or an attribute map.
		body := f.Body.(*hclsyntax.Body)
		var spec varSpecHCL
		for _, b := range body.Blocks {
			if b.Type == "items" {
				attrs, d := b.Body.JustAttributes()
				if d.HasErrors() {
					return nil, d
				}
				spec.Items = map[string]string{}
				for k, a := range attrs {
					var s string
					if d := gohcl.DecodeExpression(a.Expr, nil, &s); d.HasErrors() {
						return nil, d
					}
					spec.Items[k] = s
				}
				body.Blocks = nil
				break
			}
		}
		items := spec.Items
		if d := gohcl.DecodeBody(body, nil, &spec); d.HasErrors() {
			return nil, d
		}
		if items != nil {
			spec.Items = items
		}
		return &api.Variable{Path: spec.Path, Namespace: spec.Namespace, Items: spec.Items}, nil
	}
	return nil, fmt.Errorf("-in %q: want json or hcl", in)
}
