package state_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/state"
	"github.com/hashicorp/raft"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fsmHarness drives an FSM directly with raft log entries, as raft would.
type fsmHarness struct {
	t     testing.TB
	fsm   *state.FSM
	index uint64
}

func newFSM(t testing.TB) *fsmHarness {
	return &fsmHarness{t: t, fsm: state.NewFSM(state.NewStore(), discardLogger())}
}

func (h *fsmHarness) store() *state.Store   { return h.fsm.Store() }
func (h *fsmHarness) snap() *state.Snapshot { return h.fsm.Store().Snapshot() }
func (h *fsmHarness) log(t state.MessageType, req any) *raft.Log {
	h.t.Helper()
	data, err := state.Encode(t, req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.index++
	return &raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: data}
}

// apply applies one command and returns its response, error or value.
func (h *fsmHarness) apply(t state.MessageType, req any) any {
	h.t.Helper()
	return h.fsm.Apply(h.log(t, req))
}

// must applies a command that must succeed.
func (h *fsmHarness) must(t state.MessageType, req any) any {
	h.t.Helper()
	resp := h.apply(t, req)
	if err, ok := resp.(error); ok {
		h.t.Fatalf("%s at index %d: %v", t, h.index, err)
	}
	return resp
}

func testSpec(id string, count int) *jobspec.Job {
	return &jobspec.Job{
		ID: id, Name: id, Type: jobspec.JobTypeService, Region: "global", Namespace: "default",
		Datacenters: []string{"dc1"}, Priority: 50,
		Groups: []*jobspec.Group{{
			Name: "web", Count: count,
			Tasks: []*jobspec.Task{{
				Name: "server", Driver: "docker",
				Config:    map[string]any{"image": "nginx:1.27", "ports": []any{"http"}},
				Env:       map[string]string{"LOG_LEVEL": "info"},
				Resources: jobspec.Resources{CPU: 100, MemoryMB: 128},
			}},
		}},
	}
}

func testSource(commit string) *cluster.Source {
	return &cluster.Source{
		Name: "prod", Repo: "https://git.example.com/ops/jobs.git", Ref: "refs/heads/main",
		Commit: commit, Author: "Ada", AuthorEmail: "ada@example.com", CommitTime: t0,
		Subject: "scale " + commit, Path: "jobs/web.nomad.hcl",
	}
}

func testJob(id, commit string, count int) *cluster.Job {
	return &cluster.Job{Namespace: "default", ID: id, Spec: testSpec(id, count), Source: testSource(commit)}
}

func testNode(id string) *cluster.Node {
	return &cluster.Node{
		ID: id, Name: "node-" + id, Datacenter: "dc1", Status: cluster.NodeStatusReady,
		Attributes:     map[string]string{"kernel.name": "linux", "cpu.arch": "amd64"},
		Resources:      cluster.NodeResources{CPU: 4000, MemoryMB: 8192},
		MinDynamicPort: cluster.DefaultMinDynamicPort, MaxDynamicPort: cluster.DefaultMaxDynamicPort,
		Drivers: map[string]cluster.DriverInfo{"docker": {Detected: true, Healthy: true}},
	}
}

func testAlloc(id, jobID, nodeID, evalID string) *cluster.Allocation {
	return &cluster.Allocation{
		ID: id, Namespace: "default", JobID: jobID, TaskGroup: "web",
		Name: fmt.Sprintf("%s.web[%s]", jobID, id), NodeID: nodeID, EvalID: evalID,
		Resources: cluster.AllocResources{Tasks: map[string]jobspec.Resources{"server": {CPU: 100, MemoryMB: 128}}},
	}
}

func testEval(id, jobID string) *cluster.Evaluation {
	return &cluster.Evaluation{ID: id, Namespace: "default", JobID: jobID, Type: jobspec.JobTypeService,
		Priority: 50, TriggeredBy: cluster.EvalTriggerJobRegister}
}

func ptr[T any](v T) *T { return &v }

// asJSON renders a value for comparisons and failure messages.
func asJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dump renders every table of a snapshot, and its indexes.
func dump(t testing.TB, s *state.Snapshot) string {
	t.Helper()
	var versions []*cluster.Job
	for _, j := range s.Jobs() {
		versions = append(versions, s.JobVersions(j.Namespace, j.ID)...)
	}
	indexes := map[string]uint64{}
	for _, tb := range []string{state.TableJobs, state.TableJobVersions, state.TableNodes, state.TableAllocs,
		state.TableEvals, state.TableDeployments, state.TableSyncStatus} {
		indexes[tb] = s.Index(tb)
	}
	return asJSON(t, map[string]any{
		"jobs": s.Jobs(), "versions": versions, "nodes": s.Nodes(), "allocs": s.Allocs(),
		"evals": s.Evals(), "deployments": s.Deployments(), "sync": s.SyncStatuses(),
		"indexes": indexes, "index": s.Index(),
	})
}
