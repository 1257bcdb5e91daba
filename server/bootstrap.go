package server

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/state"
)

// runBootstrap brings a server without Raft state into a cluster: with
// bootstrap_expect N > 1 it waits until N servers found each other and
// bootstraps them together; otherwise it asks the servers in Join to add
// it. A server with state (restarted, or bootstrap_expect 1, which
// state.Open bootstraps) does nothing: it must never bootstrap again.
func (s *Server) runBootstrap(ctx context.Context) {
	if s.raft.HasState() {
		return
	}
	switch {
	case s.cfg.BootstrapExpect > 1:
		s.bootstrapExpect(ctx)
	case len(s.cfg.Join) > 0:
		s.joinCluster(ctx)
	}
}

// bootstrapExpect is Consul's bootstrap_expect: every server reads
// GET /v1/agent/self of the servers in Join until it knows
// BootstrapExpect servers (itself included), and then bootstraps Raft
// with all of them, sorted by ID. Since every server computes the same
// configuration, their first log entries agree and an election follows.
// If a peer already belongs to a cluster with a leader, this server joins
// that cluster instead.
func (s *Server) bootstrapExpect(ctx context.Context) {
	want := s.cfg.BootstrapExpect
	peers := map[string]state.Server{s.id: {ID: s.id, Addr: s.RaftAddr(), Voter: true}}
	lastCount := 0
	for ctx.Err() == nil {
		if s.raft.HasState() {
			return
		}
		for _, addr := range s.cfg.Join {
			self, err := s.peerSelf(ctx, addr)
			if err != nil {
				s.logger.Debug("bootstrap: peer not reachable yet", "addr", addr, "err", err)
				continue
			}
			if self.ID == s.id {
				continue
			}
			if self.Bootstrapped && self.KnownLeader {
				s.logger.Info("bootstrap: found an existing cluster; joining it", "peer", addr)
				s.joinCluster(ctx)
				return
			}
			if self.BootstrapExpect != 0 && self.BootstrapExpect != want {
				s.logger.Warn("bootstrap: peer expects a different number of servers", "peer", addr, "theirs", self.BootstrapExpect, "ours", want)
			}
			peers[self.ID] = state.Server{ID: self.ID, Addr: self.RaftAddr, Voter: true}
		}
		if len(peers) >= want {
			voters := slices.Collect(maps.Values(peers))
			err := s.raft.BootstrapCluster(ctx, voters)
			if err == nil || errors.Is(err, state.ErrAlreadyBootstrapped) {
				s.logger.Info("bootstrap: cluster formed", "servers", len(voters))
				return
			}
			s.logger.Warn("bootstrap failed; retrying", "err", err)
		} else if len(peers) != lastCount {
			lastCount = len(peers)
			s.logger.Info("bootstrap: waiting for servers", "known", len(peers), "expect", want)
		}
		if !sleepCtx(ctx, s.cfg.RetryInterval) {
			return
		}
	}
}

// joinCluster asks the servers in Join, in turn, to add this server as a
// voter, until one succeeds or this server got Raft state some other way.
func (s *Server) joinCluster(ctx context.Context) {
	req := &api.JoinRequest{ID: s.id, RaftAddr: s.RaftAddr(), HTTPAddr: s.HTTPAddr()}
	for ctx.Err() == nil {
		if s.raft.HasState() {
			return
		}
		for _, addr := range s.cfg.Join {
			err := s.peerJoin(ctx, addr, req)
			if err == nil {
				s.logger.Info("joined the cluster", "via", addr)
				return
			}
			s.logger.Warn("join failed; retrying", "addr", addr, "err", err)
		}
		if !sleepCtx(ctx, s.cfg.RetryInterval) {
			return
		}
	}
}

// runMemberRegistration keeps this server's record in the replicated
// members table current, so that followers can forward to it once it
// leads. The leader writes its own record; a follower asks the leader
// (POST /v1/operator/raft/join, which also makes sure it is a voter).
func (s *Server) runMemberRegistration(ctx context.Context) {
	for ctx.Err() == nil {
		snap := s.raft.Store().Snapshot()
		me := snap.Member(s.id)
		// The name is not compared: only the leader writes it (JoinRequest
		// carries none), and nothing routes by it.
		current := me != nil && me.RaftAddr == s.RaftAddr() && me.HTTPAddr == s.HTTPAddr()
		_, leaderID := s.raft.Leader()
		switch {
		case current || leaderID == s.id:
			// Wake when the table changes (a restore may drop the record)
			// or now and then, since leadership changes do not write it.
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			idx := snap.Index(state.TableMembers)
			_, _, _ = s.raft.Store().Blocking(wctx, idx, []string{state.TableMembers}, func(sn *state.Snapshot) (uint64, any) {
				return sn.Index(state.TableMembers), nil
			})
			cancel()
			continue
		case leaderID != "" && s.raft.HasState():
			if leader := snap.Member(leaderID); leader != nil && leader.HTTPAddr != "" {
				err := s.peerJoin(ctx, leader.HTTPAddr, &api.JoinRequest{ID: s.id, RaftAddr: s.RaftAddr(), HTTPAddr: s.HTTPAddr()})
				if err != nil {
					s.logger.Debug("register with the leader", "err", err)
				}
			}
		}
		if !sleepCtx(ctx, s.cfg.RetryInterval) {
			return
		}
	}
}

func (s *Server) peerJoin(ctx context.Context, addr string, req *api.JoinRequest) error {
	c, err := s.peerClient(addr)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = c.Operator().RaftJoin(cctx, req)
	return err
}

func (s *Server) peerSelf(ctx context.Context, addr string) (*api.AgentSelf, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := s.peerClient(addr)
	if err != nil {
		return nil, err
	}
	return c.Agent().Self(cctx)
}

// peerClient is an API client for another server, carrying our token.
// Join addresses were checked by Validate and member addresses are
// host:port, so NewClient cannot fail on them; should it, the error is
// returned and the caller retries like any failed call.
func (s *Server) peerClient(addr string) (*api.Client, error) {
	return api.NewClient(api.Config{Address: addr, Token: s.cfg.Token, HTTPClient: &http.Client{Transport: s.proxy}})
}
