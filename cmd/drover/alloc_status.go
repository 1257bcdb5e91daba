package main

import (
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
	"github.com/droverhq/drover/jobspec"
)

const allocStatusHelp = `
Usage: drover alloc status [options] ALLOC

Show one allocation (an ID or a unique prefix of one, such as the eight
characters 'drover job status' prints): where it was placed, what the
servers want of it and what its node reports, then for each task its
state, restarts, resources and recent events, newest first.

Examples:
  drover alloc status 1a2b3c4d
  drover alloc status -json 1a2b | jq '.task_states'

Exit codes: 0 success, 1 an error (an unknown or ambiguous ID, an
unreachable server).
`

type allocStatusOptions struct {
	queryOptions
	alloc string
}

func runAllocStatus(ctx context.Context, args []string, io stdio) int {
	fs := newFlagSet("alloc status", allocStatusHelp, io)
	var opts allocStatusOptions
	opts.register(fs, "print the allocation as JSON")
	pos, code, done := parseArgs(fs, args, io, 1, 1, "Error: give exactly one allocation ID or prefix: drover alloc status ALLOC")
	if done {
		return code
	}
	opts.alloc = pos[0]
	return allocStatus(ctx, opts, io)
}

func allocStatus(ctx context.Context, opts allocStatusOptions, io stdio) int {
	client, now, ok := opts.connect(io)
	if !ok {
		return exitError
	}
	a, _, err := client.Allocations().Info(ctx, opts.alloc, nil)
	if err != nil {
		return allocLookupError(ctx, client, opts.alloc, err, now, io)
	}
	return opts.output(io, a, func() { renderAllocStatus(io.out, a, now) })
}

// allocLookupError explains a failed lookup: an unknown ID, or a prefix
// that matches several allocations, which are listed to pick from.
func allocLookupError(ctx context.Context, client *api.Client, key string, err error, now time.Time, io stdio) int {
	if api.IsNotFound(err) {
		fmt.Fprintf(io.err, "No allocation with ID %q (run 'drover job status JOB' to list a job's allocations)\n", key)
		return exitError
	}
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusBadRequest {
		return printAPIError(io, err, client.Address())
	}
	matches, _, lerr := client.Allocations().List(ctx, &api.QueryOptions{Prefix: key})
	if lerr != nil || len(matches) < 2 {
		return printAPIError(io, err, client.Address())
	}
	fmt.Fprintf(io.err, "Prefix %q matches %d allocations; give more of the ID:\n\n", key, len(matches))
	renderAllocMatches(io.err, matches, now)
	return exitError
}

func renderAllocMatches(w io.Writer, allocs []*cluster.Allocation, now time.Time) {
	allocs = slices.Clone(allocs)
	slices.SortFunc(allocs, func(a, b *cluster.Allocation) int { return strings.Compare(a.ID, b.ID) })
	rows := make([][]string, 0, len(allocs))
	for _, a := range allocs {
		rows = append(rows, []string{a.ID, a.JobID, a.TaskGroup, orNone(a.NodeName), a.DesiredStatus, a.ClientStatus, relTime(a.CreateTime, now)})
	}
	writeTable(w, []string{"ID", "Job", "Task Group", "Node", "Desired", "Status", "Created"}, rows)
}

// renderAllocStatus prints an allocation as `nomad alloc status` does.
func renderAllocStatus(w io.Writer, a *cluster.Allocation, now time.Time) {
	kv := [][2]string{
		{"ID", a.ID},
		{"Eval ID", shortID(a.EvalID)},
		{"Name", a.Name},
		{"Node ID", shortID(a.NodeID)},
		{"Node Name", orNone(a.NodeName)},
		{"Job ID", a.JobID},
		{"Job Version", strconv.FormatUint(a.JobVersion, 10)},
		{"Client Status", a.ClientStatus},
		{"Client Description", orNone(a.ClientDescription)},
		{"Desired Status", a.DesiredStatus},
		{"Desired Description", orNone(a.DesiredDescription)},
		{"Created", relTime(a.CreateTime, now)},
		{"Modified", relTime(a.ModifyTime, now)},
	}
	if a.PreviousAllocation != "" {
		kv = append(kv, [2]string{"Replaces", shortID(a.PreviousAllocation)})
	}
	if a.NextAllocation != "" {
		kv = append(kv, [2]string{"Replaced By", shortID(a.NextAllocation)})
	}
	if len(a.RescheduleEvents) > 0 {
		kv = append(kv, [2]string{"Reschedules", strconv.Itoa(len(a.RescheduleEvents))})
	}
	writeKV(w, kv)

	if len(a.Resources.Ports) > 0 {
		fmt.Fprintln(w, "\nAllocation Ports:")
		var rows [][]string
		for _, p := range a.Resources.Ports {
			to := "-"
			if p.To > 0 {
				to = strconv.Itoa(p.To)
			}
			host := strconv.Itoa(p.Value)
			if p.HostIP != "" {
				host = p.HostIP + ":" + host
			}
			rows = append(rows, []string{p.Label, host, to})
		}
		writeTable(w, []string{"Label", "Host", "To"}, rows)
	}

	for _, name := range taskNames(a) {
		fmt.Fprintln(w)
		renderTask(w, name, a.Resources.Tasks[name], a.TaskStates[name], now)
	}
}

// taskNames are the tasks the allocation reserved resources for, plus any
// its node reported a state for, by name.
func taskNames(a *cluster.Allocation) []string {
	names := slices.Collect(maps.Keys(a.Resources.Tasks))
	for n := range a.TaskStates {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// renderTask prints one task: its state, resources, restarts and events.
func renderTask(w io.Writer, name string, res jobspec.Resources, st *cluster.TaskState, now time.Time) {
	state, failed := cluster.TaskStatePending, false
	if st != nil {
		state, failed = st.State, st.Failed
	}
	fmt.Fprintf(w, "Task %q is %q", name, state)
	if failed {
		fmt.Fprint(w, " (failed)")
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "Task Resources:")
	writeTable(w, []string{"CPU", "Memory"}, [][]string{{fmt.Sprintf("%d MHz", res.CPU), memoryText(res)}})

	if st == nil {
		fmt.Fprintln(w, "\nNo task events: the node has not reported on this task yet.")
		return
	}
	fmt.Fprintln(w, "\nTask Events:")
	lastRestart := "N/A"
	for _, e := range st.Events {
		if e.Type == "Restarting" {
			lastRestart = formatTime(e.Time, now)
		}
	}
	writeKV(w, [][2]string{
		{"Started At", formatTime(st.StartedAt, now)},
		{"Finished At", formatTime(st.FinishedAt, now)},
		{"Total Restarts", strconv.Itoa(st.Restarts)},
		{"Last Restart", lastRestart},
	})

	fmt.Fprintln(w, "\nRecent Events:")
	events := slices.Clone(st.Events)
	// Newest first; events of the same instant keep the order the node
	// reported them in, reversed.
	slices.Reverse(events)
	slices.SortStableFunc(events, func(a, b cluster.TaskEvent) int { return b.Time.Compare(a.Time) })
	rows := make([][]string, 0, len(events))
	for _, e := range events {
		rows = append(rows, []string{formatTime(e.Time, now), e.Type, eventText(e)})
	}
	writeTable(w, []string{"Time", "Type", "Description"}, rows)
}

func memoryText(r jobspec.Resources) string {
	if r.MemoryMaxMB > r.MemoryMB {
		return fmt.Sprintf("%d MB (max %d MB)", r.MemoryMB, r.MemoryMaxMB)
	}
	return fmt.Sprintf("%d MB", r.MemoryMB)
}

// eventText is an event's description: the agent's message, with the
// exit code and signal of a task that ended.
func eventText(e cluster.TaskEvent) string {
	var parts []string
	if e.ExitCode != 0 || e.Type == "Terminated" {
		parts = append(parts, fmt.Sprintf("Exit Code: %d", e.ExitCode))
	}
	if e.Signal != 0 {
		parts = append(parts, fmt.Sprintf("Signal: %d", e.Signal))
	}
	if e.Message != "" {
		parts = append(parts, e.Message)
	}
	return strings.Join(parts, ", ")
}
