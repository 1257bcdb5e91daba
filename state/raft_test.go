package state_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
	"github.com/droverhq/drover/state/statetest"
)

func TestConfigValidate(t *testing.T) {
	good := statetest.Config(t.TempDir(), "s1")
	if err := good.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	if err := state.DefaultConfig().Validate(); err == nil {
		t.Fatal("default config without dir, ID and address validated")
	}
	tests := []struct {
		name   string
		change func(*state.Config)
		want   string
	}{
		{"no data dir", func(c *state.Config) { c.DataDir = "" }, "data dir"},
		{"no node ID", func(c *state.Config) { c.NodeID = "" }, "node ID"},
		{"bad bind", func(c *state.Config) { c.BindAddr = "localhost" }, "bind address"},
		{"lease above heartbeat", func(c *state.Config) { c.LeaderLeaseTimeout = time.Hour }, "lease"},
		{"zero commit timeout", func(c *state.Config) { c.CommitTimeout = 0 }, "commit timeout"},
		{"huge batches", func(c *state.Config) { c.MaxAppendEntries = 5000 }, "max append entries"},
		{"no snapshots kept", func(c *state.Config) { c.SnapshotRetain = 0 }, "retain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error about %q", err, tt.want)
			}
		})
	}
}

// openSingle opens a bootstrapped one-server cluster on dir and waits
// until it leads and its state is current.
func openSingle(t *testing.T, dir string) *state.Replicated {
	t.Helper()
	cfg := statetest.Config(dir, "solo")
	cfg.Bootstrap = true
	r, err := state.Open(cfg, statetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown() })
	waitLeader(t, r)
	ctx, cancel := context.WithTimeout(t.Context(), statetest.Timeout)
	defer cancel()
	if err := r.Barrier(ctx); err != nil {
		t.Fatalf("barrier: %v", err)
	}
	return r
}

func waitLeader(t *testing.T, r *state.Replicated) {
	t.Helper()
	leads, changed := r.LeaderWatch()
	for !leads {
		select {
		case <-changed:
			leads, changed = r.LeaderWatch()
		case <-time.After(statetest.Timeout):
			t.Fatal("no leader")
		}
	}
}

func mustApply(t testing.TB, r *state.Replicated, mt state.MessageType, req any) (uint64, any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), statetest.Timeout)
	defer cancel()
	idx, resp, err := r.Apply(ctx, mt, req)
	if err != nil {
		t.Fatalf("apply %s: %v", mt, err)
	}
	return idx, resp
}

// writeSome writes jobs, nodes and allocations tagged with round.
func writeSome(t testing.TB, r *state.Replicated, round int) {
	t.Helper()
	node := fmt.Sprintf("node-%d", round)
	mustApply(t, r, state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode(node), Now: t0})
	for j := range 5 {
		id := fmt.Sprintf("job-%d", j)
		mustApply(t, r, state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob(id, fmt.Sprintf("round-%d", round), round+1), Now: t0})
		mustApply(t, r, state.MsgPlanApply, &state.PlanApplyRequest{
			Allocs: []*cluster.Allocation{testAlloc(fmt.Sprintf("%s-r%d", id, round), id, node, "e")}, Now: t0,
		})
	}
}

func TestReplicatedSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	r := openSingle(t, dir)
	if !r.IsLeader() {
		t.Fatal("bootstrapped single server does not lead")
	}
	writeSome(t, r, 0)
	writeSome(t, r, 1)
	want := dump(t, r.Store().Snapshot())
	if err := r.Shutdown(); err != nil {
		t.Fatal(err)
	}

	// Log replay only: no snapshot was taken.
	r = openSingle(t, dir)
	if got := dump(t, r.Store().Snapshot()); got != want {
		t.Fatalf("after reopen:\n%s\nwant:\n%s", got, want)
	}
	if v := r.Store().Snapshot().JobVersions("default", "job-3"); len(v) != 2 || v[1].Source.Commit != "round-0" {
		t.Fatalf("job-3 versions after reopen: %+v", v)
	}

	// Snapshot, then more writes: the next start restores the snapshot
	// and replays the log after it.
	ctx, cancel := context.WithTimeout(t.Context(), statetest.Timeout)
	defer cancel()
	if err := r.TakeSnapshot(ctx); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*", "state.bin"))
	if len(snaps) != 1 {
		t.Fatalf("snapshots on disk: %v", snaps)
	}
	writeSome(t, r, 2)
	want = dump(t, r.Store().Snapshot())
	if err := r.Shutdown(); err != nil {
		t.Fatal(err)
	}
	r = openSingle(t, dir)
	s := r.Store().Snapshot()
	if got := dump(t, s); got != want {
		t.Fatalf("after snapshot + replay:\n%s\nwant:\n%s", got, want)
	}
	if len(s.JobVersions("default", "job-0")) != 3 || s.Node("node-2") == nil {
		t.Fatal("writes after the snapshot are missing")
	}
}

func TestReplicatedApplyErrors(t *testing.T) {
	r := openSingle(t, t.TempDir())
	idx, _ := mustApply(t, r, state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "a", 1), Now: t0})

	ctx, cancel := context.WithTimeout(t.Context(), statetest.Timeout)
	defer cancel()
	cidx, resp, err := r.Apply(ctx, state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "b", 1), CheckIndex: ptr(idx + 100), Now: t0})
	if !errors.Is(err, state.ErrCASConflict) || resp != nil || cidx <= idx {
		t.Fatalf("CAS through raft: index %d, resp %v, err %v", cidx, resp, err)
	}
	_, resp, err = r.Apply(ctx, state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "b", 1), CheckIndex: ptr(idx), Now: t0})
	if err != nil || resp.(*state.JobRegisterResponse).Version != 1 {
		t.Fatalf("matching CAS: %v %v", resp, err)
	}

	done, stop := context.WithCancel(t.Context())
	stop()
	if _, _, err := r.Apply(done, state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}

	if err := r.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Apply(ctx, state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n")}); !errors.Is(err, state.ErrShutdown) {
		t.Fatalf("apply after shutdown: %v", err)
	}
	if err := r.Shutdown(); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
}

func TestOpenRefusesALockedDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for bbolt's lock timeout")
	}
	dir := t.TempDir()
	openSingle(t, dir)
	cfg := statetest.Config(dir, "solo")
	if r, err := state.Open(cfg, statetest.Logger(t)); err == nil {
		_ = r.Shutdown()
		t.Fatal("a second server opened the same data dir")
	}
	if _, err := os.Stat(filepath.Join(dir, "raft.db")); err != nil {
		t.Fatal(err)
	}
}
