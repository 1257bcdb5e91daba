package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/droverhq/drover/api"
)

// `drover var ...`: Nomad's variable commands. Variables are small
// encrypted key/value documents at paths, scoped to a namespace; the
// servers encrypt them with the root keyring (drover operator root
// keyring). Values are printed only by `var get`, never by any other
// command or in an error.

func varCommands() []command {
	return []command{
		{"list", "List variables (metadata only)", runVarList},
		{"get", "Print a variable and its items", runVarGet},
		{"put", "Create or update a variable", runVarPut}, // var_put.go
		{"purge", "Delete a variable", runVarPurge},
		{"lock", "Hold a lock on a variable while a command runs", runVarLock},        // var_lock.go
		{"seal", "Encrypt a variable into a file that is safe to commit", runVarSeal}, // var_seal.go
	}
}

func runVar(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "var", "Read and write encrypted variables (Nomad Variables), and seal them for Git.", varCommands(), args, io)
}

// varNamespace is the -namespace flag's value, defaulting to
// DROVER_NAMESPACE / NOMAD_NAMESPACE, then "default".
func varNamespace(flagValue string, io stdio) string {
	for _, v := range []string{flagValue, io.getenv("DROVER_NAMESPACE"), io.getenv("NOMAD_NAMESPACE")} {
		if v != "" {
			return v
		}
	}
	return "default"
}

// printVarConflict explains a check-and-set conflict: what the variable
// is at now, and how to retry.
func printVarConflict(io stdio, path string, err error) int {
	var ce *api.VariableConflictError
	if !errors.As(err, &ce) {
		return -1
	}
	if ce.Current.ModifyIndex == 0 {
		fmt.Fprintf(io.err, "Error: check-and-set conflict on %q: the variable does not exist, or is locked.\n", path)
	} else {
		fmt.Fprintf(io.err, "Error: check-and-set conflict on %q: the variable is at modify index %d.\n"+
			"Read it again (drover var get %s) and retry with -check-index %d, or use -force to overwrite.\n",
			path, ce.Current.ModifyIndex, path, ce.Current.ModifyIndex)
	}
	return exitError
}

const varListHelp = `
Usage: drover var list [options] [PREFIX]

List the variables whose path starts with PREFIX (all without one) that
the token may list: their paths, namespaces and indexes, never their
items.

Examples:
  drover var list
  drover var list nomad/jobs/web
  drover var list -namespace '*' -json | jq -r '.[].Path'

Exit codes: 0 success, 1 an error.
`

func runVarList(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("var list", varListHelp, io)
	var opts queryOptions
	opts.register(fs, "print the variables' metadata as JSON")
	ns := fs.String("namespace", "", "namespace (\"*\" for all; default DROVER_NAMESPACE or \"default\")")
	prefix := fs.String("prefix", "", "list only paths starting with `prefix` (or give it as the argument)")
	pos, code, done := parseArgs(fs, args, io, 0, 1, "Error: give at most one prefix: drover var list [PREFIX]")
	if done {
		return code
	}
	if len(pos) == 1 {
		*prefix = pos[0]
	}
	client, now, ok := opts.connect(io)
	if !ok {
		return exitError
	}
	vars, err := listAllVariables(ctx, client.Variables(), varNamespace(*ns, io), *prefix, 0)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	return opts.output(io, vars, func() { renderVarList(io.out, vars, now) })
}

// listAllVariables follows the list's pages (next_token) to the end,
// perPage at a time (0: the server's largest page).
func listAllVariables(ctx context.Context, vars *api.Variables, ns, prefix string, perPage int) ([]*api.VariableMetadata, error) {
	var all []*api.VariableMetadata
	token := ""
	for {
		q := &api.QueryOptions{Params: map[string]string{}}
		if perPage > 0 {
			q.Params["per_page"] = strconv.Itoa(perPage)
		}
		if token != "" {
			q.Params["next_token"] = token
		}
		page, meta, err := vars.List(ctx, ns, prefix, q)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if meta == nil || meta.NextToken == "" {
			return all, nil
		}
		if meta.NextToken == token || len(page) == 0 {
			// A server that does not move on would loop for ever.
			return nil, fmt.Errorf("the server answered next_token %q again: stopped after %d variables", token, len(all))
		}
		token = meta.NextToken
	}
}

func renderVarList(w io.Writer, vars []*api.VariableMetadata, now time.Time) {
	if len(vars) == 0 {
		fmt.Fprintln(w, "No matching variables found")
		return
	}
	rows := make([][]string, 0, len(vars))
	for _, v := range vars {
		rows = append(rows, []string{v.Namespace, v.Path, strconv.FormatUint(v.ModifyIndex, 10), formatTime(time.Unix(0, v.ModifyTime), now)})
	}
	writeTable(w, []string{"Namespace", "Path", "Modify Index", "Last Updated"}, rows)
}

const varGetHelp = `
Usage: drover var get [options] PATH

Print a variable: its metadata and items. With -item KEY, print only
that item's value (for scripts).

Examples:
  drover var get secret/db
  drover var get -item password secret/db
  drover var get -out json secret/db | jq .Items

Exit codes: 0 success, 1 an error (no such variable or item, no permission).
`

func runVarGet(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("var get", varGetHelp, io)
	var opts queryOptions
	opts.register(fs, "print the variable as JSON (same as -out json)")
	ns := fs.String("namespace", "", "namespace (default DROVER_NAMESPACE or \"default\")")
	item := fs.String("item", "", "print only the value of item `KEY`")
	out := fs.String("out", "table", "output format: `json` or table")
	pos, code, done := parseArgs(fs, args, io, 1, 1, "Error: give one variable path: drover var get PATH")
	if done {
		return code
	}
	if *out != "json" && *out != "table" {
		fmt.Fprintf(io.err, "Error: -out %q: want json or table\n", *out)
		return exitError
	}
	client, now, ok := opts.connect(io)
	if !ok {
		return exitError
	}
	v, _, err := client.Variables().Get(ctx, varNamespace(*ns, io), pos[0], nil)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	if *item != "" {
		val, ok := v.Items[*item]
		if !ok {
			fmt.Fprintf(io.err, "Error: variable %q has no item %q (it has %d items: drover var get %s)\n", pos[0], *item, len(v.Items), pos[0])
			return exitError
		}
		fmt.Fprintln(io.out, val)
		return exitOK
	}
	if *out == "json" {
		opts.json = true
	}
	return opts.output(io, v, func() { renderVariable(io.out, v, now) })
}

func renderVariable(w io.Writer, v *api.Variable, now time.Time) {
	writeKV(w, [][2]string{
		{"Namespace", v.Namespace}, {"Path", v.Path},
		{"Create Time", formatTime(time.Unix(0, v.CreateTime), now)},
		{"Check Index", strconv.FormatUint(v.ModifyIndex, 10)},
	})
	fmt.Fprintln(w, "\nItems")
	keys := make([]string, 0, len(v.Items))
	for k := range v.Items {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([][2]string, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, [2]string{k, v.Items[k]})
	}
	writeKV(w, pairs)
}

const varPurgeHelp = `
Usage: drover var purge [options] PATH

Delete a variable for good. With -check-index N, only if it is still at
modify index N (as 'drover var get' shows): a conflict exits 1 and says
the current index.

Examples:
  drover var purge secret/db
  drover var purge -check-index 1234 secret/db

Exit codes: 0 deleted (or already absent), 1 an error or a check-index conflict.
`

func runVarPurge(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("var purge", varPurgeHelp, io)
	var opts queryOptions
	opts.client.register(fs)
	ns := fs.String("namespace", "", "namespace (default DROVER_NAMESPACE or \"default\")")
	check := fs.Int64("check-index", -1, "delete only if the variable's modify index is `N`")
	pos, code, done := parseArgs(fs, args, io, 1, 1, "Error: give one variable path: drover var purge PATH")
	if done {
		return code
	}
	client, _, ok := opts.connect(io)
	if !ok {
		return exitError
	}
	var cas *uint64
	if *check >= 0 {
		n := uint64(*check)
		cas = &n
	}
	if err := client.Variables().Delete(ctx, varNamespace(*ns, io), pos[0], cas); err != nil {
		if c := printVarConflict(io, pos[0], err); c >= 0 {
			return c
		}
		return printAPIError(io, err, client.Address())
	}
	fmt.Fprintf(io.out, "Successfully purged variable %q!\n", pos[0])
	return exitOK
}
