package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

// `drover service ...`: Nomad's service commands over the native catalog
// (provider = "nomad"). Instances are registered and removed by the
// servers as allocations start and stop; these commands read the catalog
// and remove a stale instance.

func runService(ctx context.Context, args []string, io stdio) int {
	return dispatch(ctx, "service", "Inspect the native service catalog: the running instances of jobs' service blocks.", serviceCommands(), args, io)
}

const serviceListHelp = `
Usage: drover service list [options]

List the services registered in the native catalog (service blocks with
provider = "nomad", the default), with the tags of their instances.

Examples:
  drover service list
  drover service list -namespace '*'
  drover service list -json | jq -r '.[].services[].service_name'

Exit codes: 0 success, 1 an error (an unreachable server).
`

func runServiceList(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("service list", serviceListHelp, io)
	var opts queryOptions
	opts.register(fs, "print the services as JSON")
	ns := fs.String("namespace", "", "the `namespace` to list (\"*\" for all; default \"default\")")
	_, client, _, code, ok := opts.start(fs, args, io, 0, 0, "Error: service list takes no arguments (see --help)")
	if !ok {
		return code
	}
	q := &api.QueryOptions{}
	if *ns != "" {
		q.Params = map[string]string{"namespace": *ns}
	}
	list, _, err := client.Services().List(ctx, q)
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	return opts.output(io, list, func() { renderServiceList(io.out, list) })
}

func renderServiceList(w io.Writer, list []*api.ServiceRegistrationListStub) {
	var rows [][]string
	for _, ns := range list {
		for _, s := range ns.Services {
			rows = append(rows, []string{s.ServiceName, ns.Namespace, "[" + strings.Join(s.Tags, ",") + "]"})
		}
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "No service registrations found")
		return
	}
	writeTable(w, []string{"Service Name", "Namespace", "Tags"}, rows)
}

const serviceInfoHelp = `
Usage: drover service info [options] NAME

Show the instances of a service: job, address and tags of each. Only
healthy instances are shown unless -all is given (an instance is critical
while its task is not running or its allocation's checks failed).

Examples:
  drover service info api
  drover service info -verbose api
  drover service info -choose '2|web-1' api
  drover service info -json api | jq -r '.[] | "\(.address):\(.port)"'

Exit codes: 0 success (also when the service has no instance), 1 an error.
`

func runServiceInfo(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("service info", serviceInfoHelp, io)
	var opts queryOptions
	opts.register(fs, "print the instances as JSON")
	ns := fs.String("namespace", "", "the service's `namespace` (default \"default\")")
	all := fs.Bool("all", false, "show critical instances too")
	choose := fs.String("choose", "", "pick `N|KEY`: N instances by rendezvous hashing on KEY (the same KEY picks the same instances while they exist)")
	verbose := fs.Bool("verbose", false, "show every field of each instance")
	pos, client, _, code, ok := opts.start(fs, args, io, 1, 1, "Error: give one service name: drover service info NAME (run 'drover service list' to see them)")
	if !ok {
		return code
	}
	params := map[string]string{}
	if *ns != "" {
		params["namespace"] = *ns
	}
	if *all {
		params["all"] = "true"
	}
	if *choose != "" {
		params["choose"] = *choose
	}
	regs, _, err := client.Services().Get(ctx, pos[0], &api.QueryOptions{Params: params})
	if err != nil {
		return printAPIError(io, err, client.Address())
	}
	return opts.output(io, regs, func() { renderServiceInfo(io.out, pos[0], regs, *verbose) })
}

func renderServiceInfo(w io.Writer, name string, regs []*cluster.ServiceRegistration, verbose bool) {
	if len(regs) == 0 {
		fmt.Fprintf(w, "No healthy instances of service %q (try -all, or 'drover service list')\n", name)
		return
	}
	if verbose {
		for i, r := range regs {
			if i > 0 {
				fmt.Fprintln(w)
			}
			kv := [][2]string{
				{"ID", r.ID}, {"Service Name", r.ServiceName}, {"Namespace", r.Namespace},
				{"Job ID", r.JobID}, {"Alloc ID", r.AllocID}, {"Node ID", r.NodeID},
				{"Datacenter", r.Datacenter}, {"Address", net.JoinHostPort(r.Address, strconv.Itoa(r.Port))},
				{"Tags", "[" + strings.Join(r.Tags, ",") + "]"}, {"Status", r.Status},
				{"Canary", strconv.FormatBool(r.Canary)},
				{"Create Index", strconv.FormatUint(r.CreateIndex, 10)}, {"Modify Index", strconv.FormatUint(r.ModifyIndex, 10)},
			}
			for _, k := range slices.Sorted(maps.Keys(r.Meta)) {
				kv = append(kv, [2]string{"Meta[" + k + "]", r.Meta[k]})
			}
			writeKV(w, kv)
			renderServiceChecks(w, r.Checks)
		}
		return
	}
	rows := make([][]string, 0, len(regs))
	for _, r := range regs {
		rows = append(rows, []string{r.JobID, net.JoinHostPort(r.Address, strconv.Itoa(r.Port)),
			"[" + strings.Join(r.Tags, ",") + "]", shortID(r.NodeID), shortID(r.AllocID), r.Status})
	}
	writeTable(w, []string{"Job ID", "Address", "Tags", "Node ID", "Alloc ID", "Status"}, rows)
}

const serviceDeleteHelp = `
Usage: drover service delete [options] NAME ID

Remove one instance of a service from the catalog (its ID is in
'drover service info -verbose NAME'). The catalog follows allocations: an
instance whose allocation still runs is registered again with that
allocation's next update, so stop the allocation's job to remove it for
good; delete is for an instance left behind.

Examples:
  drover service delete api _nomad-task-5e1f...-group-api-api-http

Exit codes: 0 success, 1 an error (an unknown instance, an unreachable server).
`

func runServiceDelete(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("service delete", serviceDeleteHelp, io)
	var opts clientOptions
	opts.register(fs)
	ns := fs.String("namespace", "", "the service's `namespace` (default \"default\")")
	pos, code, done := parseArgs(fs, args, io, 2, 2, "Error: give a service name and an instance ID: drover service delete NAME ID")
	if done {
		return code
	}
	client, ok := opts.newClient(io)
	if !ok {
		return exitError
	}
	if _, err := client.Services().Delete(ctx, *ns, pos[0], pos[1]); err != nil {
		return printAPIError(io, err, client.Address())
	}
	fmt.Fprintf(io.out, "Successfully deleted service registration %q\n", pos[1])
	return exitOK
}
