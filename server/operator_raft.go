package server

import (
	"net/http"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/state"
)

// Raft peers through the API (Nomad's routes): the configuration with
// the leader's view of each server's health and the quorum math, and the
// removal of a server that is gone for good.

func (s *Server) operatorRaftRoutes(mux *router) {
	mux.handle("GET /v1/operator/raft/configuration", CapOperatorRead, s.read(s.raftConfiguration))
	mux.handle("DELETE /v1/operator/raft/peer", CapOperatorWrite, s.write(s.raftRemovePeer))
}

// raftView is the configuration with the leader's health view.
type raftView struct {
	servers []state.Server
	health  map[string]peerHealth
	math    quorumMath
}

func (s *Server) raftView(r *http.Request, now time.Time) (*raftView, error) {
	servers, err := s.raft.Servers(r.Context())
	if err != nil {
		return nil, err
	}
	v := &raftView{servers: servers, health: s.autopilot.view(servers)}
	voters, healthy := 0, 0
	for _, sv := range servers {
		if !sv.Voter {
			continue
		}
		voters++
		if bad, _ := v.health[sv.ID].unhealthy(now, s.autopilotStale()); !bad {
			healthy++
		}
	}
	v.math = newQuorumMath(voters, healthy)
	return v, nil
}

func (s *Server) raftConfiguration(w http.ResponseWriter, r *http.Request) error {
	now := time.Now()
	v, err := s.raftView(r, now)
	if err != nil {
		return err
	}
	snap := s.raft.Store().Snapshot()
	_, leaderID := s.raft.Leader()
	out := &api.RaftConfiguration{
		Servers: []api.RaftServer{},
		Quorum:  v.math.api(),
		Autopilot: api.AutopilotSettings{
			CleanupDeadServers: s.cfg.Autopilot.CleanupDeadServers,
			DeadServerGrace:    s.cfg.Autopilot.DeadServerGrace.String(),
			MinQuorum:          s.cfg.Autopilot.MinQuorum,
		},
		Index: snap.Index(state.TableMembers),
	}
	for _, sv := range v.servers {
		rs := api.RaftServer{ID: sv.ID, Address: sv.Addr, Voter: sv.Voter, Leader: sv.ID == leaderID, Healthy: true}
		if m := snap.Member(sv.ID); m != nil {
			rs.Name, rs.HTTPAddr = m.Name, m.HTTPAddr
		}
		if bad, since := v.health[sv.ID].unhealthy(now, s.autopilotStale()); bad {
			rs.Healthy, rs.LastContactMS = false, since.Milliseconds()
		}
		out.Servers = append(out.Servers, rs)
	}
	return s.reply(w, out.Index, out)
}

// raftRemovePeer removes a server from the Raft configuration (?id= or
// ?address=, its Raft address) and its member record. It refuses to
// remove the leader, and a removal after which the servers that answer
// would not make a quorum: that would stop the cluster from writing.
func (s *Server) raftRemovePeer(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	id, addr := q.Get("id"), q.Get("address")
	if (id == "") == (addr == "") {
		return errorf(http.StatusBadRequest, "remove peer: give either ?id= or ?address= (its Raft address)")
	}
	now := time.Now()
	v, err := s.raftView(r, now)
	if err != nil {
		return err
	}
	var target *state.Server
	for i, sv := range v.servers {
		if id != "" && sv.ID == id || addr != "" && sv.Addr == addr {
			target = &v.servers[i]
		}
	}
	if target == nil {
		what := "id " + id
		if id == "" {
			what = "address " + addr
		}
		return errorf(http.StatusNotFound, "remove peer: no server with %s in the Raft configuration (drover operator raft list-peers)", what)
	}
	if target.ID == s.id {
		return errorf(http.StatusBadRequest, "remove peer: %s is the leader; stop it (another server takes over), then remove it through the new leader", target.ID)
	}
	bad, _ := v.health[target.ID].unhealthy(now, s.autopilotStale())
	after := v.math
	if target.Voter {
		healthy := v.math.Healthy
		if !bad {
			healthy--
		}
		after = newQuorumMath(v.math.Voters-1, healthy)
		if after.Healthy < after.Quorum {
			return errorf(http.StatusConflict, "remove peer: refused: now %s; after removing %s, %d healthy servers would not make the quorum of %d and the cluster could not write",
				v.math, target.ID, after.Healthy, after.Quorum)
		}
	}
	resp := &api.RaftRemovePeerResponse{ID: target.ID, Before: v.math.api(), After: after.api(), WasHealthy: !bad}
	if m := s.raft.Store().Snapshot().Member(target.ID); m != nil {
		resp.Name = m.Name
	}
	if err := s.removePeer(r.Context(), target.ID); err != nil {
		return err
	}
	s.logger.Warn("removed a server from the Raft configuration", "id", target.ID, "raft_addr", target.Addr,
		"before", v.math.String(), "after", after.String())
	resp.Index = s.raft.AppliedIndex()
	return s.reply(w, resp.Index, resp)
}
