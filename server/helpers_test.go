package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), servertest.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// testNode is a Linux node with a healthy exec driver.
func testNode(i int) *cluster.Node {
	name := fmt.Sprintf("node-%d", i)
	return &cluster.Node{
		ID:         fmt.Sprintf("%08d-0000-4000-8000-%012d", i, i),
		Name:       name,
		Datacenter: "dc1",
		Attributes: map[string]string{"kernel.name": "linux", "os.name": "ubuntu", "cpu.arch": "amd64", "unique.hostname": name},
		Drivers:    map[string]cluster.DriverInfo{"exec": {Detected: true, Healthy: true}},
		Resources:  cluster.NodeResources{CPU: 4000, MemoryMB: 8192, DiskMB: 50000},
		Status:     cluster.NodeStatusReady,
	}
}

// testSecret is the node secret a test node brings to its registration,
// as an agent brings the one it made: fixed per node ID, so that a test
// can speak for a node it registered (asNode).
func testSecret(nodeID string) string { return cluster.HashNodeSecret("test node " + nodeID) }

// asNode returns a client that speaks for a node registered with its
// testSecret: it sends the node secret that heartbeats, allocation
// updates and re-registration need.
func asNode(c *api.Client, nodeID string) *api.Client {
	return c.WithNodeSecret(testSecret(nodeID))
}

func registerNodes(t *testing.T, c *api.Client, n int) []*cluster.Node {
	t.Helper()
	var out []*cluster.Node
	for i := range n {
		node := testNode(i + 1)
		resp, err := asNode(c, node.ID).Nodes().Register(ctxT(t), node)
		if err != nil {
			t.Fatalf("register node %d: %v", i, err)
		}
		if resp.HeartbeatTTL <= 0 || resp.NodeID != node.ID {
			t.Fatalf("register response = %+v", resp)
		}
		out = append(out, node)
	}
	return out
}

// parseJob parses real HCL with the jobspec parser.
func parseJob(t testing.TB, src string) *jobspec.Job {
	t.Helper()
	f, diags := jobspec.Parse("job.hcl", []byte(src), nil)
	if diags.HasErrors() {
		t.Fatalf("parse job: %v", diags)
	}
	return f.Job
}

func webJob(id string, count int, extra string) string {
	return fmt.Sprintf(`
job %q {
  datacenters = ["dc1"]
  %s
  group "web" {
    count = %d
    task "server" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      resources {
        cpu    = 100
        memory = 128
      }
    }
  }
}
`, id, extra, count)
}

// waitEvals waits, with blocking queries, until the job has at least one
// evaluation and none is pending, and returns them.
func waitEvals(t *testing.T, c *api.Client, jobID string) []*cluster.Evaluation {
	t.Helper()
	ctx := ctxT(t)
	var index uint64
	for {
		evals, meta, err := c.Jobs().Evaluations(ctx, jobID, &api.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second})
		if err != nil {
			t.Fatalf("evaluations of %s: %v", jobID, err)
		}
		done := len(evals) > 0
		for _, e := range evals {
			if e.Status == cluster.EvalStatusPending && e.WaitUntil.IsZero() {
				done = false
			}
		}
		if done {
			return evals
		}
		index = meta.LastIndex
	}
}

func liveAllocs(allocs []*cluster.Allocation) []*cluster.Allocation {
	var out []*cluster.Allocation
	for _, a := range allocs {
		if !a.Terminal() {
			out = append(out, a)
		}
	}
	return out
}

// rawRequest sends a request with a body of raw bytes and returns the
// status code and decoded error body.
func rawRequest(t testing.TB, method, url, token string, body []byte) (int, api.Error) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json") // browser.go refuses a write without it
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e api.Error
	_ = json.Unmarshal(data, &e)
	return resp.StatusCode, e
}

// freeAddr returns a loopback address that was free a moment ago, for
// servers that must know each other's addresses before they start.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// noHeartbeats is a server option for tests whose nodes are registered
// through the API and never heartbeat: under -race on a busy machine a
// long test outlives the default TTL, and a node marked down loses its
// allocations mid-test.
func noHeartbeats(c *server.Config) { c.HeartbeatTTL = time.Hour }
