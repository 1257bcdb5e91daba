package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

// The fuzz targets post arbitrary bytes to the real handlers of a real
// server. Whatever the body, the answer is never a 5xx (nothing here is
// the server's fault) and never a dropped connection (a panic).

func fuzzPost(f *testing.F, method, path string, seeds ...[]byte) {
	s := servertest.Single(f)
	for _, n := range []int{1, 2} {
		if _, err := asNode(s.Client, testNode(n).ID).Nodes().Register(f.Context(), testNode(n)); err != nil {
			f.Fatal(err)
		}
	}
	for _, seed := range seeds {
		f.Add(seed)
	}
	f.Add([]byte(``))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"job": null, "node": null}`))
	f.Add([]byte(`[1, 2, 3]`))
	f.Add([]byte("\xff\xfe{"))
	url := "http://" + s.HTTPAddr() + path
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json") // browser.go refuses a write without it
		// Node 1 speaks, so that its routes read the body.
		req.Header.Set(api.HeaderNodeSecret, testSecret(testNode(1).ID))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v (did the handler panic?)", method, path, err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s with %q = %d %s", method, path, body, resp.StatusCode, data)
		}
		if !json.Valid(data) {
			t.Fatalf("answer is not JSON: %q", data)
		}
	})
}

func validJobJSON(f *testing.F) []byte {
	b, err := json.Marshal(api.JobRegisterRequest{Job: parseJob(f, webJob("fuzz", 2, `spread { attribute = "${node.unique.name}" }`))})
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func FuzzJobRegister(f *testing.F) {
	fuzzPost(f, "POST", "/v1/jobs", validJobJSON(f),
		[]byte(`{"job":{"id":"x","datacenters":["*"],"groups":[{"name":"g","count":1,"tasks":[{"name":"t","driver":"exec","resources":{"cpu":1,"memory_mb":1}}]}]},"check_index":0}`),
		[]byte(`{"job":{"id":"x","type":"system","datacenters":["*"],"groups":[{"name":"g","tasks":[{"name":"t","driver":"docker","resources":{"cpu":1,"memory_mb":1}}]}]}}`),
		[]byte(`{"job":{"id":"y","datacenters":["dc*"],"groups":[{"name":"g","count":100000,"networks":[{"ports":[{"label":"http","static":80}]}],"tasks":[{"name":"t","driver":"exec","resources":{"cpu":1,"memory_mb":1}}]}]}}`))
}

func FuzzJobPlan(f *testing.F) {
	fuzzPost(f, "POST", "/v1/job/fuzz/plan", validJobJSON(f),
		[]byte(`{"job":{"id":"fuzz","datacenters":["*"],"constraints":[{"attribute":"${attr.kernel.name}","operator":"regexp","value":"("}],"groups":[{"name":"g","count":1,"tasks":[{"name":"t","driver":"exec","resources":{"cpu":1,"memory_mb":1}}]}]}}`),
		[]byte(`{"job":{"id":"fuzz","datacenters":["*"],"constraints":[{"attribute":"${attr.kernel.name}","operator":"version","value":">= x"}],"groups":[{"name":"g","count":1,"tasks":[{"name":"t","driver":"exec","resources":{"cpu":1,"memory_mb":1}}]}]}}`))
}

func FuzzNodeRegister(f *testing.F) {
	n, _ := json.Marshal(api.NodeRegisterRequest{Node: testNode(3)})
	fuzzPost(f, "POST", "/v1/nodes", n,
		[]byte(`{"node":{"id":"a","resources":{"cpu":-1}}}`),
		[]byte(`{"node":{"id":"b","status":"down","min_dynamic_port":5,"max_dynamic_port":4}}`))
}

func FuzzNodeUpdateAllocs(f *testing.F) {
	b, _ := json.Marshal(api.AllocUpdateRequest{Allocs: []*cluster.Allocation{{ID: "x", ClientStatus: "failed"}}})
	fuzzPost(f, "POST", "/v1/node/"+testNode(1).ID+"/allocations", b,
		[]byte(`{"allocs":[null]}`), []byte(`{"allocs":[{"id":"a","client_status":"bogus"}]}`))
}
