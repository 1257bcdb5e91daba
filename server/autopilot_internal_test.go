package server

import (
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/state"
)

func TestAutopilotPlanDeadServerRemoval(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	stale := 30 * time.Second
	voters := func(ids ...string) []state.Server {
		var out []state.Server
		for _, id := range ids {
			out = append(out, state.Server{ID: id, Voter: true})
		}
		return out
	}
	dead := func(ago time.Duration) peerHealth {
		return peerHealth{failing: true, lastContact: now.Add(-ago), lastFailure: now.Add(-time.Second)}
	}
	on := AutopilotConfig{CleanupDeadServers: true, DeadServerGrace: 5 * time.Minute}
	for _, tc := range []struct {
		name       string
		voters     []state.Server
		health     map[string]peerHealth
		cfg        AutopilotConfig
		remove     string
		held       string
		before     quorumMath
		afterVotes int
	}{
		{name: "all healthy", voters: voters("a", "b", "c"), cfg: on,
			before: quorumMath{Voters: 3, Healthy: 3, Quorum: 2, FailureTolerance: 1}},
		{name: "failing within the grace", voters: voters("a", "b", "c"), health: map[string]peerHealth{"c": dead(time.Minute)}, cfg: on,
			before: quorumMath{Voters: 3, Healthy: 2, Quorum: 2, FailureTolerance: 0}},
		{name: "dead past the grace: 3 -> 2", voters: voters("a", "b", "c"), health: map[string]peerHealth{"c": dead(6 * time.Minute)}, cfg: on,
			remove: "c", before: quorumMath{Voters: 3, Healthy: 2, Quorum: 2}, afterVotes: 2},
		{name: "an old failure is forgotten", voters: voters("a", "b", "c"),
			health: map[string]peerHealth{"c": {failing: true, lastContact: now.Add(-time.Hour), lastFailure: now.Add(-time.Hour)}}, cfg: on,
			before: quorumMath{Voters: 3, Healthy: 3, Quorum: 2, FailureTolerance: 1}},
		{name: "cleanup off", voters: voters("a", "b", "c"), health: map[string]peerHealth{"c": dead(time.Hour)},
			cfg: AutopilotConfig{DeadServerGrace: time.Minute}, held: "cleanup_dead_servers is off",
			before: quorumMath{Voters: 3, Healthy: 2, Quorum: 2}},
		{name: "min_quorum", voters: voters("a", "b", "c"), health: map[string]peerHealth{"c": dead(time.Hour)},
			cfg: AutopilotConfig{CleanupDeadServers: true, DeadServerGrace: time.Minute, MinQuorum: 3}, held: "below min_quorum 3",
			before: quorumMath{Voters: 3, Healthy: 2, Quorum: 2}},
		{name: "a majority dead is never removed", voters: voters("a", "b", "c", "d", "e"),
			health: map[string]peerHealth{"c": dead(time.Hour), "d": dead(time.Hour), "e": dead(time.Hour)}, cfg: on,
			held: "3 of 5 voters are dead", before: quorumMath{Voters: 5, Healthy: 2, Quorum: 3}},
		{name: "two of five dead: the longest dead first", voters: voters("a", "b", "c", "d", "e"),
			health: map[string]peerHealth{"d": dead(time.Hour), "e": dead(2 * time.Hour)}, cfg: on,
			remove: "e", before: quorumMath{Voters: 5, Healthy: 3, Quorum: 3}, afterVotes: 4},
		{name: "one dead and one failing of four", voters: voters("a", "b", "c", "d"),
			health: map[string]peerHealth{"c": dead(time.Hour), "d": dead(time.Minute)}, cfg: on,
			held: "do not make a quorum", before: quorumMath{Voters: 4, Healthy: 2, Quorum: 3}},
		{name: "the leader itself is never judged", voters: voters("a", "b", "c"), health: map[string]peerHealth{"a": dead(time.Hour)}, cfg: on,
			before: quorumMath{Voters: 3, Healthy: 3, Quorum: 2, FailureTolerance: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planDeadServerRemoval(tc.voters, "a", tc.health, tc.cfg, stale, now)
			if p.Remove != tc.remove || !strings.Contains(p.Held, tc.held) || (tc.held == "") != (p.Held == "") {
				t.Fatalf("plan = %+v, want remove %q held %q", p, tc.remove, tc.held)
			}
			if p.Before != tc.before {
				t.Fatalf("before = %+v, want %+v", p.Before, tc.before)
			}
			if tc.remove != "" && (p.After.Voters != tc.afterVotes || p.After.Healthy < p.After.Quorum) {
				t.Fatalf("after = %+v", p.After)
			}
		})
	}
}

func TestQuorumMath(t *testing.T) {
	for _, tc := range []struct{ voters, healthy, quorum, tolerance int }{
		{1, 1, 1, 0}, {2, 2, 2, 0}, {3, 3, 2, 1}, {3, 2, 2, 0}, {4, 4, 3, 1}, {5, 5, 3, 2}, {5, 2, 3, 0},
	} {
		q := newQuorumMath(tc.voters, tc.healthy)
		if q.Quorum != tc.quorum || q.FailureTolerance != tc.tolerance {
			t.Errorf("%d voters, %d healthy: %+v, want quorum %d tolerance %d", tc.voters, tc.healthy, q, tc.quorum, tc.tolerance)
		}
	}
}
