package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/scheduler"
)

// The evaluation monitor of `job run` and `job stop`, after Nomad's: it
// follows an evaluation with blocking queries until the scheduler is done
// with it, and says what happened in the words Nomad users know.
//
// Deciding what to print (monitorStep, monitorDone) is separate from
// fetching, so that the wording is tested on constructed evaluations.

type monitorLineKind uint8

const (
	lineHead   monitorLineKind = iota // "==> <time>: ..."
	lineEvent                         // "    <time>: ..."
	lineDetail                        // an explanation below a head line, without a time
)

type monitorLine struct {
	kind monitorLineKind
	text string
}

// monitorSeen is what has been printed so far about an evaluation.
type monitorSeen struct {
	status string
	allocs map[string]bool
}

// monitorStep returns the lines that tell what changed since seen: the
// trigger on the first look, allocations the evaluation created, and
// status changes. It does not modify seen; it returns the new one.
func monitorStep(seen monitorSeen, eval *cluster.Evaluation, allocs []*cluster.Allocation) ([]monitorLine, monitorSeen) {
	var lines []monitorLine
	next := monitorSeen{status: eval.Status, allocs: maps.Clone(seen.allocs)}
	if next.allocs == nil {
		next.allocs = map[string]bool{}
	}
	if seen.status == "" {
		lines = append(lines, monitorLine{lineEvent, triggerText(eval)})
	}
	created := slices.Clone(allocs)
	slices.SortFunc(created, func(a, b *cluster.Allocation) int {
		return cmp.Or(cmp.Compare(a.CreateIndex, b.CreateIndex), strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	for _, a := range created {
		if a.EvalID != eval.ID || next.allocs[a.ID] {
			continue
		}
		next.allocs[a.ID] = true
		lines = append(lines, monitorLine{lineEvent, fmt.Sprintf("Allocation %q created: node %q, group %q", shortID(a.ID), shortID(a.NodeID), a.TaskGroup)})
	}
	if seen.status != "" && seen.status != eval.Status {
		lines = append(lines, monitorLine{lineEvent, fmt.Sprintf("Evaluation status changed: %q -> %q", seen.status, eval.Status)})
	}
	return lines, next
}

func triggerText(eval *cluster.Evaluation) string {
	switch {
	case eval.NodeID != "":
		return fmt.Sprintf("Evaluation triggered by node %q (%s)", shortID(eval.NodeID), eval.TriggeredBy)
	case eval.TriggeredBy == cluster.EvalTriggerJobRegister || eval.TriggeredBy == cluster.EvalTriggerJobDeregister || eval.TriggeredBy == "":
		return fmt.Sprintf("Evaluation triggered by job %q", eval.JobID)
	}
	return fmt.Sprintf("Evaluation triggered by %s of job %q", eval.TriggeredBy, eval.JobID)
}

// monitorDone returns the closing lines for an evaluation the scheduler
// is done with: its status, and for placements that failed, why, group
// by group, as scheduler.Explain words it.
func monitorDone(eval *cluster.Evaluation) []monitorLine {
	short := shortID(eval.ID)
	if eval.Status == cluster.EvalStatusFailed {
		return []monitorLine{{lineHead, fmt.Sprintf("Evaluation %q finished with status %q: %s", short, eval.Status, orNone(eval.StatusDescription))}}
	}
	if len(eval.FailedTGAllocs) == 0 {
		return []monitorLine{{lineHead, fmt.Sprintf("Evaluation %q finished with status %q", short, eval.Status)}}
	}
	lines := []monitorLine{{lineHead, fmt.Sprintf("Evaluation %q finished with status %q but failed to place all allocations:", short, eval.Status)}}
	lines = append(lines, explainLines(eval.FailedTGAllocs, "    ")...)
	if eval.BlockedEval != "" {
		lines = append(lines, monitorLine{lineDetail, fmt.Sprintf("    Evaluation %q waiting for additional capacity to place remainder", shortID(eval.BlockedEval))})
	}
	return lines
}

// explainLines words failed placements per group, groups in name order:
// the group's line, then one "* reason" line each.
func explainLines(failed map[string]*cluster.AllocMetric, prefix string) []monitorLine {
	var lines []monitorLine
	for _, g := range slices.Sorted(maps.Keys(failed)) {
		for i, l := range scheduler.Explain(g, failed[g]) {
			if i == 0 {
				lines = append(lines, monitorLine{lineDetail, prefix + l})
			} else {
				lines = append(lines, monitorLine{lineDetail, prefix + "  * " + l})
			}
		}
	}
	return lines
}

func writeMonitorLines(w io.Writer, at time.Time, lines []monitorLine) {
	ts := at.Format(time.RFC3339)
	for _, l := range lines {
		switch l.kind {
		case lineHead:
			fmt.Fprintf(w, "==> %s: %s\n", ts, l.text)
		case lineEvent:
			fmt.Fprintf(w, "    %s: %s\n", ts, l.text)
		default:
			fmt.Fprintln(w, l.text)
		}
	}
}

// evalMonitor follows evaluations on a server.
type evalMonitor struct {
	client *api.Client
	// out gets the progress lines; io.Discard for -json.
	out   io.Writer
	clock func() time.Time
}

// monitorResult is where an evaluation ended.
type monitorResult struct {
	Evaluation  *cluster.Evaluation   `json:"evaluation"`
	Allocations []*cluster.Allocation `json:"allocations"`
}

// exitCode maps the outcome to the command's exit code.
func (r monitorResult) exitCode() int {
	switch {
	case r.Evaluation == nil || r.Evaluation.Status == cluster.EvalStatusFailed:
		return exitError
	case len(r.Evaluation.FailedTGAllocs) > 0:
		return exitPlacementFailed
	}
	return exitOK
}

// run follows the evaluation until it is no longer pending. Every read is
// a blocking query on the evaluations table, so it wakes as soon as the
// scheduler writes and never polls.
func (m evalMonitor) run(ctx context.Context, evalID string) (monitorResult, error) {
	m.write([]monitorLine{{lineHead, fmt.Sprintf("Monitoring evaluation %q", shortID(evalID))}})
	seen := monitorSeen{}
	var index uint64
	for {
		eval, meta, err := m.client.Evaluations().Info(ctx, evalID, &api.QueryOptions{WaitIndex: index})
		if err != nil {
			return monitorResult{}, fmt.Errorf("monitor evaluation %s: %w", shortID(evalID), err)
		}
		index = meta.LastIndex
		var allocs []*cluster.Allocation
		if eval.Status != cluster.EvalStatusPending {
			// The scheduler commits an evaluation's allocations and its
			// new status together, so they are there once it is done.
			all, _, err := m.client.Jobs().Allocations(ctx, eval.JobID, nil)
			if err != nil {
				return monitorResult{}, fmt.Errorf("allocations of job %s: %w", eval.JobID, err)
			}
			for _, a := range all {
				if a.EvalID == eval.ID {
					allocs = append(allocs, a)
				}
			}
		}
		var lines []monitorLine
		lines, seen = monitorStep(seen, eval, allocs)
		m.write(lines)
		if eval.Status == cluster.EvalStatusPending {
			continue
		}
		if eval.Status == cluster.EvalStatusCanceled {
			if next, err := m.successor(ctx, eval); err != nil {
				return monitorResult{}, err
			} else if next != nil {
				m.write([]monitorLine{{lineHead, fmt.Sprintf("Evaluation %q was superseded: monitoring evaluation %q", shortID(eval.ID), shortID(next.ID))}})
				evalID, seen = next.ID, monitorSeen{allocs: seen.allocs}
				continue
			}
		}
		m.write(monitorDone(eval))
		return monitorResult{Evaluation: eval, Allocations: allocs}, nil
	}
}

// successor finds the evaluation that replaced a canceled one: the
// newest of the job's evaluations created after it that is not canceled.
func (m evalMonitor) successor(ctx context.Context, eval *cluster.Evaluation) (*cluster.Evaluation, error) {
	evals, _, err := m.client.Jobs().Evaluations(ctx, eval.JobID, nil)
	if err != nil {
		return nil, fmt.Errorf("evaluations of job %s: %w", eval.JobID, err)
	}
	var next *cluster.Evaluation
	for _, e := range evals {
		if e.CreateIndex > eval.CreateIndex && e.Status != cluster.EvalStatusCanceled && (next == nil || e.CreateIndex > next.CreateIndex) {
			next = e
		}
	}
	return next, nil
}

func (m evalMonitor) write(lines []monitorLine) {
	writeMonitorLines(m.out, m.clock(), lines)
}
