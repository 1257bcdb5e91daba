package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server/servertest"
)

// TestAPIRefusesPathNames is the reproduction through the API: a task
// named "../../../x" was registered and the agent built directories and
// wrote logs outside its data dir. Registration and plan now answer 400
// naming the field and the rule, and nothing is stored.
func TestAPIRefusesPathNames(t *testing.T) {
	s := servertest.Single(t)
	base := "http://" + s.HTTPAddr()
	for _, tc := range []struct {
		name string
		edit func(*testing.T) []byte
		want string
	}{
		{"task traversal", func(t *testing.T) []byte {
			job := parseJob(t, webJob("evil", 1, ""))
			job.Groups[0].Tasks[0].Name = "../../../x"
			return mustJSON(t, api.JobRegisterRequest{Job: job})
		}, `invalid job: 1 problem: job.group["web"].task["../../../x"].name: task name "../../../x" must not contain a slash or backslash`},
		{"task dot-dot", func(t *testing.T) []byte {
			job := parseJob(t, webJob("evil", 1, ""))
			job.Groups[0].Tasks[0].Name = ".."
			return mustJSON(t, api.JobRegisterRequest{Job: job})
		}, `invalid job: 1 problem: job.group["web"].task[".."].name: task name ".." must not be . or ..`},
		{"group traversal", func(t *testing.T) []byte {
			job := parseJob(t, webJob("evil", 1, ""))
			job.Groups[0].Name = `..\..`
			return mustJSON(t, api.JobRegisterRequest{Job: job})
		}, `group name "..\\.." must not contain a slash or backslash`},
		{"job id NUL", func(t *testing.T) []byte {
			job := parseJob(t, webJob("evil", 1, ""))
			job.ID = "evil\x00"
			return mustJSON(t, api.JobRegisterRequest{Job: job})
		}, `invalid job: 1 problem: job.id: job ID "evil\x00" must not contain a NUL character`},
		{"task too long", func(t *testing.T) []byte {
			job := parseJob(t, webJob("evil", 1, ""))
			job.Groups[0].Tasks[0].Name = strings.Repeat("x", 300)
			return mustJSON(t, api.JobRegisterRequest{Job: job})
		}, "is 300 bytes long; at most 128 are allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.edit(t)
			for _, route := range []string{"/v1/jobs", "/v1/job/evil/plan"} {
				code, e := rawRequest(t, "POST", base+route, "", body)
				if code != http.StatusBadRequest || !strings.Contains(e.Error, tc.want) {
					t.Errorf("POST %s = %d %q, want 400 containing %q", route, code, e.Error, tc.want)
				}
				if len(e.Diagnostics) != 1 || !strings.HasSuffix(e.Error, e.Diagnostics[0].Summary) {
					t.Errorf("POST %s: diagnostics %+v, want the one problem", route, e.Diagnostics)
				}
			}
		})
	}
	jobs, _, err := s.Client.Jobs().List(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 0 {
		t.Errorf("refused jobs were stored: %+v", jobs)
	}
}
