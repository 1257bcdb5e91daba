package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// childKind is what names a job's children: "dispatch" for a
// parameterized job (JOB/dispatch-...), "periodic" for a periodic one
// (JOB/periodic-<unix>), "" for a job that has none. A job that is both
// is dispatched; its dispatched children are the periodic ones, as in
// Nomad.
func childKind(j *cluster.Job) string {
	switch {
	case j.Spec == nil:
		return ""
	case j.Spec.Parameterized != nil:
		return "dispatch"
	case j.Spec.Periodic != nil:
		return "periodic"
	}
	return ""
}

// sortChildren puts the newest child first, as `nomad job status` does.
func sortChildren(kids []*api.JobListStub) {
	slices.SortFunc(kids, func(a, b *api.JobListStub) int {
		return cmp.Or(b.SubmitTime.Compare(a.SubmitTime), strings.Compare(b.ID, a.ID))
	})
}

// renderChildren lists a periodic or parameterized job's children under
// Nomad's headings: "Previously Launched Jobs" and "Dispatched Jobs".
func renderChildren(w io.Writer, j *cluster.Job, kids []*api.JobListStub, now time.Time) {
	heading, none := "", ""
	switch childKind(j) {
	case "dispatch":
		heading, none = "Dispatched Jobs", fmt.Sprintf("No dispatched jobs ('drover job dispatch %s' runs one)", j.ID)
	case "periodic":
		heading, none = "Previously Launched Jobs", "No jobs launched yet"
	default:
		return
	}
	fmt.Fprintln(w, "\n"+heading)
	if len(kids) == 0 {
		fmt.Fprintln(w, none)
		return
	}
	kids = slices.Clone(kids)
	sortChildren(kids)
	rows := make([][]string, 0, len(kids))
	for _, c := range kids {
		rows = append(rows, []string{c.ID, c.Status, formatTime(c.SubmitTime, now)})
	}
	writeTable(w, []string{"ID", "Status", "Submit Date"}, rows)
}

// batchOutcome says how a dead batch or sysbatch job ended: "complete"
// when the last allocation of every lineage completed, "failed" when one
// failed or was lost for good; "" for another job or status. Nomad's
// status stays "dead" either way; this is what a user asks next.
func batchOutcome(j *cluster.Job, allocs []*cluster.Allocation) string {
	if j.Status != cluster.JobStatusDead || j.Spec == nil || len(allocs) == 0 || childKind(j) != "" {
		return ""
	}
	if t := j.Spec.Type; t != jobspec.JobTypeBatch && t != jobspec.JobTypeSysBatch {
		return ""
	}
	for _, a := range allocs {
		if a.NextAllocation != "" {
			continue // replaced: its successor tells
		}
		switch a.ClientStatus {
		case cluster.AllocClientComplete:
		case cluster.AllocClientFailed, cluster.AllocClientLost:
			return "failed"
		default:
			return ""
		}
	}
	return "complete"
}

// childSource says where a periodic or dispatched child came from: its
// parent, not a file; "" for any other job.
func childSource(j *cluster.Job) string {
	switch {
	case j.ParentID == "":
		return ""
	case strings.HasPrefix(j.ID, j.ParentID+"/dispatch-"):
		return fmt.Sprintf("dispatched from %s ('drover job dispatch'), not from Git", j.ParentID)
	case strings.HasPrefix(j.ID, j.ParentID+"/periodic-"):
		return fmt.Sprintf("launched on the schedule of %s, not from Git", j.ParentID)
	}
	return "a child of " + j.ParentID + ", not from Git"
}
