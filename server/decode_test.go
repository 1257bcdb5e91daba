package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
)

const validJobBody = `{"job":{"id":"web","datacenters":["dc1"],"groups":[{"name":"web","count":1,"tasks":[{"name":"server","driver":"exec","config":{"command":"/bin/sleep","anything":1},"resources":{"cpu":100,"memory_mb":128}}]}]}}`

func TestDecodeStrict(t *testing.T) {
	cases := []struct {
		name string
		body string
		into func() any
		want string // "" means success
	}{
		{"valid job", validJobBody, func() any { return new(api.JobRegisterRequest) }, ""},
		{"case-insensitive key is known", `{"JOB":{"ID":"x"}}`, func() any { return new(api.JobRegisterRequest) }, ""},
		{"top-level typo", `{"job":{"id":"x"},"check_indx":0}`, func() any { return new(api.JobRegisterRequest) },
			`unknown field "check_indx"; did you mean "check_index"?`},
		{"job typo", `{"job":{"id":"x","datacenter":["dc1"]}}`, func() any { return new(api.JobRegisterRequest) },
			`unknown field "datacenter"; did you mean "datacenters"? (in job)`},
		{"nested task typo", strings.Replace(validJobBody, `"resources"`, `"resourcez"`, 1), func() any { return new(api.JobRegisterRequest) },
			`unknown field "resourcez"; did you mean "resources"? (in job.groups[0].tasks[0])`},
		{"inside resources", strings.Replace(validJobBody, `"memory_mb"`, `"memory_mbb"`, 1), func() any { return new(api.JobRegisterRequest) },
			`unknown field "memory_mbb"; did you mean "memory_mb"? (in job.groups[0].tasks[0].resources)`},
		{"no near name", `{"job":{"id":"x","zzzzzzzz":1}}`, func() any { return new(api.JobRegisterRequest) },
			`unknown field "zzzzzzzz" (in job)`},
		{"acl policy typo", `{"name":"p","rulez":"x"}`, func() any { return new(api.ACLPolicy) },
			`unknown field "rulez"; did you mean "rules"?`},
		{"acl token typo", `{"name":"t","policys":["p"]}`, func() any { return new(api.ACLTokenCreateRequest) },
			`unknown field "policys"; did you mean "policies"?`},
		{"trailing value", `{"name":"p"} {"name":"q"}`, func() any { return new(api.ACLPolicy) }, "more than one value"},
		{"trailing garbage", `{"name":"p"}xyz`, func() any { return new(api.ACLPolicy) }, "more than one value"},
		{"trailing whitespace is fine", "{\"name\":\"p\"}\n\t ", func() any { return new(api.ACLPolicy) }, ""},
		{"empty", ``, func() any { return new(api.ACLPolicy) }, "empty"},
		{"wrong type", `{"job":7}`, func() any { return new(api.JobRegisterRequest) }, "malformed JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeStrict([]byte(tc.body), tc.into())
			if tc.want == "" {
				if err != nil {
					t.Fatalf("decode = %v, want success", err)
				}
				return
			}
			var he *httpError
			if !errors.As(err, &he) || he.code != http.StatusBadRequest {
				t.Fatalf("decode = %#v, want a 400", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("decode = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// A value marshalled from the API types decodes strictly: nothing the
// client sends is unknown to the server.
func TestDecodeStrictRoundTrip(t *testing.T) {
	var req api.JobRegisterRequest
	if err := json.Unmarshal([]byte(validJobBody), &req); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(req)
	if err := decodeStrict(b, new(api.JobRegisterRequest)); err != nil {
		t.Fatalf("round trip: %v", err)
	}
}

func FuzzDecodeStrict(f *testing.F) {
	f.Add([]byte(validJobBody))
	f.Add([]byte(strings.Replace(validJobBody, `"resources"`, `"resourcez"`, 1)))
	f.Add([]byte(`{"job":{"groups":[{"tasks":[{"resources":{"x":1}}]}],"meta":{"a":{"b":1}}}}`))
	f.Add([]byte(`{"job":null} 1`))
	f.Fuzz(func(t *testing.T, body []byte) {
		err := decodeStrict(body, new(api.JobRegisterRequest))
		if err == nil {
			return
		}
		var he *httpError
		if !errors.As(err, &he) || he.code != http.StatusBadRequest {
			t.Fatalf("decode %q = %v, want a 400", body, err)
		}
		if strings.Contains(err.Error(), "unknown field") && !strings.HasPrefix(err.Error(), "unknown field ") {
			t.Fatalf("unknown field error is not worded as one: %q", err)
		}
	})
}
