package repo

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/droverhq/drover/diff"
)

// JobConfig is a job block of drover.hcl: settings of one job that
// belong to the repository rather than to the job file.
//
//	job "api" {
//	  depends_on = ["postgres"]
//	}
type JobConfig struct {
	ID string
	// DependsOn are the IDs of the jobs whose rollout must succeed before
	// this job's starts, when one commit changes both.
	DependsOn []string

	block     hcl.Range
	depRanges []hcl.Range
}

var jobBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "depends_on"}},
}

func (c *Config) decodeJobBlock(b *hcl.Block) hcl.Diagnostics {
	id := b.Labels[0]
	jc := &JobConfig{ID: id, block: b.DefRange}
	if c.Jobs == nil {
		c.Jobs = make(map[string]*JobConfig)
	}
	if first, ok := c.Jobs[id]; ok {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Duplicate job block",
			Detail:  fmt.Sprintf("Job %q is already configured at %s; merge the two blocks.", id, first.block),
			Subject: b.DefRange.Ptr(),
		}}
	}
	c.Jobs[id] = jc
	content, diags := b.Body.Content(jobBlockSchema)
	attr, ok := content.Attributes["depends_on"]
	if !ok {
		return diags
	}
	exprs, ediags := hcl.ExprList(attr.Expr)
	diags = append(diags, ediags...)
	for _, e := range exprs {
		var dep string
		// A nil EvalContext: job IDs are literal.
		if d := gohcl.DecodeExpression(e, nil, &dep); d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		jc.DependsOn = append(jc.DependsOn, dep)
		jc.depRanges = append(jc.depRanges, e.Range())
	}
	return diags
}

// validateJobs checks the job blocks on their own: empty, duplicate and
// self dependencies, and cycles. Whether the jobs exist is CheckJobs'.
func (c *Config) validateJobs() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, id := range c.jobIDs() {
		jc := c.Jobs[id]
		seen := make(map[string]bool)
		for i, dep := range jc.DependsOn {
			var summary, detail string
			switch {
			case dep == "":
				summary, detail = "Empty dependency", fmt.Sprintf("depends_on of job %q holds an empty job ID.", id)
			case dep == id:
				summary, detail = "Job depends on itself", fmt.Sprintf("Job %q lists itself in depends_on; remove it.", id)
			case seen[dep]:
				summary, detail = "Duplicate dependency", fmt.Sprintf("Job %q lists %q twice in depends_on.", id, dep)
			default:
				seen[dep] = true
				continue
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: jc.depRange(i)})
		}
	}
	if diags.HasErrors() {
		return diags
	}
	for _, cycle := range c.cycles() {
		first := c.Jobs[cycle[0]]
		i := slices.Index(first.DependsOn, cycle[1])
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Dependency cycle",
			Detail: fmt.Sprintf("The jobs depend on each other in a circle: %s. Rollouts are ordered by depends_on, so one of these dependencies must go.",
				strings.Join(cycle, " → ")),
			Subject: first.depRange(i),
		})
	}
	return diags
}

func (jc *JobConfig) depRange(i int) *hcl.Range {
	if i >= 0 && i < len(jc.depRanges) {
		return jc.depRanges[i].Ptr()
	}
	if jc.block.Filename != "" {
		return jc.block.Ptr()
	}
	return nil
}

// cycles returns each dependency cycle once, as the path from its
// smallest job ID back to it: [a b c a].
func (c *Config) cycles() [][]string {
	const (
		unseen = iota
		active
		done
	)
	state := make(map[string]int)
	var stack []string
	var out [][]string
	found := make(map[string]bool)
	var visit func(id string)
	visit = func(id string) {
		state[id] = active
		stack = append(stack, id)
		if jc := c.Jobs[id]; jc != nil {
			for _, dep := range jc.DependsOn {
				switch state[dep] {
				case unseen:
					visit(dep)
				case active:
					cycle := slices.Clone(stack[slices.Index(stack, dep):])
					cycle = rotateToMin(cycle)
					if key := strings.Join(cycle, "\x00"); !found[key] {
						found[key] = true
						out = append(out, append(cycle, cycle[0]))
					}
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[id] = done
	}
	for _, id := range c.jobIDs() {
		if state[id] == unseen {
			visit(id)
		}
	}
	return out
}

func rotateToMin(cycle []string) []string {
	i := slices.Index(cycle, slices.Min(cycle))
	return append(cycle[i:], cycle[:i]...)
}

func (c *Config) jobIDs() []string {
	ids := make([]string, 0, len(c.Jobs))
	for id := range c.Jobs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// CheckJobs checks the job blocks against the repository's jobs: a block
// or a dependency naming a job that no file declares is an error, since
// it is a typo or a job deleted while others still wait for it.
//
// ids lists the repository's job IDs, for a did-you-mean suggestion.
func (c *Config) CheckJobs(ids []string) hcl.Diagnostics {
	exists := make(map[string]bool, len(ids))
	for _, id := range ids {
		exists[id] = true
	}
	var diags hcl.Diagnostics
	for _, id := range c.jobIDs() {
		jc := c.Jobs[id]
		if !exists[id] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Unknown job",
				Detail:  fmt.Sprintf("drover.hcl configures job %q, but no job file declares it.%s Fix the ID or remove the block.", id, didYouMean(id, ids)),
				Subject: jc.depRange(-1),
			})
		}
		for i, dep := range jc.DependsOn {
			if !exists[dep] {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError, Summary: "Unknown dependency",
					Detail:  fmt.Sprintf("Job %q depends on %q, but no job file declares a job %q.%s", id, dep, dep, didYouMean(dep, ids)),
					Subject: jc.depRange(i),
				})
			}
		}
	}
	return diags
}

// didYouMean suggests the job ID nearest to a misspelt one, if one is
// close: at most two edits, or a third of the name for long ones.
func didYouMean(name string, ids []string) string {
	best, bestDist := "", max(2, len(name)/3)+1
	for _, id := range ids {
		if d := editDistance(name, id); d < bestDist || d == bestDist && id < best {
			best, bestDist = id, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b, by bytes:
// job IDs are ASCII in practice.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// DependsOn returns the jobs that id depends on directly.
func (c *Config) DependsOn(id string) []string {
	if jc := c.Jobs[id]; jc != nil {
		return jc.DependsOn
	}
	return nil
}

// Requires returns every job that id depends on, directly or through
// other jobs, sorted. It terminates on cycles, which Validate rejects.
func (c *Config) Requires(id string) []string {
	seen := map[string]bool{id: true}
	var out []string
	queue := slices.Clone(c.DependsOn(id))
	for len(queue) > 0 {
		dep := queue[0]
		queue = queue[1:]
		if seen[dep] {
			continue
		}
		seen[dep] = true
		out = append(out, dep)
		queue = append(queue, c.DependsOn(dep)...)
	}
	slices.Sort(out)
	return out
}

// Waves orders jobs for rollout: each wave holds the jobs that require
// none of the given jobs not in an earlier wave. A job requiring a job
// outside the list (unchanged by a commit) does not wait for it. Within a
// wave, IDs are sorted. Jobs on a cycle, which Validate rejects, go into a
// last wave together rather than being lost.
func (c *Config) Waves(ids []string) [][]string {
	pending := make(map[string]bool, len(ids))
	for _, id := range ids {
		pending[id] = true
	}
	requires := make(map[string][]string, len(ids))
	for id := range pending {
		for _, dep := range c.Requires(id) {
			if pending[dep] {
				requires[id] = append(requires[id], dep)
			}
		}
	}
	var waves [][]string
	for len(pending) > 0 {
		var wave []string
		for id := range pending {
			ready := true
			for _, dep := range requires[id] {
				ready = ready && !pending[dep]
			}
			if ready {
				wave = append(wave, id)
			}
		}
		if len(wave) == 0 {
			for id := range pending {
				wave = append(wave, id)
			}
		}
		slices.Sort(wave)
		for _, id := range wave {
			delete(pending, id)
		}
		waves = append(waves, wave)
	}
	return waves
}

// OrderPlan records in a plan the rollout waves its created and updated
// jobs follow under these dependencies.
func (c *Config) OrderPlan(p *diff.Plan) {
	if p == nil || c == nil || len(c.Jobs) == 0 {
		return
	}
	p.SetWaves(c.Waves(p.RolledOut()), c.After)
}

// After returns the jobs among earlier that id waits for, leaving out
// those another of them requires already: web waits for api, and so for
// postgres, which need not be named.
func (c *Config) After(id string, earlier []string) []string {
	var waits []string
	for _, dep := range c.Requires(id) {
		if slices.Contains(earlier, dep) {
			waits = append(waits, dep)
		}
	}
	var out []string
	for _, x := range waits {
		implied := false
		for _, y := range waits {
			implied = implied || y != x && slices.Contains(c.Requires(y), x)
		}
		if !implied {
			out = append(out, x)
		}
	}
	return out
}
