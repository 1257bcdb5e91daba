package scheduler

import (
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

func TestPickReconnect(t *testing.T) {
	t0 := testNow.Add(-time.Hour)
	alloc := func(id, status string, score float64, started time.Time) *cluster.Allocation {
		a := &cluster.Allocation{ID: id, ClientStatus: status, DesiredStatus: cluster.AllocDesiredRun}
		if score >= 0 {
			a.Metrics = &cluster.AllocMetric{Scores: map[string]float64{scoreNormalized: score}}
		}
		if !started.IsZero() {
			a.TaskStates = map[string]*cluster.TaskState{"server": {State: cluster.TaskStateRunning, StartedAt: started}}
		}
		return a
	}
	const noScore = -1
	tests := []struct {
		name     string
		strategy string
		orig     *cluster.Allocation
		repl     *cluster.Allocation
		want     string
	}{
		{"keep_original", cluster.ReconcileKeepOriginal, alloc("o", "running", 0.1, t0), alloc("r", "running", 0.9, t0), "o"},
		{"keep_replacement", cluster.ReconcileKeepReplacement, alloc("o", "running", 0.9, t0), alloc("r", "running", 0.1, t0), "r"},
		{"keep_replacement even while it starts", cluster.ReconcileKeepReplacement, alloc("o", "running", 0.9, t0), alloc("r", "pending", 0.1, time.Time{}), "r"},
		{"best_score: replacement scored higher", cluster.ReconcileBestScore, alloc("o", "running", 0.2, t0), alloc("r", "running", 0.7, t0), "r"},
		{"best_score: original scored higher", cluster.ReconcileBestScore, alloc("o", "running", 0.7, t0), alloc("r", "running", 0.2, t0), "o"},
		{"best_score: a tie keeps the original", cluster.ReconcileBestScore, alloc("o", "running", 0.5, t0), alloc("r", "running", 0.5, t0), "o"},
		{"best_score: no stored score keeps the original", cluster.ReconcileBestScore, alloc("o", "running", noScore, t0), alloc("r", "running", 0.9, t0), "o"},
		{"unset strategy is best_score", "", alloc("o", "running", 0.2, t0), alloc("r", "running", 0.7, t0), "r"},
		{"longest_running: original started first", cluster.ReconcileLongestRunning, alloc("o", "running", 0, t0), alloc("r", "running", 0, t0.Add(time.Minute)), "o"},
		{"longest_running: original restarted since", cluster.ReconcileLongestRunning, alloc("o", "running", 0, t0.Add(2*time.Minute)), alloc("r", "running", 0, t0.Add(time.Minute)), "r"},
		{"longest_running: replacement not running yet", cluster.ReconcileLongestRunning, alloc("o", "running", 0, t0.Add(2*time.Minute)), alloc("r", "pending", 0, time.Time{}), "o"},
		{"a replacement that is itself unknown loses", cluster.ReconcileKeepReplacement, alloc("o", "running", 0, t0), alloc("r", "unknown", 0, t0), "o"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pickReconnect(tt.strategy, tt.orig, tt.repl); got.ID != tt.want {
				t.Errorf("kept %s, want %s", got.ID, tt.want)
			}
		})
	}
}

func TestReconcileReconnects(t *testing.T) {
	down := testNow.Add(-10 * time.Minute)
	ready, gone := node("n00"), node("n01", func(n *cluster.Node) { n.Status = cluster.NodeStatusDown })
	nodeOf := func(id string) *cluster.Node {
		switch id {
		case "n00":
			return ready
		case "n01":
			return gone
		}
		return nil
	}
	mk := func(id, nodeID, status, prev string, disconnected bool) *cluster.Allocation {
		a := &cluster.Allocation{ID: id, Name: "web.web[0]", NodeID: nodeID, ClientStatus: status, DesiredStatus: cluster.AllocDesiredRun, PreviousAllocation: prev}
		if disconnected {
			a.DisconnectedAt = down
		}
		return a
	}
	stopDone := func(a *cluster.Allocation) *cluster.Allocation { a.DesiredStatus = cluster.AllocDesiredStop; return a }
	tests := []struct {
		name      string
		reconcile string
		allocs    []*cluster.Allocation
		wantStops []string
		wantKeep  []string
	}{
		{"back and running, keep_original stops the replacement", cluster.ReconcileKeepOriginal,
			[]*cluster.Allocation{mk("o", "n00", "running", "", true), mk("r", "n02", "running", "o", false)}, []string{"r"}, []string{"o"}},
		{"back and running, keep_replacement stops the original", cluster.ReconcileKeepReplacement,
			[]*cluster.Allocation{mk("o", "n00", "running", "", true), mk("r", "n02", "running", "o", false)}, []string{"o"}, nil},
		{"still unknown on a down node: nothing yet", cluster.ReconcileKeepOriginal,
			[]*cluster.Allocation{mk("o", "n01", "unknown", "", true), mk("r", "n02", "running", "o", false)}, nil, nil},
		{"back but reported finished: the replacement stays, nothing to decide", cluster.ReconcileKeepOriginal,
			[]*cluster.Allocation{mk("o", "n00", "complete", "", true), mk("r", "n02", "running", "o", false)}, nil, nil},
		{"never disconnected: not a reconnect", cluster.ReconcileKeepOriginal,
			[]*cluster.Allocation{mk("o", "n00", "running", "", false), mk("r", "n02", "running", "o", false)}, nil, nil},
		{"replacement already stopped: the original keeps its index", cluster.ReconcileKeepReplacement,
			[]*cluster.Allocation{mk("o", "n00", "running", "", true), stopDone(mk("r", "n02", "running", "o", false))}, nil, []string{"o"}},
		{"the live one is the replacement's replacement", cluster.ReconcileKeepOriginal,
			[]*cluster.Allocation{mk("o", "n00", "running", "", true), mk("r1", "n02", "failed", "o", false), mk("r2", "n03", "running", "r1", false)}, []string{"r2"}, []string{"o"}},
		{"no replacement (replace = false): kept", cluster.ReconcileBestScore,
			[]*cluster.Allocation{mk("o", "n00", "running", "", true)}, nil, []string{"o"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &jobspec.Group{Name: "web", Disconnect: &jobspec.Disconnect{LostAfter: time.Hour, Reconcile: tt.reconcile}}
			got := reconcileReconnects(g, tt.allocs, nodeOf)
			var stops []string
			for _, s := range got.stops {
				stops = append(stops, s.alloc.ID)
				if s.desc != descReconnected {
					t.Errorf("stop %s: description %q, want %q", s.alloc.ID, s.desc, descReconnected)
				}
			}
			if !equalStrings(stops, tt.wantStops) {
				t.Errorf("stops %v, want %v", stops, tt.wantStops)
			}
			var keep []string
			for _, a := range tt.allocs {
				if got.keep[a.ID] {
					keep = append(keep, a.ID)
				}
			}
			if !equalStrings(keep, tt.wantKeep) {
				t.Errorf("kept %v, want %v", keep, tt.wantKeep)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// disconnectScenario places two allocations of a job with the given
// disconnect block on two of three nodes, then takes the first one's node
// away: its allocation is unknown, as the servers mark it. It returns the
// node that went away and the one left free.
func disconnectScenario(t *testing.T, d *jobspec.Disconnect) (st *memState, gone, free string) {
	t.Helper()
	st = newMemState(nodes(3)...)
	st.apply(run(t, st, job(2, func(j *jobspec.Job) {
		j.Constraints = []jobspec.Constraint{{Operator: opDistinctHosts}}
		grp(j).Disconnect = d
	}), 1))
	st.setClient(cluster.AllocClientRunning)
	gone = st.allocs[0].NodeID
	for _, n := range st.nodes {
		if len(st.AllocsByNode(n.ID)) == 0 {
			free = n.ID
		}
	}
	st.Node(gone).Status = cluster.NodeStatusDown
	for i, a := range st.allocs {
		if a.NodeID == gone {
			c := *a
			c.ClientStatus, c.DisconnectedAt = cluster.AllocClientUnknown, testNow.Add(-time.Minute)
			st.allocs[i] = &c
		}
	}
	if len(st.AllocsByNode(gone)) != 1 || free == "" {
		t.Fatalf("want one allocation on %s and a free node, got %d", gone, len(st.AllocsByNode(gone)))
	}
	return st, gone, free
}

// link sets NextAllocation on the allocations the plan's placements
// replace, as the state store does.
func link(st *memState, p *Plan) {
	for _, a := range placed(p) {
		if a.PreviousAllocation == "" {
			continue
		}
		for i, o := range st.allocs {
			if o.ID == a.PreviousAllocation {
				c := *o
				c.NextAllocation = a.ID
				st.allocs[i] = &c
			}
		}
	}
}

func TestUnknownReplacedNotStopped(t *testing.T) {
	st, gone, free := disconnectScenario(t, &jobspec.Disconnect{LostAfter: time.Hour})
	orig := st.AllocsByNode(gone)[0]
	p := reprocess(t, st, 2)
	if s := stopped(p); len(s) != 0 {
		t.Fatalf("an unknown allocation must not be stopped; stops %+v", s)
	}
	got := placed(p)
	if len(got) != 1 || got[0].NodeID != free || got[0].PreviousAllocation != orig.ID || got[0].Name != orig.Name {
		t.Fatalf("want one replacement of %s on %s, got %+v", orig.ID, free, got)
	}
	st.apply(p)
	link(st, p)
	st.setClient(cluster.AllocClientRunning) // the replacement runs; the original too, unseen
	for i, a := range st.allocs {
		if a.ID == orig.ID {
			c := *a
			c.ClientStatus = cluster.AllocClientUnknown
			st.allocs[i] = &c
		}
	}
	// Counted once: another evaluation places nothing more.
	if p := reprocess(t, st, 3); len(placed(p))+len(stopped(p)) != 0 {
		t.Fatalf("second evaluation: placed %v, stopped %v", names(placed(p)), names(stopped(p)))
	}

	// The node comes back and reports the original running: best_score
	// with equal (here: both unscored) keeps the original, and the
	// replacement is stopped.
	st.Node(gone).Status = cluster.NodeStatusReady
	for i, a := range st.allocs {
		c := *a
		c.Metrics = nil
		if a.ID == orig.ID {
			c.ClientStatus = cluster.AllocClientRunning
		}
		st.allocs[i] = &c
	}
	p = reprocess(t, st, 4)
	stops := stopped(p)
	if len(stops) != 1 || stops[0].PreviousAllocation != orig.ID || stops[0].DesiredDescription != descReconnected || len(placed(p)) != 0 {
		t.Fatalf("reconnect: stops %+v, placed %v; want the replacement stopped", stops, names(placed(p)))
	}
	st.apply(p)
	if p := reprocess(t, st, 5); len(placed(p))+len(stopped(p)) != 0 {
		t.Fatalf("after the reconnect: placed %v, stopped %v; want nothing (the original keeps its index)", names(placed(p)), names(stopped(p)))
	}
}

func TestUnknownKeepReplacement(t *testing.T) {
	st, gone, _ := disconnectScenario(t, &jobspec.Disconnect{LostAfter: time.Hour, Reconcile: cluster.ReconcileKeepReplacement})
	orig := st.AllocsByNode(gone)[0]
	p := reprocess(t, st, 2)
	st.apply(p)
	link(st, p)
	st.setClient(cluster.AllocClientRunning) // the original reports in, running
	st.Node(gone).Status = cluster.NodeStatusReady
	p = reprocess(t, st, 3)
	stops := stopped(p)
	if len(stops) != 1 || stops[0].ID != orig.ID || stops[0].DesiredDescription != descReconnected || len(placed(p)) != 0 {
		t.Fatalf("stops %+v, placed %v; want the original stopped", stops, names(placed(p)))
	}
	st.apply(p)
	if p := reprocess(t, st, 4); len(placed(p))+len(stopped(p)) != 0 {
		t.Fatalf("after the reconnect: placed %v, stopped %v", names(placed(p)), names(stopped(p)))
	}
}

func TestUnknownNoReplace(t *testing.T) {
	st, gone, free := disconnectScenario(t, &jobspec.Disconnect{LostAfter: time.Hour, Replace: new(false)})
	if p := reprocess(t, st, 2); len(placed(p))+len(stopped(p)) != 0 {
		t.Fatalf("replace = false: placed %v, stopped %v; want nothing while unknown", names(placed(p)), names(stopped(p)))
	}
	// lost_after ran out: the servers mark it lost, and now it is
	// replaced, as without a disconnect block.
	for i, a := range st.allocs {
		if a.NodeID == gone {
			c := *a
			c.ClientStatus = cluster.AllocClientLost
			st.allocs[i] = &c
		}
	}
	p := reprocess(t, st, 3)
	if s, pl := stopped(p), placed(p); len(s) != 1 || s[0].NodeID != gone || len(pl) != 1 || pl[0].NodeID != free {
		t.Fatalf("lost: stopped %+v placed %+v; want %s's stopped and replaced on %s", s, pl, gone, free)
	}
}

// TestStopOnClientAfterDelaysReplacement: a lost allocation of a group
// with stop_on_client_after is replaced only once its cut-off agent has
// stopped it (down + stop_on_client_after + kill_timeout), as in Nomad,
// and holds its index until then.
func TestStopOnClientAfterDelaysReplacement(t *testing.T) {
	st := newMemState(nodes(2)...)
	st.apply(run(t, st, job(1, func(j *jobspec.Job) {
		grp(j).Disconnect = &jobspec.Disconnect{StopOnClientAfter: 5 * time.Second}
		grp(j).Tasks[0].KillTimeout = 2 * time.Second
	}), 1))
	st.setClient(cluster.AllocClientRunning)
	orig := st.allocs[0]
	down := st.Node(orig.NodeID)
	down.Status, down.StatusUpdatedAt = cluster.NodeStatusDown, testNow.Add(-time.Second)
	wantAt := down.StatusUpdatedAt.Add(7 * time.Second)

	p := reprocess(t, st, 2)
	if s := stopped(p); len(s) != 1 || s[0].ID != orig.ID || s[0].ClientStatus != cluster.AllocClientLost {
		t.Fatalf("stops %+v; want the original stopped as lost", s)
	}
	if len(placed(p)) != 0 {
		t.Fatalf("placed %v before the agent could have stopped the original", names(placed(p)))
	}
	if len(p.FollowUpEvals) != 1 || !p.FollowUpEvals[0].WaitUntil.Equal(wantAt) {
		t.Fatalf("follow-up evals %+v; want one at %v", p.FollowUpEvals, wantAt)
	}
	st.apply(p)

	// Another evaluation meanwhile: the lost allocation holds its index.
	p = reprocess(t, st, 3)
	if len(placed(p))+len(stopped(p)) != 0 || len(p.FollowUpEvals) != 1 || !p.FollowUpEvals[0].WaitUntil.Equal(wantAt) {
		t.Fatalf("while waiting: placed %v, stopped %v, follow-ups %+v", names(placed(p)), names(stopped(p)), p.FollowUpEvals)
	}

	// Past the wait: replaced.
	down.StatusUpdatedAt = testNow.Add(-8 * time.Second)
	p = reprocess(t, st, 4)
	if got := placed(p); len(got) != 1 || got[0].NodeID == orig.NodeID || got[0].Name != orig.Name {
		t.Fatalf("after the wait: placed %+v; want %s on the other node", got, orig.Name)
	}
}

// TestSystemUnknownWaitsForItsNode: a system allocation belongs to its
// node; unknown (within lost_after), it is neither stopped nor placed
// again elsewhere.
func TestSystemUnknownWaitsForItsNode(t *testing.T) {
	st := newMemState(nodes(2)...)
	st.apply(run(t, st, system(jobspec.JobTypeSystem, func(j *jobspec.Job) {
		grp(j).Disconnect = &jobspec.Disconnect{LostAfter: time.Hour}
	}), 1))
	st.setClient(cluster.AllocClientRunning)
	st.Node("n00").Status = cluster.NodeStatusDown
	for i, a := range st.allocs {
		if a.NodeID == "n00" {
			c := *a
			c.ClientStatus, c.DisconnectedAt = cluster.AllocClientUnknown, testNow
			st.allocs[i] = &c
		}
	}
	p := reprocess(t, st, 2)
	if len(placed(p))+len(stopped(p)) != 0 {
		t.Fatalf("placed %v, stopped %v; want nothing while unknown", names(placed(p)), names(stopped(p)))
	}
}
