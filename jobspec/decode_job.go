package jobspec

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

var jobTypes = []string{string(JobTypeService), string(JobTypeBatch), string(JobTypeSystem), string(JobTypeSysBatch)}

// jobScope is what a group inherits from its job: the type that picks the
// defaults, and the job-level policy blocks merged under the group's own.
type jobScope struct {
	id        string
	typ       JobType
	update    patch[UpdateStrategy]
	updateBlk *hclsyntax.Block // the job-level update block, if any
	// updateSeen holds the update diagnostics already reported, so that a
	// job-level setting shared by many groups is reported once.
	updateSeen map[string]bool
	reschedule patch[ReschedulePolicy]
	migrate    patch[Migrate]
	// parameterized: the job has a parameterized block, so its tasks may
	// have a dispatch_payload.
	parameterized bool
}

func decodeJob(ev *evaluator, b *hclsyntax.Block) (*Job, hcl.Diagnostics) {
	body := b.Body
	diags := jobSpec.check(body, b.DefRange())
	job := &Job{
		ID:          b.Labels[0],
		Type:        JobTypeService,
		Region:      "global",
		Namespace:   "default",
		Datacenters: []string{"*"},
		Priority:    defaultPriority,
	}
	diags = append(diags, checkName("job ID", job.ID, b.LabelRanges[0], true)...)
	job.Name = job.ID

	// The type comes first: it picks the defaults of everything else.
	if a := body.Attributes["type"]; a != nil {
		if s, ok, ds := ev.str(a); ok {
			ds = append(ds, checkEnum(a, s, jobTypes)...)
			if !ds.HasErrors() {
				job.Type = JobType(s)
			}
			diags = append(diags, ds...)
		} else {
			diags = append(diags, ds...)
		}
	}
	if a := body.Attributes["name"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			diags = append(diags, checkName("job name", s, a.Expr.Range(), false)...)
			job.Name = s
		}
	}
	diags = append(diags, setStr(ev, body, "region", &job.Region)...)
	diags = append(diags, setStr(ev, body, "namespace", &job.Namespace)...)
	if a := body.Attributes["datacenters"]; a != nil {
		l, ok, ds := ev.strList(a)
		diags = append(diags, ds...)
		if ok {
			job.Datacenters = l
			if len(l) == 0 {
				diags = append(diags, typeErr(a, "a non-empty list; omit it to run in every datacenter", nil)...)
			}
		}
	}
	if a := body.Attributes["priority"]; a != nil {
		n, ok, ds := ev.integer(a, 1, 100)
		diags = append(diags, ds...)
		if ok {
			job.Priority = n
		}
	}
	var ds hcl.Diagnostics
	job.Meta, ds = decodeFreeMap(ev, body, "meta")
	diags = append(diags, ds...)
	job.NodePool, ds = decodeNodePool(ev, body)
	diags = append(diags, ds...)
	diags = append(diags, allAtOnceWarning(ev, body.Attributes["all_at_once"])...)

	scope := jobScope{id: job.ID, typ: job.Type}
	var groups, tasks []*hclsyntax.Block
	for _, blk := range body.Blocks {
		var ds hcl.Diagnostics
		switch blk.Type {
		case "constraint":
			var c *Constraint
			if c, ds = decodeConstraint(ev, blk); c != nil {
				job.Constraints = append(job.Constraints, *c)
			}
		case "affinity":
			var a *Affinity
			if a, ds = decodeAffinity(ev, blk); a != nil {
				job.Affinities = append(job.Affinities, *a)
			}
		case "spread":
			var s *Spread
			if s, ds = decodeSpread(ev, blk); s != nil {
				job.Spreads = append(job.Spreads, *s)
			}
		case "update":
			scope.update, ds = updateFlat.decode(ev, blk)
			scope.updateBlk = blk
			if !hasDeployments(job.Type) {
				ds = append(ds, updateNotForType(blk, job.Type))
			}
		case "reschedule":
			scope.reschedule, ds = rescheduleFlat.decode(ev, blk)
			if defaultReschedule(job.Type) == nil {
				ds = append(ds, notForType(blk, job.Type, "service and batch"))
			}
		case "migrate":
			scope.migrate, ds = migrateFlat.decode(ev, blk)
			if job.Type != JobTypeService {
				ds = append(ds, notForType(blk, job.Type, "service"))
			}
		case "periodic":
			job.Periodic, ds = decodePeriodic(ev, blk)
			if job.Type != JobTypeBatch && job.Type != JobTypeSysBatch {
				ds = append(ds, notForType(blk, job.Type, "batch and sysbatch"))
			}
		case "parameterized":
			job.Parameterized, ds = decodeParameterized(ev, blk)
			if job.Type != JobTypeBatch && job.Type != JobTypeSysBatch {
				ds = append(ds, notForType(blk, job.Type, "batch and sysbatch"))
			}
		case "ui":
			job.UI, ds = decodeUI(ev, blk)
		case "group":
			if usable(blk, 1) {
				groups = append(groups, blk)
			}
		case "task":
			if usable(blk, 1) {
				tasks = append(tasks, blk)
			}
		}
		diags = append(diags, ds...)
	}
	scope.parameterized = job.Parameterized != nil

	// A task written directly in the job becomes a group of the same
	// name holding only that task, placed before the written groups, as
	// Nomad's jobspec2 does (normalizeJob).
	if len(tasks) > 0 {
		alone := make([]*hclsyntax.Block, 0, len(tasks)+len(groups))
		for _, tb := range tasks {
			alone = append(alone, &hclsyntax.Block{
				Type:            "group",
				Labels:          tb.Labels,
				Body:            &hclsyntax.Body{Attributes: hclsyntax.Attributes{}, Blocks: hclsyntax.Blocks{tb}, SrcRange: tb.Range(), EndRange: tb.CloseBraceRange},
				TypeRange:       tb.TypeRange,
				LabelRanges:     tb.LabelRanges,
				OpenBraceRange:  tb.OpenBraceRange,
				CloseBraceRange: tb.CloseBraceRange,
			})
		}
		groups = append(alone, groups...)
	}
	if len(groups) == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing group",
			Detail:   fmt.Sprintf("Job %q has no group; a job needs at least one group with a task.", job.ID),
			Subject:  b.DefRange().Ptr(),
		})
	}
	seen := map[string]hcl.Range{}
	for _, gb := range groups {
		name := gb.Labels[0]
		if prev, dup := seen[name]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate group",
				Detail:   fmt.Sprintf("Group %q is already defined at %s.", name, prev),
				Subject:  gb.LabelRanges[0].Ptr(),
			})
			continue
		}
		seen[name] = gb.LabelRanges[0]
		g, ds := decodeGroup(ev, gb, &scope)
		diags = append(diags, ds...)
		job.Groups = append(job.Groups, g)
	}
	return job, diags
}

func notForType(b *hclsyntax.Block, t JobType, allowed string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Job type %q does not allow the %s block", t, b.Type),
		Detail:   fmt.Sprintf("The %s block only applies to %s jobs, as in Nomad.", b.Type, allowed),
		Subject:  b.DefRange().Ptr(),
	}
}

// checkName rejects names that cannot serve as IDs in paths, logs and
// API URLs, by the rule of CheckName (names.go). strict additionally
// forbids whitespace (job IDs, as in Nomad).
func checkName(what, name string, rng hcl.Range, strict bool) hcl.Diagnostics {
	problem := nameProblem(name, strict)
	if problem == "" {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid %s", what),
		Detail:   fmt.Sprintf("The %s %q %s.", what, name, problem),
		Subject:  rng.Ptr(),
	}}
}

func setStr(ev *evaluator, body *hclsyntax.Body, name string, dst *string) hcl.Diagnostics {
	a := body.Attributes[name]
	if a == nil {
		return nil
	}
	s, ok, diags := ev.str(a)
	if ok {
		*dst = s
	}
	return diags
}

// decodeFreeMap reads meta or env in either spelling: an argument holding a
// map, or a block of name = value arguments.
func decodeFreeMap(ev *evaluator, body *hclsyntax.Body, name string) (map[string]string, hcl.Diagnostics) {
	if a := body.Attributes[name]; a != nil {
		m, _, diags := ev.strMap(a)
		return m, diags
	}
	for _, b := range body.Blocks {
		if b.Type == name && usable(b, 0) {
			return ev.freeMap(b.Body)
		}
	}
	return nil, nil
}

func decodePeriodic(ev *evaluator, b *hclsyntax.Block) (*Periodic, hcl.Diagnostics) {
	body := b.Body
	diags := periodicSpec.check(body, b.DefRange())
	p := &Periodic{Enabled: true, TimeZone: "UTC"}
	cron, crons := body.Attributes["cron"], body.Attributes["crons"]
	switch {
	case cron != nil && crons != nil:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Conflicting periodic schedules",
			Detail:   `Set either "cron" or "crons", not both.`,
			Subject:  crons.NameRange.Ptr(),
		})
	case cron != nil:
		s, ok, ds := ev.str(cron)
		diags = append(diags, ds...)
		if ok {
			p.Crons = []string{s}
			diags = append(diags, checkCron(s, cron.Expr.Range())...)
		}
	case crons != nil:
		l, ok, ds := ev.strList(crons)
		diags = append(diags, ds...)
		if ok {
			p.Crons = l
			if len(l) > MaxCrons {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Too many periodic schedules",
					Detail:   fmt.Sprintf("crons lists %d expressions; at most %d are allowed.", len(l), MaxCrons),
					Subject:  crons.Expr.Range().Ptr(),
				})
				l = nil
			}
			for _, s := range l {
				diags = append(diags, checkCron(s, crons.Expr.Range())...)
			}
		}
	}
	if len(p.Crons) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing periodic schedule",
			Detail:   `A periodic block needs "cron" or "crons".`,
			Subject:  b.DefRange().Ptr(),
		})
	}
	if a := body.Attributes["prohibit_overlap"]; a != nil {
		v, ok, ds := ev.boolean(a)
		diags = append(diags, ds...)
		if ok {
			p.ProhibitOverlap = v
		}
	}
	if a := body.Attributes["enabled"]; a != nil {
		v, ok, ds := ev.boolean(a)
		diags = append(diags, ds...)
		if ok {
			p.Enabled = v
		}
	}
	diags = append(diags, setStr(ev, body, "time_zone", &p.TimeZone)...)
	if p.TimeZone == "" {
		p.TimeZone = "UTC"
	}
	if _, err := p.Location(); err != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid time zone",
			Detail:   fmt.Sprintf("%v. Use an IANA zone name such as \"America/New_York\".", err),
			Subject:  b.DefRange().Ptr(),
		})
	}
	return p, diags
}

// checkCron does the shape check that needs no cron library: Nomad's
// cronexpr takes 5 to 7 fields or an @ macro.
func checkCron(s string, rng hcl.Range) hcl.Diagnostics {
	if _, err := ParseCron(s); err != nil {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid cron expression",
			Detail:   fmt.Sprintf("%q is not a cron expression Drover runs: %v. Use 5 fields (minute hour day month weekday), 6 with leading seconds, or one of @yearly, @monthly, @weekly, @daily, @hourly.", s, err),
			Subject:  rng.Ptr(),
		}}
	}
	return nil
}

func decodeParameterized(ev *evaluator, b *hclsyntax.Block) (*Parameterized, hcl.Diagnostics) {
	body := b.Body
	diags := parameterizedSpec.check(body, b.DefRange())
	p := &Parameterized{Payload: "optional"}
	if a := body.Attributes["payload"]; a != nil {
		s, ok, ds := ev.str(a)
		diags = append(diags, ds...)
		if ok {
			ds = checkEnum(a, s, []string{"optional", "required", "forbidden"})
			diags = append(diags, ds...)
			p.Payload = s
		}
	}
	for _, f := range []named[[]string]{{"meta_required", &p.MetaRequired}, {"meta_optional", &p.MetaOptional}} {
		name, dst := f.name, f.dst
		if a := body.Attributes[name]; a != nil {
			l, ok, ds := ev.strList(a)
			diags = append(diags, ds...)
			if ok {
				*dst = l
			}
		}
	}
	return p, diags
}

// allAtOnceWarning accepts Nomad's job-level all_at_once, which Nomad
// deprecated and ignores (its scheduler places what fits, as Drover's
// does), with a warning rather than an error, so that old files run.
func allAtOnceWarning(ev *evaluator, a *hclsyntax.Attribute) hcl.Diagnostics {
	if a == nil {
		return nil
	}
	_, _, diags := ev.boolean(a)
	if diags.HasErrors() {
		return diags
	}
	return append(diags, &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  "all_at_once is ignored",
		Detail:   "all_at_once is deprecated in Nomad and has no effect: the scheduler places the allocations that fit and retries the rest. Remove it.",
		Subject:  a.NameRange.Ptr(),
	})
}
