package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// `drover node pool ...`: Nomad's node pool commands. A node pool is a
// named set of client nodes; a job runs only on the nodes of its
// node_pool ("default" unless it names one, "all" for any node).

func nodePoolCommands() []command {
	return []command{
		{"list", "List node pools", runNodePoolList},
		{"info", "Show one node pool", runNodePoolInfo},
		{"apply", "Create or update a node pool from a file", runNodePoolApply},
		{"delete", "Delete a node pool that has no nodes and no live jobs", runNodePoolDelete},
		{"nodes", "List the nodes of a node pool", runNodePoolNodes},
		{"jobs", "List the jobs of a node pool", runNodePoolJobs},
	}
}

func runNodePool(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "node pool", "Manage node pools: named sets of client nodes that jobs are confined to.", nodePoolCommands(), args, io)
}

const nodePoolListHelp = `
Usage: drover node pool list [options]

List the node pools, the built-in "all" (every node) and "default" (nodes
and jobs that name no pool) included.

Examples:
  drover node pool list
  drover node pool list -prefix gpu
  drover node pool list -json | jq -r '.[].name'

Exit codes: 0 success, 1 an error (an unreachable server).
`

func runNodePoolList(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("node pool list", nodePoolListHelp, io)
	var opts queryOptions
	opts.register(fs, "print the node pools as JSON")
	prefix := fs.String("prefix", "", "list only pools whose name starts with `prefix`")
	_, client, _, code, ok := opts.start(fs, args, io, 0, 0, "Error: node pool list takes no arguments (see --help)")
	if !ok {
		return code
	}
	pools, _, err := client.NodePools().List(ctx, &api.QueryOptions{Prefix: *prefix})
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	return opts.output(io, pools, func() { renderNodePoolList(io.out, pools) })
}

func renderNodePoolList(w io.Writer, pools []*cluster.NodePool) {
	if len(pools) == 0 {
		fmt.Fprintln(w, "No node pools found")
		return
	}
	rows := make([][]string, 0, len(pools))
	for _, p := range pools {
		rows = append(rows, []string{p.Name, orNone(p.Description)})
	}
	writeTable(w, []string{"Name", "Description"}, rows)
}

const nodePoolInfoHelp = `
Usage: drover node pool info [options] POOL

Show a node pool: its description and metadata.

Examples:
  drover node pool info edge
  drover node pool info -json edge | jq .meta

Exit codes: 0 success, 1 an error (an unknown pool, an unreachable server).
`

func runNodePoolInfo(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("node pool info", nodePoolInfoHelp, io)
	var opts queryOptions
	opts.register(fs, "print the node pool as JSON")
	pos, client, _, code, ok := opts.start(fs, args, io, 1, 1, "Error: give one node pool: drover node pool info POOL")
	if !ok {
		return code
	}
	pool, _, err := client.NodePools().Info(ctx, pos[0], nil)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	return opts.output(io, pool, func() { renderNodePoolInfo(io.out, pool) })
}

func renderNodePoolInfo(w io.Writer, p *cluster.NodePool) {
	writeKV(w, [][2]string{{"Name", p.Name}, {"Description", orNone(p.Description)}})
	fmt.Fprintln(w, "\nMetadata")
	if len(p.Meta) == 0 {
		fmt.Fprintln(w, "No metadata")
		return
	}
	var kv [][2]string
	for _, k := range slices.Sorted(maps.Keys(p.Meta)) {
		kv = append(kv, [2]string{k, p.Meta[k]})
	}
	writeKV(w, kv)
}

const nodePoolApplyHelp = `
Usage: drover node pool apply [options] FILE

Create a node pool, or replace the description and metadata of one, from
a file in Nomad's node pool specification ('-' reads standard input):

  node_pool "edge" {
    description = "Nodes at the edge sites"
    meta {
      owner = "sre"
    }
  }

With -json the file is the API's JSON body instead, as Nomad's
{"Name": "edge", "Description": "...", "Meta": {"owner": "sre"}}.
The built-in pools "all" and "default" cannot be changed. A node whose
agent names a pool that does not exist (node_pool = "edge") creates it.

Examples:
  drover node pool apply edge.nomad.hcl
  drover node pool apply -json - < edge.json

Exit codes: 0 applied, 1 an error (an invalid file, an unreachable server).
`

// maxNodePoolFile bounds what apply reads: a pool spec is a few lines.
const maxNodePoolFile = 1 << 20

func runNodePoolApply(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("node pool apply", nodePoolApplyHelp, io)
	var opts clientOptions
	opts.register(fs)
	asJSON := fs.Bool("json", false, "the input is JSON (the API's node pool body), not HCL")
	pos, code, done := parseArgs(fs, args, io, 1, 1, "Error: give one file: drover node pool apply FILE (or - for standard input)")
	if done {
		return code
	}
	name, src, err := readNodePoolInput(pos[0], io.in)
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	var req *api.NodePoolRegisterRequest
	if *asJSON {
		req, err = parseNodePoolJSON(name, src)
	} else {
		req, err = parseNodePoolHCL(name, src)
	}
	if err != nil {
		fmt.Fprintf(io.err, "Error: %v\n", err)
		return exitError
	}
	client, ok := opts.newClient(io)
	if !ok {
		return exitError
	}
	if _, err := client.NodePools().Register(ctx, req); err != nil {
		return printAPIError(io, err, client.Address())
	}
	fmt.Fprintf(io.out, "Successfully applied node pool %q!\n", req.Name)
	return exitOK
}

func readNodePoolInput(path string, stdin io.Reader) (string, []byte, error) {
	var r io.Reader = stdin
	name := "<stdin>"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", nil, err
		}
		defer f.Close()
		r, name = f, path
	}
	src, err := io.ReadAll(io.LimitReader(r, maxNodePoolFile+1))
	if err != nil {
		return "", nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(src) > maxNodePoolFile {
		return "", nil, fmt.Errorf("%s is larger than %d bytes; a node pool specification is a few lines", name, maxNodePoolFile)
	}
	return name, src, nil
}

// nodePoolFile is Nomad's node pool specification: one node_pool block.
type nodePoolFile struct {
	Pools []nodePoolBlock `hcl:"node_pool,block"`
	// Remain catches anything else, to say what the file should hold.
	Remain hcl.Body `hcl:",remain"`
}

type nodePoolBlock struct {
	Name        string  `hcl:"name,label"`
	Description *string `hcl:"description,optional"`
	Meta        *struct {
		Body hcl.Body `hcl:",remain"`
	} `hcl:"meta,block"`
	SchedulerConfiguration *struct {
		Body hcl.Body `hcl:",remain"`
	} `hcl:"scheduler_configuration,block"`
}

// parseNodePoolHCL reads a node pool specification. Errors carry the
// file's line and column.
func parseNodePoolHCL(filename string, src []byte) (*api.NodePoolRegisterRequest, error) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	var spec nodePoolFile
	if diags := gohcl.DecodeBody(f.Body, nil, &spec); diags.HasErrors() {
		return nil, diags
	}
	if attrs, _ := spec.Remain.JustAttributes(); len(attrs) > 0 {
		for _, a := range attrs {
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unsupported argument",
				Detail: fmt.Sprintf("A node pool file holds one node_pool \"NAME\" { ... } block; %q belongs inside it, if anywhere.", a.Name), Subject: a.NameRange.Ptr()}}
		}
	}
	switch len(spec.Pools) {
	case 0:
		return nil, fmt.Errorf(`%s: no node_pool block; write node_pool "NAME" { description = "..." }`, filename)
	case 1:
	default:
		return nil, fmt.Errorf("%s: %d node_pool blocks; apply one pool per file", filename, len(spec.Pools))
	}
	b := spec.Pools[0]
	req := &api.NodePoolRegisterRequest{Name: b.Name}
	if b.Description != nil {
		req.Description = *b.Description
	}
	if sc := b.SchedulerConfiguration; sc != nil {
		return nil, fmt.Errorf("%s: node pool %q: scheduler_configuration is a Nomad Enterprise setting that Drover does not have; remove the block (the cluster's scheduler applies to every pool)", filename, b.Name)
	}
	if b.Meta != nil {
		attrs, diags := b.Meta.Body.JustAttributes()
		if diags.HasErrors() {
			return nil, diags
		}
		req.Meta = map[string]string{}
		for name, a := range attrs {
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() {
				return nil, diags
			}
			if v.IsNull() || !v.IsKnown() || (v.Type() != cty.String && v.Type() != cty.Number && v.Type() != cty.Bool) {
				return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid meta value",
					Detail: fmt.Sprintf("meta %q must be a string.", name), Subject: a.Expr.Range().Ptr()}}
			}
			var s string
			if err := gohcl.DecodeExpression(a.Expr, nil, &s); err.HasErrors() {
				return nil, err
			}
			req.Meta[name] = s
		}
	}
	return req, checkNodePoolRequest(filename, req)
}

// parseNodePoolJSON reads the API's body, as Nomad's `-json` input:
// unknown keys are errors, not silently dropped.
func parseNodePoolJSON(filename string, src []byte) (*api.NodePoolRegisterRequest, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.DisallowUnknownFields()
	var req api.NodePoolRegisterRequest
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("%s: %v (want {\"Name\": \"...\", \"Description\": \"...\", \"Meta\": {...}})", filename, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: more than one JSON value; apply one pool per file", filename)
	}
	return &req, checkNodePoolRequest(filename, &req)
}

// checkNodePoolRequest applies the servers' rules before sending, so
// that a mistake is named with the file.
func checkNodePoolRequest(filename string, req *api.NodePoolRegisterRequest) error {
	p := &cluster.NodePool{Name: req.Name, Description: req.Description, Meta: req.Meta}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("%s: %w", filename, err)
	}
	return nil
}

const nodePoolDeleteHelp = `
Usage: drover node pool delete [options] POOL

Delete a node pool. The built-in pools "all" and "default" cannot be
deleted, nor a pool that still has nodes or jobs that are not dead: move
the nodes (node_pool in their agents' configuration) and stop the jobs
first ('drover node pool nodes POOL', 'drover node pool jobs POOL').

Examples:
  drover node pool delete edge

Exit codes: 0 deleted, 1 an error (an unknown pool, a pool in use, an
unreachable server).
`

func runNodePoolDelete(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("node pool delete", nodePoolDeleteHelp, io)
	var opts clientOptions
	opts.register(fs)
	pos, code, done := parseArgs(fs, args, io, 1, 1, "Error: give one node pool: drover node pool delete POOL")
	if done {
		return code
	}
	client, ok := opts.newClient(io)
	if !ok {
		return exitError
	}
	if _, err := client.NodePools().Delete(ctx, pos[0]); err != nil {
		return printAPIError(io, err, client.Address())
	}
	fmt.Fprintf(io.out, "Successfully deleted node pool %q!\n", pos[0])
	return exitOK
}

const nodePoolNodesHelp = `
Usage: drover node pool nodes [options] POOL

List the client nodes of a node pool ("all" lists every node).

Examples:
  drover node pool nodes edge
  drover node pool nodes -json edge | jq -r '.[].name'

Exit codes: 0 success, 1 an error (an unknown pool, an unreachable server).
`

func runNodePoolNodes(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("node pool nodes", nodePoolNodesHelp, io)
	var opts queryOptions
	opts.register(fs, "print the nodes as JSON")
	pos, client, _, code, ok := opts.start(fs, args, io, 1, 1, "Error: give one node pool: drover node pool nodes POOL")
	if !ok {
		return code
	}
	nodes, _, err := client.NodePools().ListNodes(ctx, pos[0], nil)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	return opts.output(io, nodes, func() { renderNodeList(io.out, nodes) })
}

const nodePoolJobsHelp = `
Usage: drover node pool jobs [options] POOL

List the jobs of a node pool: those whose node_pool is POOL ("default"
also lists jobs that name no pool). A job in "all" is listed under "all"
only, as Nomad lists it.

Examples:
  drover node pool jobs edge
  drover node pool jobs -namespace prod -json edge | jq -r '.[].id'

Exit codes: 0 success, 1 an error (an unknown pool, an unreachable server).
`

func runNodePoolJobs(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("node pool jobs", nodePoolJobsHelp, io)
	var opts queryOptions
	opts.register(fs, "print the jobs as JSON")
	namespace := fs.String("namespace", "", "list only jobs of this `namespace` (default: every namespace the token may list)")
	pos, client, now, code, ok := opts.start(fs, args, io, 1, 1, "Error: give one node pool: drover node pool jobs POOL")
	if !ok {
		return code
	}
	q := &api.QueryOptions{}
	if *namespace != "" {
		q.Params = map[string]string{"namespace": *namespace}
	}
	jobs, _, err := client.NodePools().ListJobs(ctx, pos[0], q)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	return opts.output(io, jobs, func() {
		if len(jobs) == 0 {
			fmt.Fprintf(io.out, "No jobs in node pool %q\n", pos[0])
			return
		}
		renderJobList(io.out, jobs, now)
	})
}
