package state_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
	"github.com/hashicorp/raft"
)

// bufferSink is a raft.SnapshotSink over a buffer.
type bufferSink struct {
	*bytes.Buffer
	cancelled bool
}

func (s *bufferSink) ID() string    { return "test" }
func (s *bufferSink) Close() error  { return nil }
func (s *bufferSink) Cancel() error { s.cancelled = true; return nil }

var _ raft.SnapshotSink = (*bufferSink)(nil)

func persist(t testing.TB, f *state.FSM, buf *bytes.Buffer) {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	sink := &bufferSink{Buffer: buf}
	if err := snap.Persist(sink); err != nil || sink.cancelled {
		t.Fatalf("persist: %v (cancelled %v)", err, sink.cancelled)
	}
}

func readCloser(r io.Reader) io.ReadCloser { return io.NopCloser(r) }

// populate writes a bit of everything: jobs with several versions, nodes,
// allocations with task states, evaluations, deployments, sync status.
func populate(t testing.TB, h *fsmHarness, jobs, allocsPerJob int) {
	for n := range 10 {
		h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode(fmt.Sprintf("node-%d", n)), Now: t0})
	}
	for j := range jobs {
		id := fmt.Sprintf("job-%03d", j)
		for v := range 1 + j%3 {
			h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob(id, fmt.Sprintf("commit-%d-%d", j, v), v+1),
				Eval: testEval(fmt.Sprintf("eval-%d-%d", j, v), id), Now: t0.Add(time.Duration(v) * time.Second)})
		}
		var allocs []*cluster.Allocation
		for a := range allocsPerJob {
			al := testAlloc(fmt.Sprintf("%s-alloc-%d", id, a), id, fmt.Sprintf("node-%d", a%10), fmt.Sprintf("eval-%d-0", j))
			al.DeploymentID = "dep-" + id
			allocs = append(allocs, al)
		}
		h.must(state.MsgPlanApply, &state.PlanApplyRequest{Allocs: allocs, Now: t0,
			Deployment: &cluster.Deployment{ID: "dep-" + id, JobID: id, TaskGroups: map[string]*cluster.DeploymentGroup{"web": {DesiredTotal: allocsPerJob}}}})
		var updates []state.AllocClientState
		for _, a := range allocs {
			updates = append(updates, state.AllocClientState{ID: a.ID, ClientStatus: cluster.AllocClientRunning,
				TaskStates: map[string]*cluster.TaskState{"server": {State: cluster.TaskStateRunning, StartedAt: t0,
					Events: []cluster.TaskEvent{{Type: "Started", Time: t0, Message: "task started"}}}}})
		}
		h.must(state.MsgAllocClientUpdate, &state.AllocClientUpdateRequest{Allocs: updates, Now: t0})
	}
	h.must(state.MsgJobStable, &state.JobStableRequest{JobID: "job-000", Version: 0, Stable: true, Now: t0})
	h.must(state.MsgSyncStatusUpsert, &state.SyncStatusRequest{Status: &cluster.SyncStatus{Source: "prod", Repo: "r", LastApplied: "abc"}, Now: t0})
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	src := newFSM(t)
	populate(t, src, 200, 5)
	want := dump(t, src.snap())

	var buf bytes.Buffer
	persist(t, src.fsm, &buf)
	t.Logf("snapshot of %d jobs, %d allocs: %d bytes", len(src.snap().Jobs()), len(src.snap().Allocs()), buf.Len())

	dst := newFSM(t)
	dst.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("stale"), Now: t0})
	if err := dst.fsm.Restore(readCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, dst.snap()); got != want {
		t.Fatalf("restored state differs (%d vs %d bytes of dump)", len(got), len(want))
	}
	if dst.snap().Node("stale") != nil {
		t.Fatal("restore kept state from before it")
	}
	if got, w := len(dst.snap().JobVersions("default", "job-002")), 3; got != w {
		t.Fatalf("job-002 has %d versions after restore, want %d", got, w)
	}
}

func TestRestoreRejectsDamagedSnapshots(t *testing.T) {
	src := newFSM(t)
	populate(t, src, 5, 2)
	var buf bytes.Buffer
	persist(t, src.fsm, &buf)
	full := buf.Bytes()

	for name, data := range map[string][]byte{
		"empty":     nil,
		"not ours":  []byte("hello, world\n"),
		"truncated": full[:len(full)/2],
		"no end":    full[:len(full)-5],
	} {
		dst := newFSM(t)
		dst.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("keep"), Now: t0})
		err := dst.fsm.Restore(readCloser(bytes.NewReader(data)))
		if err == nil {
			t.Errorf("%s: restore succeeded", name)
			continue
		}
		if !strings.Contains(err.Error(), "restore") {
			t.Errorf("%s: error %q does not say what failed", name, err)
		}
		if dst.snap().Node("keep") == nil {
			t.Errorf("%s: a failed restore replaced the state", name)
		}
	}
}
