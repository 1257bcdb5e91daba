package cluster

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/droverhq/drover/jobspec"
)

func TestChecksHealth(t *testing.T) {
	st := func(s ...string) []CheckStatus {
		var out []CheckStatus
		for _, v := range s {
			out = append(out, CheckStatus{Name: "c", Service: "s", Status: v})
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		checks []CheckStatus
		want   string
	}{
		{"no results keep the task's health", nil, ServiceHealthPassing},
		{"all passing", st("passing", "passing"), ServiceHealthPassing},
		{"a warning passes", st("passing", "warning"), ServiceHealthPassing},
		{"one critical", st("passing", "critical"), ServiceHealthCritical},
		{"critical among warnings", st("warning", "critical", "warning"), ServiceHealthCritical},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ChecksHealth(tc.checks); got != tc.want {
				t.Fatalf("ChecksHealth = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidateCheckStatuses(t *testing.T) {
	ok := CheckStatus{Name: "alive", Service: "api", Status: "passing"}
	many := make([]CheckStatus, MaxCheckStatuses+1)
	for i := range many {
		many[i] = ok
	}
	with := func(f func(*CheckStatus)) []CheckStatus { c := ok; f(&c); return []CheckStatus{c} }
	for _, tc := range []struct {
		name string
		cs   []CheckStatus
		err  string
	}{
		{"none", nil, ""},
		{"one", []CheckStatus{ok}, ""},
		{"output at the bound", with(func(c *CheckStatus) { c.Output = strings.Repeat("x", MaxCheckOutput) }), ""},
		{"too many", many, "at most 64"},
		{"output too long", with(func(c *CheckStatus) { c.Output = strings.Repeat("x", MaxCheckOutput+1) }), "output is 257 bytes"},
		{"unknown status", with(func(c *CheckStatus) { c.Status = "pending" }), "want passing, warning or critical"},
		{"no name", with(func(c *CheckStatus) { c.Name = "" }), "a check name and a service name are required"},
		{"long name", with(func(c *CheckStatus) { c.Task = strings.Repeat("t", 300) }), "at most 256 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateCheckStatuses(tc.cs)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

func TestTruncateCheckOutput(t *testing.T) {
	s := strings.Repeat("é", MaxCheckOutput) // 2 bytes a rune
	got := TruncateCheckOutput(s)
	if len(got) > MaxCheckOutput || !utf8.ValidString(got) || len(got) < MaxCheckOutput-1 {
		t.Fatalf("truncated to %d bytes, valid=%v", len(got), utf8.ValidString(got))
	}
	if TruncateCheckOutput("short") != "short" {
		t.Fatal("short output changed")
	}
}

func TestApplyCheckStatuses(t *testing.T) {
	job := &jobspec.Job{Groups: []*jobspec.Group{{Name: "web",
		Services: []jobspec.Service{{Name: "api", Port: "http", Checks: []jobspec.Check{{Name: "alive"}, {}}}},
		Tasks:    []*jobspec.Task{{Name: "server", Services: []jobspec.Service{{Name: "api", Port: "admin", Checks: []jobspec.Check{{Name: "alive"}}}}}},
	}}}
	regs := func() []*ServiceRegistration {
		return []*ServiceRegistration{
			{ID: "_nomad-task-a1-group-web-api-http", Status: ServiceHealthPassing},
			{ID: "_nomad-task-a1-server-api-admin", Status: ServiceHealthPassing},
		}
	}
	c := func(name, task, status string) CheckStatus {
		return CheckStatus{Name: name, Service: "api", Task: task, Status: status}
	}
	for _, tc := range []struct {
		name   string
		checks []CheckStatus
		want   [2]string
		nCheck [2]int
	}{
		{"nothing reported", nil, [2]string{"passing", "passing"}, [2]int{0, 0}},
		{"group check critical", []CheckStatus{c("alive", "", "critical"), c("alive", "server", "passing")}, [2]string{"critical", "passing"}, [2]int{1, 1}},
		{"unnamed check critical", []CheckStatus{c("api[1]", "", "critical")}, [2]string{"critical", "passing"}, [2]int{1, 0}},
		{"task check critical", []CheckStatus{c("alive", "", "passing"), c("api[1]", "", "warning"), c("alive", "server", "critical")}, [2]string{"passing", "critical"}, [2]int{2, 1}},
		{"a check the job no longer has is ignored", []CheckStatus{c("gone", "", "critical")}, [2]string{"passing", "passing"}, [2]int{0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := regs()
			ApplyCheckStatuses(job, &Allocation{ID: "a1", TaskGroup: "web", CheckStatuses: tc.checks}, rs)
			for i, r := range rs {
				if r.Status != tc.want[i] || len(r.Checks) != tc.nCheck[i] {
					t.Errorf("%s: status %q with %d checks, want %q with %d", r.ID, r.Status, len(r.Checks), tc.want[i], tc.nCheck[i])
				}
			}
		})
	}
	// A critical task (AllocServices' verdict) stays critical however its checks pass.
	rs := regs()
	rs[0].Status = ServiceHealthCritical
	ApplyCheckStatuses(job, &Allocation{ID: "a1", TaskGroup: "web", CheckStatuses: []CheckStatus{c("alive", "", "passing")}}, rs)
	if rs[0].Status != ServiceHealthCritical {
		t.Fatal("passing checks revived an instance whose task is not running")
	}
}
