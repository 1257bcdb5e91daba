package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/render"
)

// Default job size limits. A group's count is unbounded in the job
// specification, and a count of 100,000 once cost a cluster two minutes
// of leader elections (issue 14): the scheduler builds the whole plan in
// the leader's memory, and every allocation is a row in Raft, in each
// server's memory and in every snapshot. 100,000 allocations in one job
// is what the big-job end-to-end test shows a cluster takes without a
// leader change (BENCHMARKS.md); a single group that large is rarely
// meant, so a group stops at a tenth of it unless the operator says so.
const (
	DefaultJobMaxCount  = 10_000
	DefaultJobMaxAllocs = 100_000
)

// jobLimits bound the size of a job the server accepts. maxAllocs bounds
// the sum of a job's group counts, which is what one plan of the job
// may place at most (plus canaries during a canary phase).
type jobLimits struct {
	maxCount  int
	maxAllocs int
}

func (s *Server) jobLimits() jobLimits {
	return jobLimits{maxCount: s.cfg.JobMaxCount, maxAllocs: s.cfg.JobMaxAllocs}
}

// check refuses a job over the limits with a 400 that names each group
// over the limit, its count, the limit and how to raise it: the first
// problem in the message, every one in the diagnostics when there are
// several. src, when the job came from a file in a Git repository, puts
// the file's path in front of each problem (the server has only the
// decoded job, not the file's positions). Config.Validate keeps both
// limits positive; a zero one (a Config not made by DefaultConfig)
// checks nothing.
func (l jobLimits) check(spec *jobspec.Job, src *cluster.Source) error {
	where := ""
	if src != nil && src.Path != "" {
		where = src.Path + ": "
	}
	var problems []string
	total := 0
	for _, g := range spec.Groups {
		total += g.Count
		if l.maxCount > 0 && g.Count > l.maxCount {
			problems = append(problems, fmt.Sprintf(
				"%sjob %q, group %q: count = %d is over this server's limit of %d allocations per group; "+
					"lower the count, or raise the limit on every server (job_max_count in the server's config file, or -job-max-count)",
				where, spec.ID, g.Name, g.Count, l.maxCount))
		}
	}
	if l.maxAllocs > 0 && total > l.maxAllocs {
		problems = append(problems, fmt.Sprintf(
			"%sjob %q: its groups' counts add up to %d allocations (%s), over this server's limit of %d allocations per job; "+
				"split the job, or raise the limit on every server (job_max_allocs in the server's config file, or -job-max-allocs)",
			where, spec.ID, total, groupCounts(spec), l.maxAllocs))
	}
	if len(problems) == 0 {
		return nil
	}
	he := &httpError{code: http.StatusBadRequest, msg: problems[0]}
	if len(problems) == 1 {
		// The message says it all; a diagnostic would only repeat it
		// under it in the CLI.
		return he
	}
	he.msg = fmt.Sprintf("%s (and %d more problems)", problems[0], len(problems)-1)
	for _, p := range problems {
		he.diags = append(he.diags, render.DiagnosticJSON{Severity: "error", Summary: p})
	}
	return he
}

func groupCounts(spec *jobspec.Job) string {
	parts := make([]string, 0, len(spec.Groups))
	for _, g := range spec.Groups {
		parts = append(parts, fmt.Sprintf("%q %d", g.Name, g.Count))
	}
	return strings.Join(parts, ", ")
}
