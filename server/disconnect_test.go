package server_test

import (
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// TestDisconnectUnknownThenLost: a node stops heartbeating (short TTL);
// its allocation, whose group has disconnect.lost_after, goes unknown
// rather than lost, is replaced (or not, with replace = false) and turns
// lost once lost_after has passed. With keep_original, the node coming
// back and reporting it running stops the replacement.
func TestDisconnectUnknownThenLost(t *testing.T) {
	const lostAfter = 3 * time.Second
	tests := []struct {
		name      string
		replace   *bool
		reconcile string
		lostAfter time.Duration
		reconnect bool
	}{
		{name: "replace (default)", lostAfter: lostAfter},
		{name: "replace = false", replace: new(false), lostAfter: lostAfter},
		{name: "reconnect keep_original", reconcile: cluster.ReconcileKeepOriginal, lostAfter: time.Hour, reconnect: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := servertest.Single(t, func(c *server.Config) {
				c.HeartbeatTTL = 500 * time.Millisecond
				c.HeartbeatGrace = 500 * time.Millisecond
				c.FailoverHeartbeatGrace = 0
			})
			c := s.Client
			nodes := registerNodes(t, c, 1)
			gone := nodes[0]

			spec := parseJob(t, webJob("web", 1, ""))
			spec.Groups[0].Disconnect = &jobspec.Disconnect{LostAfter: tt.lostAfter, Replace: tt.replace, Reconcile: tt.reconcile}
			if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: spec}); err != nil {
				t.Fatal(err)
			}
			waitEvals(t, c, "web")
			allocs, _, err := c.Nodes().Allocations(ctxT(t), gone.ID, nil)
			if err != nil || len(allocs) != 1 {
				t.Fatalf("allocations on the first node = %v, %v", allocs, err)
			}
			orig := *allocs[0]
			orig.ClientStatus = cluster.AllocClientRunning
			orig.TaskStates = map[string]*cluster.TaskState{"server": {State: cluster.TaskStateRunning, StartedAt: time.Now()}}
			if _, err := asNode(c, gone.ID).Nodes().UpdateAllocs(ctxT(t), gone.ID, []*cluster.Allocation{&orig}); err != nil {
				t.Fatal(err)
			}

			// A second node joins and keeps heartbeating; the first
			// never heartbeats again (until it reconnects).
			other := testNode(2)
			if _, err := asNode(c, other.ID).Nodes().Register(ctxT(t), other); err != nil {
				t.Fatal(err)
			}
			var beating sync.Map
			beating.Store(other.ID, true)
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				tick := time.NewTicker(150 * time.Millisecond)
				defer tick.Stop()
				for {
					beating.Range(func(id, _ any) bool {
						_, _ = asNode(c, id.(string)).Nodes().Heartbeat(t.Context(), id.(string))
						return true
					})
					select {
					case <-stop:
						return
					case <-tick.C:
					}
				}
			}()
			defer func() { close(stop); <-done }()

			get := func() map[string]*cluster.Allocation {
				allocs, _, err := c.Jobs().Allocations(ctxT(t), "web", nil)
				if err != nil {
					t.Fatal(err)
				}
				m := map[string]*cluster.Allocation{}
				for _, a := range allocs {
					m[a.ID] = a
				}
				return m
			}
			servertest.WaitFor(t, "the silent node's allocation to go unknown", func() bool {
				a := get()[orig.ID]
				return a.ClientStatus == cluster.AllocClientUnknown
			})
			start := time.Now()
			if a := get()[orig.ID]; a.DesiredStatus != cluster.AllocDesiredRun || a.DisconnectedAt.IsZero() {
				t.Fatalf("unknown allocation: desired %q, disconnected at %v; want run, set", a.DesiredStatus, a.DisconnectedAt)
			}
			if n, _, err := c.Nodes().Info(ctxT(t), gone.ID, nil); err != nil || n.Status != cluster.NodeStatusDown {
				t.Fatalf("silent node: %v, %v; want down", n.Status, err)
			}

			replacement := func() *cluster.Allocation {
				for _, a := range get() {
					if a.ID != orig.ID && !a.Terminal() {
						return a
					}
				}
				return nil
			}
			if tt.replace == nil {
				servertest.WaitFor(t, "a replacement next to the unknown allocation", func() bool { return replacement() != nil })
				r := replacement()
				if r.NodeID != other.ID || r.PreviousAllocation != orig.ID {
					t.Fatalf("replacement %+v: want on %s replacing %s", r, other.ID, orig.ID)
				}
				if a := get()[orig.ID]; a.ClientStatus != cluster.AllocClientUnknown || a.DesiredStatus != cluster.AllocDesiredRun {
					t.Fatalf("the original was touched by its replacement: %s/%s", a.ClientStatus, a.DesiredStatus)
				}
			} else {
				waitEvals(t, c, "web")
				if r := replacement(); r != nil {
					t.Fatalf("replace = false, yet %s was placed while the original is unknown", r.ID)
				}
			}

			if tt.reconnect {
				// The node returns and reports its allocation running:
				// keep_original stops the replacement.
				r := replacement()
				beating.Store(gone.ID, true)
				servertest.WaitFor(t, "the node to be ready again", func() bool {
					n, _, err := c.Nodes().Info(ctxT(t), gone.ID, nil)
					return err == nil && n.Status == cluster.NodeStatusReady
				})
				if _, err := asNode(c, gone.ID).Nodes().UpdateAllocs(ctxT(t), gone.ID, []*cluster.Allocation{&orig}); err != nil {
					t.Fatal(err)
				}
				servertest.WaitFor(t, "the replacement to be stopped", func() bool {
					return get()[r.ID].DesiredStatus == cluster.AllocDesiredStop
				})
				m := get()
				if d := m[r.ID].DesiredDescription; d != "alloc not needed due to disconnected client reconnect" {
					t.Errorf("replacement stopped with %q", d)
				}
				if a := m[orig.ID]; a.ClientStatus != cluster.AllocClientRunning || a.DesiredStatus != cluster.AllocDesiredRun {
					t.Errorf("original after reconnect: %s/%s, want running/run", a.ClientStatus, a.DesiredStatus)
				}
				if live := liveAllocs(slicesOf(m)); len(live) != 1 {
					t.Errorf("%d live allocations after the reconnect, want 1", len(live))
				}
				return
			}

			servertest.WaitFor(t, "the unknown allocation to turn lost after lost_after", func() bool {
				return get()[orig.ID].ClientStatus == cluster.AllocClientLost
			})
			if el := time.Since(start); el < lostAfter-time.Second {
				t.Errorf("lost %v after going unknown; lost_after is %v", el, lostAfter)
			}
			// Lost for good: should its node return, it stops it rather
			// than reconciling it with the replacement.
			servertest.WaitFor(t, "the lost original to be stopped", func() bool {
				return get()[orig.ID].DesiredStatus == cluster.AllocDesiredStop
			})
			servertest.WaitFor(t, "exactly one live allocation, on the other node", func() bool {
				live := liveAllocs(slicesOf(get()))
				return len(live) == 1 && live[0].NodeID == other.ID
			})
		})
	}
}

func slicesOf(m map[string]*cluster.Allocation) []*cluster.Allocation {
	out := make([]*cluster.Allocation, 0, len(m))
	for _, a := range m {
		out = append(out, a)
	}
	return out
}

// TestDisconnectLostAfterLeaderChange: the time an allocation went
// unknown is in the state, so a new leader turns it lost when lost_after
// has passed since then, not since it took office (nor never).
func TestDisconnectLostAfterLeaderChange(t *testing.T) {
	const lostAfter = 4 * time.Second
	servers := servertest.Cluster(t, 3)
	leader := servertest.Leader(servers)
	var follower *servertest.Server
	for _, s := range servers {
		if s != leader {
			follower = s
			break
		}
	}
	c := follower.Client // forwards to whichever server leads
	node := registerNodes(t, c, 1)[0]
	spec := parseJob(t, webJob("web", 1, ""))
	spec.Groups[0].Disconnect = &jobspec.Disconnect{LostAfter: lostAfter}
	if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: spec}); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, c, "web")
	allocs, _, err := c.Nodes().Allocations(ctxT(t), node.ID, nil)
	if err != nil || len(allocs) != 1 {
		t.Fatalf("allocations = %v, %v", allocs, err)
	}
	a := *allocs[0]
	a.ClientStatus = cluster.AllocClientRunning
	if _, err := asNode(c, node.ID).Nodes().UpdateAllocs(ctxT(t), node.ID, []*cluster.Allocation{&a}); err != nil {
		t.Fatal(err)
	}
	// The node never heartbeats: down after the TTL, its allocation unknown.
	servertest.WaitFor(t, "the allocation to go unknown", func() bool {
		got, _, err := c.Allocations().Info(ctxT(t), a.ID, nil)
		return err == nil && got.ClientStatus == cluster.AllocClientUnknown
	})
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
	servertest.WaitFor(t, "the new leader to turn the allocation lost", func() bool {
		got, _, err := c.Allocations().Info(ctxT(t), a.ID, nil)
		return err == nil && got.ClientStatus == cluster.AllocClientLost
	})
	got, _, err := c.Allocations().Info(ctxT(t), a.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if el := got.ModifyTime.Sub(got.DisconnectedAt); el < lostAfter {
		t.Errorf("lost %v after it went unknown; lost_after is %v", el, lostAfter)
	}
}
