package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

const nodeStatusHelp = `
Usage: drover node status [options] [NODE]

Without NODE, list the client nodes: datacenter, class, drain and
scheduling eligibility, liveness, and how many allocations run there.

With NODE (an ID, a unique prefix of one, or a node name), show that node:
its drivers, how many attributes it fingerprinted, the CPU and memory its
allocations hold out of what it offers, and its allocations.

Examples:
  drover node status
  drover node status 5e6f7a8b
  drover node status -json worker-1 | jq '.node.attributes'

Exit codes: 0 success, 1 an error (an unknown node, an unreachable server).
`

type nodeStatusOptions struct {
	queryOptions
	node string // empty: list
}

func runNodeStatus(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("node status", nodeStatusHelp, io)
	var opts nodeStatusOptions
	opts.register(fs, "print the API objects as JSON")
	pos, code, done := parseArgs(fs, args, io, 0, 1, "Error: give at most one node: drover node status [NODE]")
	if done {
		return code
	}
	if len(pos) == 1 {
		opts.node = pos[0]
	}
	return nodeStatus(ctx, opts, io)
}

// nodeStatusView is what `node status NODE` shows, and prints with -json.
type nodeStatusView struct {
	Node        *cluster.Node         `json:"node"`
	Allocations []*cluster.Allocation `json:"allocations"`
}

func nodeStatus(ctx context.Context, opts nodeStatusOptions, io stdio) int {
	client, now, ok := opts.connect(io)
	if !ok {
		return exitError
	}
	if opts.node == "" {
		nodes, _, err := client.Nodes().List(ctx, nil)
		if err != nil {
			return printAPIError(io, err, client.Address())
		}
		return opts.output(io, nodes, func() { renderNodeList(io.out, nodes) })
	}
	node, code := findNode(ctx, client, opts.node, io)
	if node == nil {
		return code
	}
	allocs, _, err := client.Nodes().Allocations(ctx, node.ID, nil)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	v := &nodeStatusView{Node: node, Allocations: allocs}
	return opts.output(io, v, func() { renderNodeStatus(io.out, v, now) })
}

// findNode resolves an ID, a unique ID prefix or a name to a node; it
// prints why not and returns nil when it cannot.
func findNode(ctx context.Context, client *api.Client, key string, io stdio) (*cluster.Node, int) {
	node, _, err := client.Nodes().Info(ctx, key, nil)
	if err == nil {
		return node, exitOK
	}
	var se *api.StatusError
	ambiguous := errors.As(err, &se) && se.Code == http.StatusBadRequest
	if !api.IsNotFound(err) && !ambiguous {
		return nil, printAPIError(io, err, client.Address())
	}
	nodes, _, lerr := client.Nodes().List(ctx, nil)
	if lerr != nil {
		return nil, printAPIError(io, lerr, client.Address())
	}
	var matches []*api.NodeListStub
	for _, n := range nodes {
		if n.Name == key || (ambiguous && strings.HasPrefix(n.ID, key)) {
			matches = append(matches, n)
		}
	}
	switch len(matches) {
	case 0:
		fmt.Fprintf(io.err, "No node with ID or name %q (run 'drover node status' to list nodes)\n", key)
		return nil, exitError
	case 1:
		node, _, err := client.Nodes().Info(ctx, matches[0].ID, nil)
		if err != nil {
			return nil, printAPIError(io, err, client.Address())
		}
		return node, exitOK
	}
	fmt.Fprintf(io.err, "%q matches %d nodes; give more of the ID:\n\n", key, len(matches))
	renderNodeList(io.err, matches)
	return nil, exitError
}

// renderNodeList prints the node list table, by name.
func renderNodeList(w io.Writer, nodes []*api.NodeListStub) {
	if len(nodes) == 0 {
		fmt.Fprintln(w, "No nodes registered")
		return
	}
	nodes = slices.Clone(nodes)
	slices.SortFunc(nodes, func(a, b *api.NodeListStub) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	rows := make([][]string, 0, len(nodes))
	for _, n := range nodes {
		rows = append(rows, []string{shortID(n.ID), n.Name, n.Datacenter, cluster.NodePoolOf(&cluster.Node{NodePool: n.NodePool}), orNone(n.NodeClass),
			strconv.FormatBool(n.Drain), n.SchedulingEligibility, string(n.Status), strconv.Itoa(n.RunningAllocs)})
	}
	writeTable(w, []string{"ID", "Name", "DC", "Node Pool", "Class", "Drain", "Eligibility", "Status", "Allocs"}, rows)
}

// renderNodeStatus prints one node as `nomad node status NODE` does.
func renderNodeStatus(w io.Writer, v *nodeStatusView, now time.Time) {
	n := v.Node
	status := string(n.Status)
	if n.StatusDescription != "" {
		status += " (" + n.StatusDescription + ")"
	}
	writeKV(w, append([][2]string{
		{"ID", n.ID},
		{"Name", n.Name},
		{"Class", orNone(n.NodeClass)},
		{"Node Pool", cluster.NodePoolOf(n)},
		{"DC", n.Datacenter},
		{"Drain", strconv.FormatBool(n.Drain)},
		{"Eligibility", n.SchedulingEligibility},
		{"Status", status},
		{"Status Updated", relTime(n.StatusUpdatedAt, now)},
		{"HTTP Addr", orNone(n.HTTPAddr)},
		{"Drivers", driversText(n.Drivers)},
		{"Attributes", fmt.Sprintf("%d (drover node status -json %s shows them)", len(n.Attributes), shortID(n.ID))},
	}, hostVolumesKV(n.HostVolumes)...))

	var cpu, mem int
	for _, a := range v.Allocations {
		if !a.Terminal() {
			cpu += a.Resources.CPU()
			mem += a.Resources.MemoryMB()
		}
	}
	// What the scheduler may hand out: the host keeps its reserve.
	totalCPU := n.Resources.CPU - n.Reserved.CPU
	totalMem := n.Resources.MemoryMB - n.Reserved.MemoryMB
	fmt.Fprintln(w, "\nAllocated Resources")
	writeTable(w, []string{"CPU", "Memory"}, [][]string{{
		fmt.Sprintf("%d/%d MHz", cpu, totalCPU),
		fmt.Sprintf("%d/%d MB", mem, totalMem),
	}})

	fmt.Fprintln(w, "\nAllocations")
	if len(v.Allocations) == 0 {
		fmt.Fprintln(w, "No allocations placed")
		return
	}
	writeTable(w, []string{"ID", "Job", "Task Group", "Version", "Desired", "Status", "Created", "Modified"}, allocRows(v.Allocations, now, true))
}

// driversText lists the healthy drivers, then the detected but unhealthy
// ones with why: a driver missing from a node is the usual reason a job
// does not place there.
func driversText(ds map[string]cluster.DriverInfo) string {
	var healthy, sick []string
	for _, name := range slices.Sorted(maps.Keys(ds)) {
		d := ds[name]
		switch {
		case d.Healthy:
			healthy = append(healthy, name)
		case d.Detected:
			s := name + " (unhealthy"
			if d.Description != "" {
				s += ": " + d.Description
			}
			sick = append(sick, s+")")
		}
	}
	return orNone(strings.Join(append(healthy, sick...), ", "))
}
