package server

import (
	"net"
	"net/http"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/state"
)

func (s *Server) statusLeader(w http.ResponseWriter, r *http.Request) error {
	addr, id := s.raft.Leader()
	resp := &api.LeaderResponse{RaftAddr: addr, ID: id}
	snap := s.raft.Store().Snapshot()
	if m := snap.Member(id); id != "" && m != nil {
		resp.HTTPAddr = m.HTTPAddr
	}
	return s.reply(w, snap.Index(state.TableMembers), resp)
}

func (s *Server) statusPeers(w http.ResponseWriter, r *http.Request) error {
	servers, err := s.raft.Servers(r.Context())
	if err != nil {
		return err
	}
	snap := s.raft.Store().Snapshot()
	_, leaderID := s.raft.Leader()
	out := []api.ServerMember{}
	for _, sv := range servers {
		m := api.ServerMember{ID: sv.ID, RaftAddr: sv.Addr, Voter: sv.Voter, Leader: sv.ID == leaderID}
		if rec := snap.Member(sv.ID); rec != nil {
			m.HTTPAddr = rec.HTTPAddr
		}
		out = append(out, m)
	}
	return s.reply(w, snap.Index(state.TableMembers), out)
}

func (s *Server) agentHealth(w http.ResponseWriter, r *http.Request) error {
	_, leaderID := s.raft.Leader()
	st := &api.HealthStatus{OK: leaderID != "", Message: "ok"}
	code := http.StatusOK
	if !st.OK {
		st.Message = "no cluster leader"
		if !s.raft.HasState() {
			st.Message = "waiting to bootstrap or join a cluster"
		}
		code = http.StatusServiceUnavailable
	}
	s.setMeta(w, s.raft.AppliedIndex())
	writeJSON(w, code, &api.HealthResponse{Server: st})
	return nil
}

func (s *Server) agentSelf(w http.ResponseWriter, r *http.Request) error {
	_, leaderID := s.raft.Leader()
	return s.reply(w, s.raft.AppliedIndex(), &api.AgentSelf{
		ID: s.id, Name: s.cfg.Name, RaftAddr: s.RaftAddr(), HTTPAddr: s.HTTPAddr(), Version: s.cfg.Version,
		BootstrapExpect: s.cfg.BootstrapExpect, Bootstrapped: s.raft.HasState(),
		Leader: leaderID == s.id, KnownLeader: leaderID != "", LeaderID: leaderID,
	})
}

// operatorRaftJoin adds a server to the Raft configuration as a voter and
// records its addresses. Servers call it when they join, and again
// whenever their member record is missing or stale, so it is idempotent.
// A different server ID at the same Raft address is a server that lost
// its data dir: the old ID is removed first, as Consul does. The request
// must prove a server certificate of the cluster CA (tls_proof.go).
func (s *Server) operatorRaftJoin(w http.ResponseWriter, r *http.Request) error {
	var req api.JoinRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.ID == "" {
		return errorf(http.StatusBadRequest, "join: id is required")
	}
	if _, _, err := net.SplitHostPort(req.RaftAddr); err != nil {
		return errorf(http.StatusBadRequest, "join: raft_addr %q: %v", req.RaftAddr, err)
	}
	if req.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(req.HTTPAddr); err != nil {
			return errorf(http.StatusBadRequest, "join: http_addr %q: %v", req.HTTPAddr, err)
		}
	}
	if err := s.checkRaftJoinProof(&req, time.Now()); err != nil {
		s.logger.Warn("join: refused a Raft join", "id", req.ID, "remote", r.RemoteAddr, "err", err)
		return err
	}
	servers, err := s.raft.Servers(r.Context())
	if err != nil {
		return err
	}
	present := false
	for _, sv := range servers {
		switch {
		case sv.ID == req.ID:
			present = sv.Addr == req.RaftAddr && sv.Voter
		case sv.Addr == req.RaftAddr:
			s.logger.Info("join: removing a stale server at the joining server's address", "old_id", sv.ID, "new_id", req.ID)
			if err := s.raft.RemoveServer(r.Context(), sv.ID); err != nil {
				return err
			}
		}
	}
	if !present {
		if err := s.raft.AddVoter(r.Context(), req.ID, req.RaftAddr); err != nil {
			return err
		}
		s.logger.Info("server joined", "id", req.ID, "raft_addr", req.RaftAddr, "http_addr", req.HTTPAddr)
	}
	m := &state.Member{ID: req.ID, RaftAddr: req.RaftAddr, HTTPAddr: req.HTTPAddr}
	if cur := s.raft.Store().Snapshot().Member(req.ID); cur != nil {
		m.Name = cur.Name // a JoinRequest carries no name; keep the one a leader wrote
	}
	if err := s.upsertMember(r.Context(), m); err != nil {
		return err
	}
	idx := s.raft.AppliedIndex()
	return s.reply(w, idx, &api.WriteResponse{Index: idx})
}
