package server_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server/servertest"
)

// Nomad's shortest lock TTL: the reaper tests wait it out.
const (
	reapTTL   = 10 * time.Second
	reapDelay = 2 * time.Second
)

// lockState reads whether path shows a lock, from c.
func lockState(t *testing.T, c *api.Client, path string) (locked bool, modifyIndex uint64) {
	t.Helper()
	v, _, err := c.Variables().Get(ctxT(t), "", path, nil)
	if err != nil {
		t.Fatalf("get %s: %v", path, err)
	}
	return v.Lock != nil, v.ModifyIndex
}

// TestVariableLockReaper: a lock not renewed is lost at its TTL (its
// renewal is refused from then on), nobody else takes it during its
// lock delay, and then the leader releases it through Raft and another
// holder acquires it. A lock renewed within its TTL is kept past it.
func TestVariableLockReaper(t *testing.T) {
	t.Parallel()
	s := servertest.Single(t, noHeartbeats)
	ctx := ctxT(t)
	vars := s.Client.Variables()
	lock := &api.VariableLock{TTL: reapTTL.String(), LockDelay: reapDelay.String()}

	start := time.Now()
	lapsing, err := vars.AcquireLock(ctx, &api.Variable{Path: "locks/lapsing", Items: map[string]string{"holder": "a"}, Lock: lock})
	if err != nil {
		t.Fatal(err)
	}
	kept, err := vars.AcquireLock(ctx, &api.Variable{Path: "locks/kept", Lock: lock})
	if err != nil {
		t.Fatal(err)
	}
	// The holder of locks/kept renews it every 3 s, well within its TTL.
	rctx, stopRenew := context.WithCancel(ctx)
	var wg sync.WaitGroup
	renewErr := make(chan error, 1)
	wg.Go(func() {
		tick := time.NewTicker(3 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-tick.C:
			}
			if _, err := vars.RenewLock(rctx, &api.Variable{Path: "locks/kept", Lock: &api.VariableLock{ID: kept.Lock.ID}}); err != nil && rctx.Err() == nil {
				renewErr <- err
				return
			}
		}
	})
	t.Cleanup(func() { stopRenew(); wg.Wait() })

	// Inside the TTL: held; another cannot take it.
	if _, err := vars.AcquireLock(ctx, &api.Variable{Path: "locks/lapsing", Lock: lock}); !errors.Is(err, api.ErrVariableConflict) {
		t.Fatalf("acquire inside the TTL: %v, want a conflict", err)
	}
	// Past the TTL, inside the delay: the holder lost it, and the next
	// holder still waits.
	time.Sleep(time.Until(start.Add(reapTTL + 300*time.Millisecond)))
	if _, err := vars.RenewLock(ctx, &api.Variable{Path: "locks/lapsing", Lock: &api.VariableLock{ID: lapsing.Lock.ID}}); !errors.Is(err, api.ErrVariableConflict) {
		t.Fatalf("renew after the TTL: %v, want a conflict (the lock is lost)", err)
	}
	if _, err := vars.AcquireLock(ctx, &api.Variable{Path: "locks/lapsing", Lock: lock}); !errors.Is(err, api.ErrVariableConflict) {
		t.Fatalf("acquire inside the lock delay: %v, want a conflict", err)
	}
	if locked, _ := lockState(t, s.Client, "locks/lapsing"); !locked {
		t.Fatal("the lock was released before its delay passed")
	}

	// After TTL + delay the reaper releases it, with no one asking.
	_, before := lockState(t, s.Client, "locks/lapsing")
	servertest.WaitFor(t, "the reaper to release locks/lapsing", func() bool {
		locked, _ := lockState(t, s.Client, "locks/lapsing")
		return !locked
	})
	if el := time.Since(start); el < reapTTL+reapDelay {
		t.Fatalf("released %v after it was acquired; TTL + delay is %v", el, reapTTL+reapDelay)
	} else if el > reapTTL+reapDelay+5*time.Second {
		t.Errorf("released %v after it was acquired: over 5 s late", el)
	}
	if _, after := lockState(t, s.Client, "locks/lapsing"); after <= before {
		t.Errorf("the release did not go through Raft: modify index %d -> %d", before, after)
	}
	v, _, err := vars.Get(ctx, "", "locks/lapsing", nil)
	if err != nil || v.Items["holder"] != "a" {
		t.Fatalf("the release changed the items: %+v %v", v, err)
	}
	next, err := vars.AcquireLock(ctx, &api.Variable{Path: "locks/lapsing", Lock: lock})
	if err != nil || next.Lock == nil || next.Lock.ID == lapsing.Lock.ID {
		t.Fatalf("acquire after the release: %+v %v", next, err)
	}

	// locks/kept outlived its first TTL and delay, renewed.
	select {
	case err := <-renewErr:
		t.Fatalf("renewing locks/kept: %v", err)
	default:
	}
	if locked, _ := lockState(t, s.Client, "locks/kept"); !locked {
		t.Fatal("the reaper released a lock that was renewed")
	}
	if _, err := vars.ReleaseLock(ctx, &api.Variable{Path: "locks/kept", Lock: &api.VariableLock{ID: kept.Lock.ID}}); err != nil {
		t.Fatalf("the holder releases its renewed lock: %v", err)
	}
}

// TestVariableLockReaperLeaderChange: the leader that took a lock dies;
// the next leader releases it once its TTL and delay have passed, from
// the expiry stored in the variable.
func TestVariableLockReaperLeaderChange(t *testing.T) {
	t.Parallel()
	servers := servertest.Cluster(t, 3, noHeartbeats)
	leader := servertest.Leader(servers)
	if leader == nil {
		t.Fatal("no leader")
	}
	ctx := ctxT(t)
	delay := time.Second
	start := time.Now()
	if _, err := leader.Client.Variables().AcquireLock(ctx, &api.Variable{Path: "locks/failover",
		Lock: &api.VariableLock{TTL: reapTTL.String(), LockDelay: delay.String()}}); err != nil {
		t.Fatal(err)
	}
	if err := leader.Stop(); err != nil {
		t.Fatal(err)
	}
	var rest []*servertest.Server
	for _, s := range servers {
		if s != leader {
			rest = append(rest, s)
		}
	}
	servertest.WaitFor(t, "a new leader", func() bool { return servertest.Leader(rest) != nil })
	next := servertest.Leader(rest)
	if locked, _ := lockState(t, next.Client, "locks/failover"); !locked && time.Since(start) < reapTTL+delay {
		t.Fatal("the new leader lost the lock before its TTL and delay passed")
	}
	servertest.WaitFor(t, "the new leader to release locks/failover", func() bool {
		locked, _ := lockState(t, next.Client, "locks/failover")
		return !locked
	})
	if el := time.Since(start); el < reapTTL+delay {
		t.Fatalf("released %v after it was acquired; TTL + delay is %v", el, reapTTL+delay)
	}
}
