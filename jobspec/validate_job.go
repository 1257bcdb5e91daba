package jobspec

import (
	"fmt"
	"strings"
	"unicode"
)

// FieldError is one problem of a job that did not come from a file (a job
// submitted to the API as JSON): it names the field by its path, e.g.
// job.group["web"].task["server"].driver, since there is no line and
// column to point at.
type FieldError struct {
	Path    string
	Message string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Message }

// ValidateJob checks the invariants the servers rely on in a job that did
// not go through Parse: an ID, at least one group with at least one task,
// supported drivers, unique names, non-negative counts and positive
// resources. It returns every problem, in field order; none means valid.
func ValidateJob(j *Job) []error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if j == nil {
		add("job", "is missing")
		return errs
	}
	switch {
	case j.ID == "":
		add("job.id", "is required")
	case len(j.ID) > 128:
		add("job.id", "is %d bytes long; at most 128 are allowed", len(j.ID))
	case strings.IndexFunc(j.ID, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' }) >= 0:
		add("job.id", "%q contains whitespace, a control character or '/'", j.ID)
	}
	switch j.Type {
	case "", JobTypeService, JobTypeBatch, JobTypeSystem, JobTypeSysBatch:
	default:
		add("job.type", "%q is not a job type; use service, batch, system or sysbatch", j.Type)
	}
	if j.Priority < 0 || j.Priority > 100 {
		add("job.priority", "%d is out of range 1..100", j.Priority)
	}
	if len(j.Datacenters) == 0 {
		add("job.datacenters", `at least one is required ("*" matches every datacenter)`)
	}
	for i, dc := range j.Datacenters {
		if dc == "" {
			add(fmt.Sprintf("job.datacenters[%d]", i), "is empty")
		}
	}
	if len(j.Groups) == 0 {
		add("job.groups", "at least one group is required")
	}
	validateIssue15(j, add)
	groups := map[string]bool{}
	for gi, g := range j.Groups {
		gp := elemPath("job.group", gi, "")
		if g == nil {
			add(gp, "is null")
			continue
		}
		gp = elemPath("job.group", gi, g.Name)
		if g.Name == "" {
			add(gp+".name", "is required")
		} else if groups[g.Name] {
			add(gp+".name", "%q is used by another group of the job", g.Name)
		}
		groups[g.Name] = true
		if g.Count < 0 {
			add(gp+".count", "is %d; it must not be negative", g.Count)
		}
		if len(g.Networks) > 1 {
			add(gp+".network", "at most one network per group is supported")
		}
		labels := map[string]bool{}
		for ni, n := range g.Networks {
			for pi, p := range n.Ports {
				pp := fmt.Sprintf("%s.network[%d].port[%d]", gp, ni, pi)
				if p.Label == "" {
					add(pp+".label", "is required")
				} else if labels[p.Label] {
					add(pp+".label", "%q is used by another port of the group", p.Label)
				}
				labels[p.Label] = true
				if p.Static < 0 || p.Static > 65535 {
					add(pp+".static", "%d is not a port number", p.Static)
				}
				if p.To < -1 || p.To > 65535 {
					add(pp+".to", "%d is not a port number", p.To)
				}
			}
		}
		validateRollout(g.Rollout, j.Type, gp+".rollout", add)
		if len(g.Tasks) == 0 {
			add(gp+".tasks", "at least one task is required")
		}
		tasks := map[string]bool{}
		for ti, t := range g.Tasks {
			tp := elemPath(gp+".task", ti, "")
			if t == nil {
				add(tp, "is null")
				continue
			}
			tp = elemPath(gp+".task", ti, t.Name)
			if t.Name == "" {
				add(tp+".name", "is required")
			} else if tasks[t.Name] {
				add(tp+".name", "%q is used by another task of the group", t.Name)
			}
			tasks[t.Name] = true
			if !driverSupported(t.Driver) {
				add(tp+".driver", "%q is not supported; use one of %s", t.Driver, strings.Join(SupportedDrivers(), ", "))
			}
			r := t.Resources
			if r.CPU <= 0 {
				add(tp+".resources.cpu", "is %d MHz; it must be positive", r.CPU)
			}
			if r.MemoryMB <= 0 {
				add(tp+".resources.memory", "is %d MB; it must be positive", r.MemoryMB)
			}
			if r.Cores < 0 {
				add(tp+".resources.cores", "is %d; it must not be negative", r.Cores)
			}
			if r.MemoryMaxMB < -1 {
				add(tp+".resources.memory_max", "is %d; use -1 for no limit, or at least memory", r.MemoryMaxMB)
			} else if r.MemoryMaxMB > 0 && r.MemoryMaxMB < r.MemoryMB {
				add(tp+".resources.memory_max", "is %d MB, below memory (%d MB)", r.MemoryMaxMB, r.MemoryMB)
			}
		}
	}
	return errs
}

// elemPath names a list element by its name when it has one, as the HCL
// block would: job.group["web"]; else by index: job.group[0].
func elemPath(base string, i int, name string) string {
	if name != "" {
		return fmt.Sprintf("%s[%q]", base, name)
	}
	return fmt.Sprintf("%s[%d]", base, i)
}
