package state_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/events"
	"github.com/droverhq/drover/state"
	"github.com/hashicorp/raft"
)

// drain reads every event published so far.
func drain(t *testing.T, s *events.Subscription) []events.Stored {
	t.Helper()
	var out []events.Stored
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		items, err := s.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, items...)
	}
}

func summary(items []events.Stored) string {
	var parts []string
	for _, it := range items {
		parts = append(parts, fmt.Sprintf("%d %s %s %s", it.Index, it.Topic, it.Type, it.Key))
	}
	return strings.Join(parts, "\n")
}

func TestFSMPublishesEventsOfEachApply(t *testing.T) {
	h := newFSM(t)
	sub, err := h.fsm.Events().Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "c1", 1), Eval: testEval("e1", "web"), Now: t0})
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n1"), Now: t0})
	h.must(state.MsgNodeUpdateEligibility, &state.NodeEligibilityRequest{NodeID: "n1", Eligibility: cluster.NodeIneligible, Now: t0})
	// A refused command publishes nothing.
	if _, ok := h.apply(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "c2", 1), CheckIndex: ptr[uint64](0), Now: t0}).(error); !ok {
		t.Fatal("CAS register of an existing job succeeded")
	}
	h.must(state.MsgSyncStatusUpsert, &state.SyncStatusRequest{Status: &cluster.SyncStatus{Source: "main",
		Commits: []cluster.CommitOutcome{{Commit: "c1", Outcome: cluster.CommitApplied}}}, Now: t0})
	h.must(state.MsgSyncStatusUpsert, &state.SyncStatusRequest{Status: &cluster.SyncStatus{Source: "main", LastSeen: "c1",
		Commits: []cluster.CommitOutcome{{Commit: "c1", Outcome: cluster.CommitApplied}}}, Now: t0})
	h.must(state.MsgSyncStatusUpsert, &state.SyncStatusRequest{Status: &cluster.SyncStatus{Source: "main",
		Commits: []cluster.CommitOutcome{{Commit: "c2", Outcome: cluster.CommitRejected, Errors: []string{"web.hcl:3:5: typo"}}}}, Now: t0})
	h.must(state.MsgJobDeregister, &state.JobDeregisterRequest{Namespace: "default", JobID: "web", Now: t0})

	got := summary(drain(t, sub))
	want := strings.Join([]string{
		"1 Job JobRegistered web",
		"1 Evaluation EvaluationUpdated e1",
		"2 Node NodeRegistration n1",
		"3 Node NodeEligibility n1",
		"5 Sync CommitApplied main",
		"6 Sync SyncStatusUpdated main",
		"7 Sync CommitRejected main",
		"8 Job JobDeregistered web",
	}, "\n")
	if got != want {
		t.Fatalf("events:\n%s\nwant:\n%s", got, want)
	}
}

// A batch shares one memdb transaction; each index's event must still
// carry what that index wrote, not what a later one did.
func TestFSMEventsOfABatchCarryTheirOwnIndexWrite(t *testing.T) {
	h := newFSM(t)
	sub, _ := h.fsm.Events().Subscribe(0)
	defer sub.Close()
	var logs []*raft.Log
	for i := range 3 {
		logs = append(logs, h.log(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", fmt.Sprint("c", i), i+1), Now: t0}))
	}
	for _, resp := range h.fsm.ApplyBatch(logs) {
		if err, ok := resp.(error); ok {
			t.Fatal(err)
		}
	}
	items := drain(t, sub)
	if len(items) != 3 {
		t.Fatalf("got %d events, want 3:\n%s", len(items), summary(items))
	}
	for i, it := range items {
		var ev struct {
			Index   uint64
			Payload struct{ Job *cluster.Job }
		}
		if err := json.Unmarshal(it.JSON, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Index != uint64(i+1) || ev.Payload.Job.Version != uint64(i) || ev.Payload.Job.Source.Commit != fmt.Sprint("c", i) {
			t.Errorf("event %d: index %d, version %d, commit %s", i, ev.Index, ev.Payload.Job.Version, ev.Payload.Job.Source.Commit)
		}
	}
}

func TestFSMEventsHideNodeSecretHash(t *testing.T) {
	h := newFSM(t)
	sub, _ := h.fsm.Events().Subscribe(0)
	defer sub.Close()
	n := testNode("n1")
	n.SecretHash = "deadbeefhash"
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: n, Now: t0})
	items := drain(t, sub)
	if len(items) != 1 || bytes.Contains(items[0].JSON, []byte("deadbeefhash")) {
		t.Fatalf("node event leaks the secret hash: %s", items[0].JSON)
	}
	if h.snap().Node("n1").SecretHash != "deadbeefhash" {
		t.Fatal("the event changed the stored node")
	}
}

func TestFSMRestoreResetsEvents(t *testing.T) {
	h := newFSM(t)
	for i := range 3 {
		h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", fmt.Sprint("c", i), 1), Now: t0})
	}
	var buf bytes.Buffer
	persist(t, h.fsm, &buf)

	// A follower that applied index 1, then installs the leader's
	// snapshot at index 3.
	other := newFSM(t)
	sub, _ := other.fsm.Events().Subscribe(0)
	defer sub.Close()
	other.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n1"), Now: t0})
	if got := drain(t, sub); len(got) != 1 {
		t.Fatalf("before restore: %s", summary(got))
	}
	if err := other.fsm.Restore(readCloser(&buf)); err != nil {
		t.Fatal(err)
	}
	if floor, _ := other.fsm.Events().Bounds(); floor != 3 {
		t.Fatalf("floor after restore %d, want 3", floor)
	}
	// The stream had read only index 1: indexes 2 and 3 never reached
	// this server's buffer, so it must end rather than skip them.
	if _, err := sub.Next(context.Background()); !errors.Is(err, events.ErrFellBehind) {
		t.Fatalf("stream across a restore: %v, want ErrFellBehind", err)
	}
	if _, err := other.fsm.Events().Subscribe(1); !errors.Is(err, events.ErrIndexTooOld) {
		t.Fatalf("resume from before the restore: %v, want ErrIndexTooOld", err)
	}
}
