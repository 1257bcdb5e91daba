package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
)

// Unknown JSON fields are refused by the real handlers with a 400 that
// names the field and the nearest known one, and nothing is stored.
func TestUnknownJSONFieldsAreRefused(t *testing.T) {
	s := aclServer(t)
	base := "http://" + s.HTTPAddr()
	job := string(mustJSON(t, api.JobRegisterRequest{Job: parseJob(t, webJob("web", 1, ""))}))
	if !strings.Contains(job, `"resources":{`) || !strings.Contains(job, `"datacenters":`) {
		t.Fatalf("job JSON lacks the fields the cases rename: %s", job)
	}
	cases := []struct {
		name, method, path, body, want string
	}{
		{"job top-level typo", "POST", "/v1/jobs", strings.Replace(job, `"datacenters":`, `"datacenterz":`, 1),
			`unknown field "datacenterz"; did you mean "datacenters"? (in job)`},
		{"request typo", "POST", "/v1/jobs", strings.Replace(job, `{"job":`, `{"check_indexx":0,"job":`, 1),
			`unknown field "check_indexx"; did you mean "check_index"?`},
		{"task resources typo", "POST", "/v1/jobs", strings.Replace(job, `"resources":{`, `"resourcez":{`, 1),
			`unknown field "resourcez"; did you mean "resources"? (in job.groups[0].tasks[0])`},
		{"plan typo", "POST", "/v1/job/web/plan", strings.Replace(job, `"resources":{`, `"resourcez":{`, 1),
			`unknown field "resourcez"; did you mean "resources"?`},
		{"job trailing data", "POST", "/v1/jobs", job + `{"job":{}}`, "more than one value"},
		{"acl policy typo", "POST", "/v1/acl/policy/ops", `{"name":"ops","rule":"namespace \"default\" { policy = \"read\" }"}`,
			`unknown field "rule"; did you mean "rules"?`},
		{"acl token typo", "POST", "/v1/acl/token", `{"name":"ci","policies":["ops"],"tll":"1h"}`,
			`unknown field "tll"; did you mean "ttl"?`},
		{"acl policy trailing data", "POST", "/v1/acl/policy/ops", `{"name":"ops","rules":""} x`, "more than one value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, e := rawRequest(t, tc.method, base+tc.path, testMgmtToken, []byte(tc.body))
			if code != http.StatusBadRequest || !strings.Contains(e.Error, tc.want) {
				t.Fatalf("%s %s = %d %q, want 400 containing %q", tc.method, tc.path, code, e.Error, tc.want)
			}
		})
	}
	// Nothing of the above was stored.
	ctx := ctxT(t)
	jobs, _, err := s.Client.Jobs().List(ctx, nil)
	if err != nil || len(jobs) != 0 {
		t.Fatalf("jobs = %v, %v", jobs, err)
	}
	policies, err := s.Client.ACL().Policies(ctx)
	if err != nil || len(policies) != 0 {
		t.Fatalf("policies = %v, %v", policies, err)
	}
	tokens, err := s.Client.ACL().Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range tokens {
		if tok.Name == "ci" {
			t.Fatalf("token %+v was stored", tok)
		}
	}
	// The same body without the typo goes through.
	if code, e := rawRequest(t, "POST", base+"/v1/jobs", testMgmtToken, []byte(job)); code != http.StatusOK {
		t.Fatalf("valid job = %d %q", code, e.Error)
	}
}
