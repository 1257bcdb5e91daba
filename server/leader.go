package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/droverhq/drover/state"
)

// runLeadership starts the leader duties when this server becomes leader
// and stops them (waiting for every goroutine) when it stops being one,
// as Nomad's monitorLeadership does.
func (s *Server) runLeadership(ctx context.Context) {
	var stop func()
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		leading, changed := s.raft.LeaderWatch()
		switch {
		case leading && stop == nil:
			s.logger.Info("became leader; establishing leadership")
			s.metrics.LeaderChanged()
			stop = s.startLeaderDuties(ctx)
		case !leading && stop != nil:
			s.logger.Info("lost leadership; stopping leader duties")
			s.metrics.LeaderChanged()
			stop()
			stop = nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// startLeaderDuties runs establishLeadership and then the duties in their
// own goroutines; the returned function cancels and waits for them.
func (s *Server) startLeaderDuties(parent context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(parent)
	var wg sync.WaitGroup
	wg.Go(func() {
		if !s.establishLeadership(ctx) {
			return
		}
		var duties sync.WaitGroup
		duties.Go(func() { s.runEvals(ctx) })
		duties.Go(func() { s.hb.run(ctx) })
		duties.Go(func() { s.runSources(ctx) })
		duties.Go(func() { s.runDeployments(ctx) })
		duties.Go(func() { s.runGC(ctx) })
		duties.Go(func() { s.runAutoSnapshots(ctx) })
		duties.Go(func() { s.runAutopilot(ctx) })
		duties.Go(func() { s.runPeriodic(ctx) })
		duties.Go(func() { s.runDisconnects(ctx) })
		duties.Go(func() { s.runRekey(ctx) }) // keyring.go
		// Variable locks past their TTL and delay (variables_lock_reaper.go).
		duties.Go(func() { s.runLockReaper(ctx) })
		// The service catalog, once per term (services.go).
		duties.Go(func() { s.resyncServices(ctx) })
		duties.Wait()
	})
	return func() {
		cancel()
		wg.Wait()
		s.setEstablished(false)
	}
}

// establishLeadership makes the new leader's state current before it
// serves reads or schedules: a Barrier applies every entry the previous
// leader committed. It then records this server's addresses, so that
// followers can forward to it. It retries until it succeeds or ctx ends.
func (s *Server) establishLeadership(ctx context.Context) bool {
	for attempt := 0; ; attempt++ {
		err := s.establishOnce(ctx)
		if err == nil {
			s.setEstablished(true)
			s.logger.Info("leadership established", "index", s.raft.AppliedIndex())
			return true
		}
		if ctx.Err() != nil || errors.Is(err, state.ErrNotLeader) || errors.Is(err, state.ErrShutdown) {
			return false
		}
		s.logger.Warn("establish leadership", "err", err, "attempt", attempt)
		if !sleepCtx(ctx, s.cfg.RetryInterval) {
			return false
		}
	}
}

func (s *Server) establishOnce(ctx context.Context) error {
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.raft.Barrier(bctx); err != nil {
		return err
	}
	if err := s.upsertMember(bctx, &state.Member{ID: s.id, Name: s.cfg.Name, RaftAddr: s.RaftAddr(), HTTPAddr: s.HTTPAddr()}); err != nil {
		return err
	}
	if err := s.publishKeyring(bctx); err != nil {
		return err
	}
	return s.autoBootstrapACL(bctx)
}

// upsertMember writes a member record unless the store already has it.
func (s *Server) upsertMember(ctx context.Context, m *state.Member) error {
	if cur := s.raft.Store().Snapshot().Member(m.ID); cur != nil &&
		cur.Name == m.Name && cur.RaftAddr == m.RaftAddr && cur.HTTPAddr == m.HTTPAddr {
		return nil
	}
	_, _, err := s.raft.Apply(ctx, state.MsgMemberUpsert, &state.MemberUpsertRequest{Member: m, Now: time.Now()})
	return err
}

func (s *Server) setEstablished(v bool) {
	s.leaderMu.Lock()
	defer s.leaderMu.Unlock()
	if v == s.established {
		return
	}
	s.established = v
	if v {
		close(s.leaderReady)
	} else {
		s.leaderReady = make(chan struct{})
	}
}

// waitEstablished waits until this server, as leader, established its
// leadership; false when it did not within d or stopped leading.
func (s *Server) waitEstablished(ctx context.Context, d time.Duration) bool {
	s.leaderMu.Lock()
	ready, established := s.leaderReady, s.established
	s.leaderMu.Unlock()
	if established {
		return s.raft.IsLeader()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ready:
		return s.raft.IsLeader()
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// sleepCtx sleeps for d; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
