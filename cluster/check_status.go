package cluster

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/droverhq/drover/jobspec"
)

// ServiceHealthWarning is a check's warning status (a script check that
// exits 1, an HTTP check answered 429). Like Consul's default and the
// brief of Nomad's catalog, a warning does not take an instance out of
// the catalog: only critical does.
const ServiceHealthWarning = "warning"

// Bounds on what an agent may report of its checks with one allocation:
// the servers refuse more, so that a node cannot grow the Raft log or
// the catalog without limit.
const (
	// MaxCheckStatuses is the most checks one allocation reports.
	MaxCheckStatuses = 64
	// MaxCheckOutput is the most bytes of output kept per check.
	MaxCheckOutput = 256
	// maxCheckName bounds check, service and task names.
	maxCheckName = 256
)

// CheckStatus is the last result of one service check of an allocation,
// as its agent reports it (Nomad's client-side check result; Drover's
// agent sends it with the allocation's client update, and only when a
// status changes, so a check passing every interval writes nothing).
type CheckStatus struct {
	// Name is the check's name, or "<service>[<i>]" for an unnamed one.
	Name string `json:"name"`
	// Service is the name of the service the check belongs to.
	Service string `json:"service"`
	// Task is the task whose service block holds the check; empty for a
	// group-level service.
	Task string `json:"task,omitempty"`
	// Status is passing, warning or critical.
	Status string `json:"status"`
	// Output is the start of the failing result's message, at most
	// MaxCheckOutput bytes.
	Output    string    `json:"output,omitempty"`
	Timestamp time.Time `json:"timestamp"`
}

// CheckName is a check's name as the agent reports it: its own, or its
// service's name and its position for one that has none.
func CheckName(service string, i int, name string) string {
	if name != "" {
		return name
	}
	return fmt.Sprintf("%s[%d]", service, i)
}

// TruncateCheckOutput cuts s to at most MaxCheckOutput bytes on a rune
// boundary.
func TruncateCheckOutput(s string) string {
	if len(s) <= MaxCheckOutput {
		return s
	}
	s = s[:MaxCheckOutput]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// ValidateCheckStatuses checks what an agent reports against the bounds.
func ValidateCheckStatuses(cs []CheckStatus) error {
	if len(cs) > MaxCheckStatuses {
		return fmt.Errorf("%d check statuses, at most %d per allocation", len(cs), MaxCheckStatuses)
	}
	for i, c := range cs {
		switch c.Status {
		case ServiceHealthPassing, ServiceHealthWarning, ServiceHealthCritical:
		default:
			return fmt.Errorf("check_statuses[%d].status %q: want passing, warning or critical", i, c.Status)
		}
		if c.Name == "" || c.Service == "" {
			return fmt.Errorf("check_statuses[%d]: a check name and a service name are required", i)
		}
		if len(c.Name) > maxCheckName || len(c.Service) > maxCheckName || len(c.Task) > maxCheckName {
			return fmt.Errorf("check_statuses[%d]: names are at most %d bytes", i, maxCheckName)
		}
		if len(c.Output) > MaxCheckOutput {
			return fmt.Errorf("check_statuses[%d].output is %d bytes, at most %d", i, len(c.Output), MaxCheckOutput)
		}
	}
	return nil
}

// ChecksHealth is the catalog health that an instance's check results
// give: critical if any is critical, else passing (a warning passes, as
// in Consul's catalog). A check's on_update does not enter into it:
// Nomad documents on_update as how checks count "when determining
// deployment health", so an ignored check that fails still marks its
// service critical, as Consul would. No results is passing: the instance
// keeps the health its tasks give it until its first check reports.
func ChecksHealth(checks []CheckStatus) string {
	for _, c := range checks {
		if c.Status == ServiceHealthCritical {
			return ServiceHealthCritical
		}
	}
	return ServiceHealthPassing
}

// ApplyCheckStatuses sets each of an allocation's registrations (from
// AllocServices) to the results of its own service's checks: Checks to
// them, and Status to critical when one is critical. Results for checks
// the allocation's job version does not declare are ignored, so an
// in-place update that drops a check drops its stale result too.
func ApplyCheckStatuses(job *jobspec.Job, a *Allocation, regs []*ServiceRegistration) {
	if job == nil || a == nil || len(a.CheckStatuses) == 0 || len(regs) == 0 {
		return
	}
	g := job.Group(a.TaskGroup)
	if g == nil {
		return
	}
	type key struct{ task, service, check string }
	results := make(map[key]CheckStatus, len(a.CheckStatuses))
	for _, c := range a.CheckStatuses {
		results[key{c.Task, c.Service, c.Name}] = c
	}
	byID := make(map[string]*ServiceRegistration, len(regs))
	for _, r := range regs {
		byID[r.ID] = r
	}
	apply := func(s *jobspec.Service, owner, task string) {
		r := byID["_nomad-task-"+a.ID+"-"+owner+"-"+s.Name+"-"+s.Port]
		if r == nil {
			return
		}
		for i, c := range s.Checks {
			if st, ok := results[key{task, s.Name, CheckName(s.Name, i, c.Name)}]; ok {
				r.Checks = append(r.Checks, st)
			}
		}
		if ChecksHealth(r.Checks) == ServiceHealthCritical {
			r.Status = ServiceHealthCritical
		}
	}
	for i := range g.Services {
		apply(&g.Services[i], "group-"+g.Name, "")
	}
	for _, t := range g.Tasks {
		for i := range t.Services {
			apply(&t.Services[i], t.Name, t.Name)
		}
	}
}
