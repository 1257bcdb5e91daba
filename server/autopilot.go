package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/state"
)

// Autopilot, as Consul and Nomad have it, as far as Drover needs it: the
// leader removes a voter it has lost for a grace period (dead server
// cleanup), so that a server that died for good does not count against
// the quorum forever and a replacement can take its place.
//
// The leader knows a follower is gone from its own heartbeats: raft
// reports each failed heartbeat with when the follower last answered
// (state.WatchHeartbeats). A new leader counts from when it took office,
// so every change of leader restarts the grace period.
//
// A server removed while it was down is not lost: once it runs again and
// has heard from no leader for a while, it asks the servers it knows to
// add it back (rejoinIfLeaderless), as a Consul server rejoins through
// Serf.

// AutopilotConfig configures the dead server cleanup (Consul's and
// Nomad's autopilot block, with Drover's dead_server_grace).
type AutopilotConfig struct {
	// CleanupDeadServers lets the leader remove a voter whose heartbeats
	// failed for DeadServerGrace, when the quorum math allows it.
	CleanupDeadServers bool
	DeadServerGrace    time.Duration
	// MinQuorum is the fewest voters cleanup may leave (Consul's
	// min_quorum); 0 sets no floor beyond the majority rule.
	MinQuorum int
}

// DefaultAutopilotConfig returns the defaults: cleanup on (as in Consul
// and Nomad), after five minutes without contact.
func DefaultAutopilotConfig() AutopilotConfig {
	return AutopilotConfig{CleanupDeadServers: true, DeadServerGrace: 5 * time.Minute}
}

// Validate reports a configuration cleanup cannot run with.
func (c AutopilotConfig) Validate() error {
	var errs []error
	if c.DeadServerGrace <= 0 {
		errs = append(errs, errors.New("autopilot dead_server_grace must be positive"))
	}
	if c.MinQuorum < 0 {
		errs = append(errs, errors.New("autopilot min_quorum must not be negative"))
	}
	return errors.Join(errs...)
}

// quorumMath is what a Raft configuration of Voters voters, Healthy of
// which answer the leader, can still lose.
type quorumMath struct {
	Voters, Healthy, Quorum, FailureTolerance int
}

func newQuorumMath(voters, healthy int) quorumMath {
	q := voters/2 + 1
	return quorumMath{Voters: voters, Healthy: healthy, Quorum: q, FailureTolerance: max(healthy-q, 0)}
}

func (q quorumMath) String() string {
	return fmt.Sprintf("%d of %d voters healthy, quorum %d, failure tolerance %d", q.Healthy, q.Voters, q.Quorum, q.FailureTolerance)
}

func (q quorumMath) api() api.QuorumMath {
	return api.QuorumMath{Voters: q.Voters, Healthy: q.Healthy, Quorum: q.Quorum, FailureTolerance: q.FailureTolerance}
}

// peerHealth is what the leader saw of one follower's heartbeats.
type peerHealth struct {
	failing     bool
	lastContact time.Time // when it last answered (failing only)
	lastFailure time.Time // when a heartbeat last failed
}

// autopilotState is the leader's heartbeat view, shared by the autopilot
// duty (which writes it) and the raft configuration route (which reads
// it). Its zero value is ready; peers is nil while not leading.
type autopilotState struct {
	mu    sync.Mutex
	peers map[string]peerHealth
}

func (a *autopilotState) begin() {
	a.mu.Lock()
	a.peers = map[string]peerHealth{}
	a.mu.Unlock()
}

func (a *autopilotState) end() {
	a.mu.Lock()
	a.peers = nil
	a.mu.Unlock()
}

func (a *autopilotState) observe(ev state.HeartbeatEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.peers == nil {
		return
	}
	if !ev.Failed {
		delete(a.peers, ev.PeerID)
		return
	}
	a.peers[ev.PeerID] = peerHealth{failing: true, lastContact: ev.LastContact, lastFailure: ev.At}
}

// view returns a copy of the heartbeat view, keeping only the given
// peers (the configuration's).
func (a *autopilotState) view(keep []state.Server) map[string]peerHealth {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]peerHealth{}
	for id, h := range a.peers {
		if slices.ContainsFunc(keep, func(s state.Server) bool { return s.ID == id }) {
			out[id] = h
		} else {
			delete(a.peers, id) // removed from the configuration
		}
	}
	return out
}

// unhealthy reports whether a peer's heartbeats are failing now, and for
// how long it has not answered. A failure older than stale is forgotten:
// raft reports one at every failed attempt, so only a lost "resumed"
// event leaves an old one standing.
func (h peerHealth) unhealthy(now time.Time, stale time.Duration) (bool, time.Duration) {
	if !h.failing || now.Sub(h.lastFailure) > stale {
		return false, 0
	}
	return true, now.Sub(h.lastContact)
}

// deadServerPlan is what the cleanup decided: at most one removal per
// pass, so that every removal is judged on the configuration the
// previous one left.
type deadServerPlan struct {
	Remove      string
	LastContact time.Duration
	Before      quorumMath
	After       quorumMath
	// Held says why a dead server stays (cleanup off, min_quorum, or the
	// majority rule); empty when none is dead or one is removed.
	Held string
}

// planDeadServerRemoval decides, from the configuration's voters and the
// leader's heartbeat view, which dead voter to remove. It follows
// Consul's autopilot: only a minority of the voters may be removed, and
// only while the servers that still answer form a quorum of what
// remains; MinQuorum sets a floor.
func planDeadServerRemoval(voters []state.Server, self string, health map[string]peerHealth, cfg AutopilotConfig, stale time.Duration, now time.Time) deadServerPlan {
	type dead struct {
		id   string
		gone time.Duration
	}
	var deads []dead
	unhealthy := 0
	for _, v := range voters {
		if v.ID == self {
			continue
		}
		bad, since := health[v.ID].unhealthy(now, stale)
		if !bad {
			continue
		}
		unhealthy++
		if since >= cfg.DeadServerGrace {
			deads = append(deads, dead{v.ID, since})
		}
	}
	n := len(voters)
	before := newQuorumMath(n, n-unhealthy)
	plan := deadServerPlan{Before: before}
	if len(deads) == 0 {
		return plan
	}
	slices.SortFunc(deads, func(a, b dead) int { return cmp.Or(cmp.Compare(b.gone, a.gone), cmp.Compare(a.id, b.id)) })
	d := deads[0]
	after := newQuorumMath(n-1, before.Healthy)
	switch {
	case !cfg.CleanupDeadServers:
		plan.Held = fmt.Sprintf("server %s has not answered for %s, but cleanup_dead_servers is off (%s)", d.id, d.gone.Round(time.Second), before)
	case len(deads) > (n-1)/2:
		plan.Held = fmt.Sprintf("%d of %d voters are dead: removing them would remove a majority, so none is removed (%s)", len(deads), n, before)
	case before.Healthy < before.Quorum:
		plan.Held = fmt.Sprintf("server %s is dead, but the healthy servers do not make a quorum, so no configuration change can commit (%s)", d.id, before)
	case n-1 < cfg.MinQuorum:
		plan.Held = fmt.Sprintf("server %s is dead, but removing it would leave %d voters, below min_quorum %d (%s)", d.id, n-1, cfg.MinQuorum, before)
	case after.Healthy < after.Quorum:
		plan.Held = fmt.Sprintf("server %s is dead, but after removing it %d healthy servers would not make the quorum of %d (%s)", d.id, after.Healthy, after.Quorum, before)
	default:
		plan.Remove, plan.LastContact, plan.After = d.id, d.gone, after
	}
	return plan
}

// autopilotStale is how long one failed heartbeat counts: raft retries a
// failed follower at least every half heartbeat timeout, each attempt
// bounded by the transport timeout.
func (s *Server) autopilotStale() time.Duration {
	return 3*s.cfg.Raft.TransportTimeout + 2*s.cfg.Raft.HeartbeatTimeout
}

// runAutopilot is a leader duty: it follows the heartbeats and, every
// tick, removes at most one dead server.
func (s *Server) runAutopilot(ctx context.Context) {
	s.autopilot.begin()
	defer s.autopilot.end()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.raft.WatchHeartbeats(ctx, s.autopilot.observe) })

	tick := max(min(s.cfg.Autopilot.DeadServerGrace/10, 5*time.Second), 100*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	var held string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		plan, err := s.pruneDeadServers(ctx, time.Now())
		switch {
		case err != nil:
			if ctx.Err() == nil {
				s.logger.Warn("autopilot: dead server cleanup", "err", err)
			}
		case plan.Held != held:
			// Said once per change, not at every tick.
			if plan.Held != "" {
				s.logger.Warn("autopilot: " + plan.Held)
			}
			held = plan.Held
		}
	}
}

// pruneDeadServers runs one pass of the cleanup.
func (s *Server) pruneDeadServers(ctx context.Context, now time.Time) (deadServerPlan, error) {
	servers, err := s.raft.Servers(ctx)
	if err != nil {
		return deadServerPlan{}, err
	}
	var voters []state.Server
	for _, sv := range servers {
		if sv.Voter {
			voters = append(voters, sv)
		}
	}
	plan := planDeadServerRemoval(voters, s.id, s.autopilot.view(servers), s.cfg.Autopilot, s.autopilotStale(), now)
	if plan.Remove == "" {
		return plan, nil
	}
	name := plan.Remove
	if m := s.raft.Store().Snapshot().Member(plan.Remove); m != nil && m.Name != "" {
		name = m.Name
	}
	s.logger.Warn(fmt.Sprintf("autopilot: removing dead server %s (%s): no contact for %s (dead_server_grace %s); before: %s; after removal: %s",
		name, plan.Remove, plan.LastContact.Round(time.Second), s.cfg.Autopilot.DeadServerGrace, plan.Before, plan.After))
	return plan, s.removePeer(ctx, plan.Remove)
}

// removePeer removes a server from the Raft configuration and then its
// member record. In this order: the server, should it still run, then
// never sees its record go, so it does not ask to be added back at once;
// it asks only once it has heard from no leader for a while.
func (s *Server) removePeer(ctx context.Context, id string) error {
	if err := s.raft.RemoveServer(ctx, id); err != nil {
		return err
	}
	_, _, err := s.raft.Apply(ctx, state.MsgMemberDelete, &state.MemberDeleteRequest{ID: id, Now: time.Now()})
	return err
}

// rejoinAfter is how long a server with state goes without a leader
// before it asks the servers it knows to add it back.
func (s *Server) rejoinAfter() time.Duration {
	return max(10*s.cfg.Raft.ElectionTimeout, 10*s.cfg.RetryInterval)
}

// rejoinIfLeaderless brings back a server that was removed from the Raft
// configuration while it was down or cut off (dead server cleanup, or
// remove-peer): such a server hears from no leader ever again and, not
// being a voter of the configuration the others have, wins no election.
// Once it has known no leader for rejoinAfter, it asks the servers it
// knows (its member records, then -join) to add it: a server that is
// still in the configuration is a no-op for the leader, so asking when
// merely cut off does no harm. since holds when it last knew a leader
// (or last asked); the caller's loop keeps it.
func (s *Server) rejoinIfLeaderless(ctx context.Context, leaderID string, since *time.Time, now time.Time) {
	if leaderID != "" || !s.raft.HasState() {
		*since = time.Time{}
		return
	}
	if since.IsZero() {
		*since = now
		return
	}
	if now.Sub(*since) < s.rejoinAfter() {
		return
	}
	*since = now
	var addrs []string
	for _, m := range s.raft.Store().Snapshot().Members() {
		if m.ID != s.id && m.HTTPAddr != "" {
			addrs = append(addrs, m.HTTPAddr)
		}
	}
	addrs = append(addrs, s.cfg.Join...)
	req := &api.JoinRequest{ID: s.id, RaftAddr: s.RaftAddr(), HTTPAddr: s.HTTPAddr()}
	for _, addr := range slices.Compact(addrs) {
		if addr == s.HTTPAddr() {
			continue
		}
		if err := s.peerJoin(ctx, addr, req); err != nil {
			s.logger.Debug("no leader known: asking to be added back failed", "addr", addr, "err", err)
			continue
		}
		s.logger.Info("no leader known for a while: asked the cluster to add this server back (it was removed while away?)", "through", addr)
		return
	}
}
