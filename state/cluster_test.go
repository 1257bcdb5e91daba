package state_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/droverhq/drover/state"
	"github.com/droverhq/drover/state/statetest"
)

func TestThreeServerCluster(t *testing.T) {
	c := statetest.NewCluster(t, 3)
	leader := c.WaitForLeader()
	ctx, cancel := context.WithTimeout(t.Context(), statetest.Timeout)
	defer cancel()

	servers, err := leader.Servers(ctx)
	if err != nil || len(servers) != 3 {
		t.Fatalf("configuration: %v, %v", servers, err)
	}
	for _, s := range servers {
		if !s.Voter {
			t.Fatalf("%s is not a voter", s.ID)
		}
	}

	// A follower refuses writes and names the leader.
	followers := c.Followers()
	if len(followers) != 2 {
		t.Fatalf("%d followers", len(followers))
	}
	_, _, err = followers[0].Apply(ctx, state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n"), Now: t0})
	if !errors.Is(err, state.ErrNotLeader) {
		t.Fatalf("apply on a follower: %v", err)
	}
	if addr, id := followers[0].Leader(); addr != leader.Addr() || id != leader.ID() {
		t.Fatalf("follower says the leader is %s at %s, want %s at %s", id, addr, leader.ID(), leader.Addr())
	}

	// Writes on the leader reach every follower.
	writeSome(t, leader, 0)
	idx, _ := mustApply(t, leader, state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "a", 1), Now: t0})
	c.WaitForApplied(idx)
	want := dump(t, leader.Store().Snapshot())
	for _, f := range c.Followers() {
		if got := dump(t, f.Store().Snapshot()); got != want {
			t.Fatalf("follower %s differs from the leader:\n%s\nwant:\n%s", f.ID(), got, want)
		}
	}

	// Kill the leader: the others elect a new one and writes go on.
	old := c.LeaderIndex()
	c.Kill(old)
	leader = c.WaitForLeader()
	if leader.ID() == fmt.Sprintf("server-%d", old) {
		t.Fatal("the killed server still leads")
	}
	writeSome(t, leader, 1)
	idx, _ = mustApply(t, leader, state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob("web", "b", 2), Now: t0})

	// The old leader comes back as a follower and catches up.
	back := c.Restart(old)
	c.WaitForLeader()
	c.WaitForApplied(idx)
	s := back.Store().Snapshot()
	if j := s.Job("default", "web"); j == nil || j.Version != 1 || j.Source.Commit != "b" {
		t.Fatalf("restarted server has job %+v", j)
	}
	if got, want := dump(t, s), dump(t, c.Leader().Store().Snapshot()); got != want {
		t.Fatal("restarted server differs from the leader")
	}
}

func TestClusterRemoveServer(t *testing.T) {
	c := statetest.NewCluster(t, 3)
	leader := c.WaitForLeader()
	ctx, cancel := context.WithTimeout(t.Context(), statetest.Timeout)
	defer cancel()
	victim := c.Followers()[0]
	if err := leader.RemoveServer(ctx, victim.ID()); err != nil {
		t.Fatal(err)
	}
	servers, err := leader.Servers(ctx)
	if err != nil || len(servers) != 2 {
		t.Fatalf("after remove: %v, %v", servers, err)
	}
	if err := c.Followers()[0].AddVoter(ctx, "x", "127.0.0.1:1"); err != nil && !errors.Is(err, state.ErrNotLeader) {
		t.Fatalf("add voter on a follower: %v", err)
	}
}
