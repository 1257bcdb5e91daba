package scheduler

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// Acceptance 1: three ready nodes, count 6, spread over node names: two
// per node, whatever the seed.
func TestAcceptanceSpreadEvenly(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		st := newMemState(nodes(3)...)
		p := run(t, st, job(6, func(j *jobspec.Job) {
			grp(j).Spreads = []jobspec.Spread{{Attribute: "${node.unique.name}"}}
		}), seed)
		got := perNode(p)
		if len(got) != 3 || got["n00"] != 2 || got["n01"] != 2 || got["n02"] != 2 {
			t.Fatalf("seed %d: per node %v, want 2 on each of 3", seed, got)
		}
	}
}

// Acceptance 2: a constraint no node satisfies places nothing and says
// which constraint filtered how many nodes.
func TestAcceptanceConstraintExplained(t *testing.T) {
	st := newMemState(nodes(3)...)
	p := run(t, st, job(2, func(j *jobspec.Job) {
		j.Constraints = []jobspec.Constraint{{Attribute: "${attr.kernel.name}", Operator: "=", Value: "windows"}}
	}), 1)
	if n := len(placed(p)); n != 0 {
		t.Fatalf("placed %d allocations", n)
	}
	m := p.FailedTGAllocs["web"]
	if m == nil {
		t.Fatal("no FailedTGAllocs for web")
	}
	if got := m.ConstraintFiltered["${attr.kernel.name} = windows"]; got != 3 {
		t.Errorf("ConstraintFiltered = %v, want 3 for the constraint", m.ConstraintFiltered)
	}
	if m.NodesEvaluated != 3 || m.NodesFiltered != 3 || m.CoalescedFailures != 1 {
		t.Errorf("metric = %+v", m)
	}
	text := explainText(p, "web")
	if !strings.Contains(text, `Constraint "${attr.kernel.name} = windows": 3 nodes excluded by filter`) {
		t.Errorf("Explain:\n%s", text)
	}
	if len(p.FollowUpEvals) != 1 || p.FollowUpEvals[0].Status != cluster.EvalStatusBlocked || p.FollowUpEvals[0].QueuedAllocations["web"] != 2 {
		t.Errorf("want one blocked eval queuing 2, got %+v", p.FollowUpEvals)
	}
}

func TestExhaustion(t *testing.T) {
	tests := []struct {
		name     string
		cpu, mem int
		dim      string
	}{
		{"cpu", 3000, 100, "cpu"},
		{"memory", 100, 6000, "memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each node fits one: the third allocation finds no room.
			st := newMemState(nodes(2)...)
			p := run(t, st, job(3, func(j *jobspec.Job) {
				grp(j).Tasks[0].Resources = jobspec.Resources{CPU: tt.cpu, MemoryMB: tt.mem}
			}), 1)
			if got := perNode(p); len(got) != 2 || got["n00"] != 1 || got["n01"] != 1 {
				t.Fatalf("per node %v, want one on each", got)
			}
			m := p.FailedTGAllocs["web"]
			if m == nil || m.NodesExhausted != 2 || m.DimensionExhausted[tt.dim] != 2 {
				t.Fatalf("metric = %+v, want 2 nodes exhausted on %s", m, tt.dim)
			}
			want := "Resources exhausted on 2 nodes: " + tt.dim + " exhausted on 2 nodes"
			if text := explainText(p, "web"); !strings.Contains(text, want) {
				t.Errorf("Explain:\n%s\nwant %q", text, want)
			}
		})
	}
	t.Run("reserved and existing usage", func(t *testing.T) {
		n := node("n00", func(n *cluster.Node) { n.Reserved = cluster.NodeResources{CPU: 1000, MemoryMB: 1024} })
		st := newMemState(n)
		st.allocs = append(st.allocs, &cluster.Allocation{
			ID: "other", Namespace: "default", JobID: "db", TaskGroup: "db", Name: "db.db[0]", NodeID: "n00",
			DesiredStatus: cluster.AllocDesiredRun, ClientStatus: cluster.AllocClientRunning,
			Resources: cluster.AllocResources{Tasks: map[string]jobspec.Resources{"db": {CPU: 2000, MemoryMB: 1024}}},
		})
		// 4000-1000-2000 = 1000 MHz left: two of 500.
		p := run(t, st, job(3), 1)
		if got := len(placed(p)); got != 2 {
			t.Fatalf("placed %d, want 2", got)
		}
		if m := p.FailedTGAllocs["web"]; m == nil || m.DimensionExhausted["cpu"] != 1 {
			t.Errorf("metric = %+v", m)
		}
	})
}

func TestPorts(t *testing.T) {
	withPorts := func(ports ...jobspec.Port) func(*jobspec.Job) {
		return func(j *jobspec.Job) {
			grp(j).Networks = []jobspec.Network{{Mode: "host", Ports: ports}}
		}
	}
	t.Run("static collision", func(t *testing.T) {
		ns := nodes(3, func(i int, n *cluster.Node) {
			if i == 0 {
				n.ReservedPorts = []int{8080}
			}
		})
		st := newMemState(ns...)
		p := run(t, st, job(3, withPorts(jobspec.Port{Label: "http", Static: 8080})), 1)
		if got := perNode(p); len(got) != 2 || got["n00"] != 0 {
			t.Fatalf("per node %v, want one on each of n01, n02", got)
		}
		m := p.FailedTGAllocs["web"]
		if m == nil || m.DimensionExhausted[dimPortCollision] != 3 {
			t.Fatalf("metric = %+v, want 3 port collisions", m)
		}
		for _, a := range placed(p) {
			if len(a.Resources.Ports) != 1 || a.Resources.Ports[0] != (cluster.AllocatedPort{Label: "http", Value: 8080}) {
				t.Errorf("ports = %+v", a.Resources.Ports)
			}
		}
	})
	t.Run("dynamic unique", func(t *testing.T) {
		ns := nodes(2, func(_ int, n *cluster.Node) {
			n.MinDynamicPort, n.MaxDynamicPort = 20000, 20009
			n.ReservedPorts = []int{20000, 20001}
		})
		st := newMemState(ns...)
		st.allocs = append(st.allocs, &cluster.Allocation{
			ID: "other", Namespace: "default", JobID: "db", TaskGroup: "db", Name: "db.db[0]", NodeID: "n00",
			DesiredStatus: cluster.AllocDesiredRun, ClientStatus: cluster.AllocClientRunning,
			Resources: cluster.AllocResources{Ports: []cluster.AllocatedPort{{Label: "x", Value: 20002}}},
		})
		// 2 dynamic ports per allocation; n00 has 7 free, n01 8: 3 + 4.
		p := run(t, st, job(8, withPorts(jobspec.Port{Label: "a"}, jobspec.Port{Label: "b", To: 80})), 1)
		if got := perNode(p); got["n00"] != 3 || got["n01"] != 4 {
			t.Fatalf("per node %v, want n00:3 n01:4", got)
		}
		if m := p.FailedTGAllocs["web"]; m == nil || m.DimensionExhausted[dimPortDynamic] != 2 {
			t.Errorf("metric = %+v", m)
		}
		used := map[string]map[int]bool{"n00": {20000: true, 20001: true, 20002: true}, "n01": {20000: true, 20001: true}}
		for _, a := range placed(p) {
			for _, port := range a.Resources.Ports {
				if port.Value < 20000 || port.Value > 20009 || used[a.NodeID][port.Value] {
					t.Errorf("%s: port %d reused or out of range", a.NodeID, port.Value)
				}
				used[a.NodeID][port.Value] = true
			}
			if a.Resources.Ports[1].Label != "b" || a.Resources.Ports[1].To != 80 {
				t.Errorf("ports = %+v", a.Resources.Ports)
			}
		}
	})
}

func TestCountChanges(t *testing.T) {
	st := newMemState(nodes(3)...)
	p := run(t, st, job(3), 1)
	if got := names(placed(p)); !reflect.DeepEqual(got, []string{"web.web[0]", "web.web[1]", "web.web[2]"}) {
		t.Fatalf("names = %v", got)
	}
	if a := p.Annotations["web"]; a.Place != 3 {
		t.Errorf("annotations = %+v", a)
	}
	a0 := placed(p)[0]
	if a0.NodeName != "name-"+a0.NodeID || !a0.CreateTime.Equal(testNow) || a0.ID == "" || a0.EvalID != "eval-1" ||
		a0.Resources.Tasks["server"].CPU != 500 || a0.DesiredStatus != cluster.AllocDesiredRun {
		t.Errorf("allocation = %+v", a0)
	}
	st.apply(p)
	st.setClient(cluster.AllocClientRunning)

	if p := reprocess(t, st, 2); !p.IsNoOp() || p.Annotations["web"].Ignore != 3 {
		t.Fatalf("same job again: want a no-op, got %+v", p.Annotations["web"])
	}

	// Scale up to 5: two more, indexes 3 and 4.
	p = run(t, st, job(5), 3)
	if got := names(fresh(st, p)); !reflect.DeepEqual(got, []string{"web.web[3]", "web.web[4]"}) {
		t.Fatalf("scale up placed %v", got)
	}
	if a := p.Annotations["web"]; a.Place != 2 || a.Ignore != 0 || a.InPlaceUpdate != 3 {
		// The version moved with the count: the three running allocations
		// are updated in place (nothing but the count changed).
		t.Errorf("annotations = %+v", a)
	}
	st.apply(p)
	st.setClient(cluster.AllocClientRunning)

	// Scale down to 2: the highest indexes stop.
	p = run(t, st, job(2), 4)
	if got := names(stopped(p)); !reflect.DeepEqual(got, []string{"web.web[2]", "web.web[3]", "web.web[4]"}) {
		t.Fatalf("scale down stopped %v", got)
	}
	for _, a := range stopped(p) {
		if a.DesiredStatus != cluster.AllocDesiredStop || a.DesiredDescription == "" {
			t.Errorf("stop = %+v", a)
		}
	}
	st.apply(p)

	// Fill gaps first: with index 1 gone, scaling to 3 places 1 and 2.
	for i, a := range st.allocs {
		if a.Name == "web.web[1]" && a.DesiredStatus == cluster.AllocDesiredRun {
			c := *a
			c.DesiredStatus = cluster.AllocDesiredStop
			st.allocs[i] = &c
		}
	}
	p = run(t, st, job(3), 5)
	if got := names(fresh(st, p)); !reflect.DeepEqual(got, []string{"web.web[1]", "web.web[2]"}) {
		t.Fatalf("refill placed %v, want indexes 1 and 2", got)
	}
}

func TestStop(t *testing.T) {
	for _, how := range []string{"stop", "deregister"} {
		t.Run(how, func(t *testing.T) {
			st := newMemState(nodes(2)...)
			st.apply(run(t, st, job(3), 1))
			st.setClient(cluster.AllocClientRunning)
			var p *Plan
			if how == "stop" {
				j := st.register(job(3))
				j.Stop = true
				p, _ = Process(st, registerEval(j), testOptions(2))
			} else {
				delete(st.jobs, "default/web")
				var err error
				p, err = Process(st, &cluster.Evaluation{ID: "e2", Namespace: "default", JobID: "web", Type: jobspec.JobTypeService}, testOptions(2))
				if err != nil {
					t.Fatal(err)
				}
			}
			if got := len(stopped(p)); got != 3 || len(placed(p)) != 0 {
				t.Fatalf("stopped %d placed %d", got, len(placed(p)))
			}
			if p.Annotations["web"].Stop != 3 {
				t.Errorf("annotations = %+v", p.Annotations["web"])
			}
		})
	}
}

func TestInPlaceAndDestructive(t *testing.T) {
	tests := []struct {
		name        string
		mutate      func(*jobspec.Job)
		destructive bool
	}{
		{"kill timeout", func(j *jobspec.Job) { grp(j).Tasks[0].KillTimeout = time.Minute }, false},
		{"count unchanged, meta on task", func(j *jobspec.Job) { grp(j).Tasks[0].Meta = map[string]string{"a": "b"} }, true},
		{"image", func(j *jobspec.Job) { grp(j).Tasks[0].Config["image"] = "nginx:1.27" }, true},
		{"memory", func(j *jobspec.Job) { grp(j).Tasks[0].Resources.MemoryMB = 512 }, true},
		{"restart policy", func(j *jobspec.Job) {
			grp(j).Tasks[0].Restart = &jobspec.RestartPolicy{Attempts: 5}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newMemState(nodes(3)...)
			first := run(t, st, job(2), 1)
			st.apply(first)
			st.setClient(cluster.AllocClientRunning)
			before := map[string]*cluster.Allocation{}
			for _, a := range placed(first) {
				before[a.ID] = a
			}
			p := run(t, st, job(2, tt.mutate), 2)
			ann := p.Annotations["web"]
			if tt.destructive {
				if ann.DestructiveUpdate != 2 || len(stopped(p)) != 2 || len(placed(p)) != 2 {
					t.Fatalf("annotations %+v, stopped %d, placed %d", ann, len(stopped(p)), len(placed(p)))
				}
				for _, a := range placed(p) {
					old := before[a.PreviousAllocation]
					if old == nil || old.Name != a.Name || a.JobVersion != 1 || a.ID == old.ID {
						t.Errorf("replacement %+v does not follow its predecessor", a)
					}
				}
				for _, a := range stopped(p) {
					if a.DesiredDescription != descUpdating {
						t.Errorf("stop description %q", a.DesiredDescription)
					}
				}
				return
			}
			if ann.InPlaceUpdate != 2 || len(stopped(p)) != 0 || len(placed(p)) != 2 {
				t.Fatalf("annotations %+v, stopped %d, placed %d", ann, len(stopped(p)), len(placed(p)))
			}
			for _, a := range placed(p) {
				old := before[a.ID]
				if old == nil || old.NodeID != a.NodeID || a.JobVersion != 1 || old.JobVersion != 0 {
					t.Errorf("in-place copy %+v", a)
				}
			}
		})
	}
}

// An in-place change of constraints that the node no longer satisfies
// replaces the allocation elsewhere.
func TestInPlaceBecomesDestructive(t *testing.T) {
	ns := nodes(2, func(i int, n *cluster.Node) { n.Meta["rack"] = []string{"r1", "r2"}[i] })
	st := newMemState(ns...)
	st.apply(run(t, st, job(1, func(j *jobspec.Job) {
		grp(j).Constraints = []jobspec.Constraint{{Attribute: "${meta.rack}", Value: "r1"}}
	}), 1))
	st.setClient(cluster.AllocClientRunning)
	p := run(t, st, job(1, func(j *jobspec.Job) {
		grp(j).Constraints = []jobspec.Constraint{{Attribute: "${meta.rack}", Value: "r2"}}
	}), 2)
	if got := placed(p); len(got) != 1 || got[0].NodeID != "n01" || got[0].PreviousAllocation == "" {
		t.Fatalf("placed %+v", got)
	}
	if got := stopped(p); len(got) != 1 || got[0].NodeID != "n00" {
		t.Fatalf("stopped %+v", got)
	}
	if a := p.Annotations["web"]; a.DestructiveUpdate != 1 || a.InPlaceUpdate != 0 {
		t.Errorf("annotations = %+v", a)
	}
}

func TestDownNodeReplaced(t *testing.T) {
	st := newMemState(nodes(3)...)
	st.apply(run(t, st, job(3, func(j *jobspec.Job) {
		j.Constraints = []jobspec.Constraint{{Operator: opDistinctHosts}}
	}), 1))
	st.setClient(cluster.AllocClientRunning)
	st.nodes = append(st.nodes, node("n03"))
	st.Node("n01").Status = cluster.NodeStatusDown
	p := reprocess(t, st, 2)
	stops := stopped(p)
	if len(stops) != 1 || stops[0].NodeID != "n01" || stops[0].ClientStatus != cluster.AllocClientLost {
		t.Fatalf("stops = %+v", stops)
	}
	got := placed(p)
	if len(got) != 1 || got[0].NodeID != "n03" || got[0].Name != stops[0].Name || got[0].PreviousAllocation != stops[0].ID {
		t.Fatalf("replacement = %+v", got)
	}
}

func TestDrainingNodeMigrates(t *testing.T) {
	st := newMemState(nodes(2)...)
	st.apply(run(t, st, job(2, func(j *jobspec.Job) {
		j.Constraints = []jobspec.Constraint{{Operator: opDistinctHosts}}
	}), 1))
	st.setClient(cluster.AllocClientRunning)
	st.nodes = append(st.nodes, node("n02"))
	st.Node("n00").Drain = true
	p := reprocess(t, st, 2)
	if a := p.Annotations["web"]; a.Migrate != 1 || a.Ignore != 1 {
		t.Errorf("annotations = %+v", a)
	}
	if got := placed(p); len(got) != 1 || got[0].NodeID != "n02" {
		t.Fatalf("placed %+v", got)
	}
}

func failedAlloc(st *memState, name string, finished time.Time, events ...cluster.RescheduleEvent) *cluster.Allocation {
	for i, a := range st.allocs {
		if a.Name == name {
			c := *a
			c.ClientStatus = cluster.AllocClientFailed
			c.TaskStates = map[string]*cluster.TaskState{"server": {State: cluster.TaskStateDead, Failed: true, FinishedAt: finished}}
			c.RescheduleEvents = events
			st.allocs[i] = &c
			return &c
		}
	}
	return nil
}

func TestReschedule(t *testing.T) {
	policy := func(p jobspec.ReschedulePolicy) func(*jobspec.Job) {
		return func(j *jobspec.Job) { grp(j).Reschedule = &p }
	}
	tests := []struct {
		name     string
		policy   jobspec.ReschedulePolicy
		failedAt time.Time
		events   []cluster.RescheduleEvent
		want     string // "now", "later" or "never"
		delay    time.Duration
	}{
		{"delay passed", jobspec.ReschedulePolicy{Delay: 30 * time.Second, DelayFunction: "constant", Unlimited: true}, testNow.Add(-time.Minute), nil, "now", 30 * time.Second},
		{"delay pending", jobspec.ReschedulePolicy{Delay: 30 * time.Second, DelayFunction: "constant", Unlimited: true}, testNow.Add(-10 * time.Second), nil, "later", 30 * time.Second},
		{"exponential", jobspec.ReschedulePolicy{Delay: 30 * time.Second, DelayFunction: "exponential", MaxDelay: time.Hour, Unlimited: true},
			testNow.Add(-50 * time.Second), []cluster.RescheduleEvent{{Time: testNow.Add(-5 * time.Minute), Delay: 30 * time.Second, PrevNode: "nX"}}, "later", time.Minute},
		{"exponential capped", jobspec.ReschedulePolicy{Delay: 30 * time.Second, DelayFunction: "exponential", MaxDelay: 90 * time.Second, Unlimited: true},
			testNow.Add(-80 * time.Second), []cluster.RescheduleEvent{{Time: testNow.Add(-2 * time.Minute), Delay: time.Minute}}, "later", 90 * time.Second},
		{"fibonacci", jobspec.ReschedulePolicy{Delay: 10 * time.Second, DelayFunction: "fibonacci", MaxDelay: time.Hour, Unlimited: true},
			testNow.Add(-time.Minute), []cluster.RescheduleEvent{{Time: testNow.Add(-10 * time.Minute), Delay: 20 * time.Second}, {Time: testNow.Add(-5 * time.Minute), Delay: 30 * time.Second}}, "now", 50 * time.Second},
		{"attempts left", jobspec.ReschedulePolicy{Attempts: 2, Interval: time.Hour, Delay: time.Second, DelayFunction: "constant"},
			testNow.Add(-time.Minute), []cluster.RescheduleEvent{{Time: testNow.Add(-30 * time.Minute), Delay: time.Second}}, "now", time.Second},
		{"attempts used", jobspec.ReschedulePolicy{Attempts: 1, Interval: time.Hour, Delay: time.Second, DelayFunction: "constant"},
			testNow.Add(-time.Minute), []cluster.RescheduleEvent{{Time: testNow.Add(-30 * time.Minute), Delay: time.Second}}, "never", 0},
		{"attempt outside interval", jobspec.ReschedulePolicy{Attempts: 1, Interval: 10 * time.Minute, Delay: time.Second, DelayFunction: "constant"},
			testNow.Add(-time.Minute), []cluster.RescheduleEvent{{Time: testNow.Add(-30 * time.Minute), Delay: time.Second}}, "now", time.Second},
		{"no attempts", jobspec.ReschedulePolicy{Attempts: 0}, testNow.Add(-time.Hour), nil, "never", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newMemState(nodes(3)...)
			st.apply(run(t, st, job(1, policy(tt.policy)), 1))
			st.setClient(cluster.AllocClientRunning)
			failed := failedAlloc(st, "web.web[0]", tt.failedAt, tt.events...)
			p := reprocess(t, st, 2)
			got := placed(p)
			switch tt.want {
			case "now":
				if len(got) != 1 || got[0].PreviousAllocation != failed.ID || got[0].Name != failed.Name {
					t.Fatalf("placed %+v", got)
				}
				ev := got[0].RescheduleEvents
				if len(ev) != len(tt.events)+1 || ev[len(ev)-1].Delay != tt.delay || ev[len(ev)-1].PrevAlloc != failed.ID {
					t.Errorf("reschedule events = %+v, want delay %v", ev, tt.delay)
				}
				if got[0].NodeID == failed.NodeID {
					t.Errorf("rescheduled onto the node it failed on")
				}
			case "later":
				if len(got) != 0 || len(p.FollowUpEvals) != 1 {
					t.Fatalf("placed %d, follow-ups %+v", len(got), p.FollowUpEvals)
				}
				e := p.FollowUpEvals[0]
				if want := tt.failedAt.Add(tt.delay); !e.WaitUntil.Equal(want) || e.TriggeredBy != cluster.EvalTriggerAllocFailure || e.PreviousEval != "eval-1" {
					t.Errorf("follow-up = %+v, want WaitUntil %v", e, want)
				}
			case "never":
				if len(got) != 0 || len(p.FollowUpEvals) != 0 || !p.IsNoOp() {
					t.Fatalf("placed %d, follow-ups %d", len(got), len(p.FollowUpEvals))
				}
			}
		})
	}
}

func TestBatchCompleteNotReplaced(t *testing.T) {
	st := newMemState(nodes(2)...)
	batch := func(j *jobspec.Job) { j.Type = jobspec.JobTypeBatch }
	st.apply(run(t, st, job(2, batch), 1))
	st.setClient(cluster.AllocClientComplete)
	p := reprocess(t, st, 2)
	if !p.IsNoOp() || p.Annotations["web"].Ignore != 2 {
		t.Fatalf("completed batch allocations were touched: %+v", p.Annotations["web"])
	}
	// A service whose allocations completed gets new ones.
	st2 := newMemState(nodes(2)...)
	st2.apply(run(t, st2, job(2), 1))
	st2.setClient(cluster.AllocClientComplete)
	if p := reprocess(t, st2, 2); len(placed(p)) != 2 {
		t.Fatalf("service: placed %d, want 2", len(placed(p)))
	}
}

func TestDistinctHosts(t *testing.T) {
	for _, level := range []string{"job", "group"} {
		t.Run(level, func(t *testing.T) {
			st := newMemState(nodes(3)...)
			c := []jobspec.Constraint{{Operator: opDistinctHosts, Value: "true"}}
			p := run(t, st, job(4, func(j *jobspec.Job) {
				if level == "job" {
					j.Constraints = c
				} else {
					grp(j).Constraints = c
				}
			}), 1)
			got := perNode(p)
			if len(got) != 3 || len(placed(p)) != 3 {
				t.Fatalf("per node %v, want one on each of 3", got)
			}
			if m := p.FailedTGAllocs["web"]; m == nil || m.ConstraintFiltered["distinct_hosts"] != 3 {
				t.Errorf("metric = %+v", m)
			}
		})
	}
}

func TestDistinctProperty(t *testing.T) {
	ns := nodes(6, func(i int, n *cluster.Node) { n.Meta["rack"] = []string{"r1", "r2", "r3"}[i%3] })
	tests := []struct {
		value string
		want  int // placed of 10
	}{
		{"", 3},
		{"2", 6},
	}
	for _, tt := range tests {
		t.Run("limit "+tt.value, func(t *testing.T) {
			st := newMemState(ns...)
			p := run(t, st, job(10, func(j *jobspec.Job) {
				grp(j).Constraints = []jobspec.Constraint{{Attribute: "${meta.rack}", Operator: opDistinctProperty, Value: tt.value}}
			}), 1)
			if got := len(placed(p)); got != tt.want {
				t.Fatalf("placed %d, want %d", got, tt.want)
			}
			perRack := map[string]int{}
			for _, a := range placed(p) {
				perRack[st.Node(a.NodeID).Meta["rack"]]++
			}
			for r, n := range perRack {
				if n != tt.want/3 {
					t.Errorf("rack %s has %d", r, n)
				}
			}
		})
	}
}

func TestAffinity(t *testing.T) {
	ns := nodes(8, func(i int, n *cluster.Node) {
		n.NodeClass = "small"
		if i == 5 {
			n.NodeClass = "big"
		}
	})
	for _, tt := range []struct {
		weight int
		want   func(int) bool
	}{
		{100, func(n int) bool { return n >= 1 }},
		{-100, func(n int) bool { return n == 0 }},
	} {
		// Three selections of log2(8) = 3 candidates each visit every
		// node: the big one wins when visited with a positive weight and
		// is skipped with a negative one.
		st := newMemState(ns...)
		p := run(t, st, job(3, func(j *jobspec.Job) {
			grp(j).Affinities = []jobspec.Affinity{{Attribute: "${node.class}", Operator: "=", Value: "big", Weight: tt.weight}}
			j.Groups[0].Tasks[0].Resources = jobspec.Resources{CPU: 100, MemoryMB: 100}
		}), 7)
		if got := perNode(p)["n05"]; !tt.want(got) {
			t.Errorf("weight %d: %d allocations on the big node, per node %v", tt.weight, got, perNode(p))
		}
	}
}

func TestSpreadTargets(t *testing.T) {
	ns := nodes(10, func(i int, n *cluster.Node) {
		n.Datacenter = "dc1"
		if i >= 5 {
			n.Datacenter = "dc2"
		}
	})
	st := newMemState(ns...)
	p := run(t, st, job(10, func(j *jobspec.Job) {
		j.Datacenters = []string{"dc*"}
		grp(j).Spreads = []jobspec.Spread{{Attribute: "${node.datacenter}", Weight: 100, Targets: []jobspec.SpreadTarget{{Value: "dc1", Percent: 70}, {Value: "dc2", Percent: 30}}}}
	}), 3)
	perDC := map[string]int{}
	for _, a := range placed(p) {
		perDC[st.Node(a.NodeID).Datacenter]++
	}
	if perDC["dc1"] != 7 || perDC["dc2"] != 3 {
		t.Errorf("per datacenter %v, want dc1:7 dc2:3", perDC)
	}
}

func TestDeterminism(t *testing.T) {
	mk := func() *Plan {
		st := newMemState(nodes(20, func(i int, n *cluster.Node) { n.Meta["rack"] = []string{"a", "b", "c"}[i%3] })...)
		return run(t, st, job(15, func(j *jobspec.Job) {
			grp(j).Spreads = []jobspec.Spread{{Attribute: "${meta.rack}"}}
			grp(j).Networks = []jobspec.Network{{Ports: []jobspec.Port{{Label: "http"}}}}
		}), 42)
	}
	a, b := mk(), mk()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same inputs and seed gave different plans")
	}
	st := newMemState(nodes(20)...)
	c := run(t, st, job(15), 43)
	if reflect.DeepEqual(perNode(a), perNode(c)) {
		t.Log("different seeds happened to give the same spread; not an error")
	}
}

func TestDeployment(t *testing.T) {
	update := func(maxParallel int) func(*jobspec.Job) {
		return func(j *jobspec.Job) {
			grp(j).Update = &jobspec.UpdateStrategy{MaxParallel: maxParallel, ProgressDeadline: 10 * time.Minute, AutoRevert: true}
		}
	}
	st := newMemState(nodes(4)...)
	p := run(t, st, job(4, update(2)), 1)
	d := p.Deployment
	if d == nil || d.JobVersion != 0 || d.Status != cluster.DeploymentRunning || d.TaskGroups["web"].DesiredTotal != 4 ||
		d.TaskGroups["web"].PlacedAllocs != 0 || !d.TaskGroups["web"].AutoRevert || !d.TaskGroups["web"].RequireProgressBy.Equal(testNow.Add(10*time.Minute)) {
		t.Fatalf("deployment = %+v", d)
	}
	for _, a := range placed(p) {
		if a.DeploymentID != d.ID {
			t.Errorf("allocation not in deployment: %q", a.DeploymentID)
		}
	}
	st.apply(p)
	st.setClient(cluster.AllocClientRunning)
	healthy := true
	for _, a := range st.allocs {
		a.DeploymentStatus = &cluster.AllocDeploymentStatus{Healthy: &healthy}
	}
	d.Status = cluster.DeploymentSuccessful

	// A destructive change rolls two at a time.
	img := func(v string) func(*jobspec.Job) {
		return func(j *jobspec.Job) { grp(j).Tasks[0].Config["image"] = v }
	}
	p = run(t, st, job(4, update(2), img("nginx:2")), 2)
	if p.Deployment == nil || p.Deployment.JobVersion != 1 {
		t.Fatalf("no deployment for version 1: %+v", p.Deployment)
	}
	if a := p.Annotations["web"]; a.DestructiveUpdate != 2 || a.Ignore != 2 || len(placed(p)) != 2 || len(stopped(p)) != 2 {
		t.Fatalf("annotations %+v placed %d stopped %d", a, len(placed(p)), len(stopped(p)))
	}
	st.apply(p)
	st.setClient(cluster.AllocClientRunning)

	// Nothing more while the two new ones have unknown health.
	p = reprocess(t, st, 3)
	if a := p.Annotations["web"]; a.DestructiveUpdate != 0 || !p.IsNoOp() {
		t.Fatalf("with two in flight: annotations %+v", a)
	}
	// Once healthy, the next two.
	for _, a := range st.allocs {
		if a.JobVersion == 1 {
			a.DeploymentStatus = &cluster.AllocDeploymentStatus{Healthy: &healthy}
		}
	}
	p = reprocess(t, st, 4)
	if a := p.Annotations["web"]; a.DestructiveUpdate != 2 || p.Deployment != nil {
		t.Fatalf("after health: annotations %+v, deployment %+v", a, p.Deployment)
	}

	// A newer version cancels the running deployment.
	st.apply(p)
	p = run(t, st, job(4, update(2), img("nginx:3")), 5)
	if len(p.DeploymentUpdates) != 1 || p.DeploymentUpdates[0].Status != cluster.DeploymentCancelled {
		t.Errorf("deployment updates = %+v", p.DeploymentUpdates)
	}
}

func TestEvaluatePlan(t *testing.T) {
	st := newMemState(nodes(2)...)
	p := run(t, st, job(4, func(j *jobspec.Job) {
		grp(j).Tasks[0].Resources = jobspec.Resources{CPU: 1500, MemoryMB: 256}
		grp(j).Networks = []jobspec.Network{{Ports: []jobspec.Port{{Label: "http"}}}}
	}), 1)
	if got := perNode(p); got["n00"] != 2 || got["n01"] != 2 {
		t.Fatalf("per node %v", got)
	}
	if acc, rej := EvaluatePlan(st, p); len(rej) != 0 || len(placed(acc)) != 4 {
		t.Fatalf("fresh plan: rejected %v", rej)
	}
	// Meanwhile another plan took 2000 MHz on n01.
	st.allocs = append(st.allocs, &cluster.Allocation{
		ID: "intruder", Namespace: "default", JobID: "db", TaskGroup: "db", Name: "db.db[0]", NodeID: "n01",
		DesiredStatus: cluster.AllocDesiredRun, ClientStatus: cluster.AllocClientPending,
		Resources: cluster.AllocResources{Tasks: map[string]jobspec.Resources{"db": {CPU: 2000, MemoryMB: 10}}},
	})
	acc, rej := EvaluatePlan(st, p)
	if !reflect.DeepEqual(rej, []string{"n01"}) {
		t.Fatalf("rejected %v, want [n01]", rej)
	}
	if got := perNode(acc); got["n00"] != 2 || got["n01"] != 0 {
		t.Errorf("accepted per node %v", got)
	}
	if len(p.NodeAllocation["n01"]) != 2 {
		t.Error("EvaluatePlan changed its input")
	}
	// A port taken meanwhile rejects the node too.
	st.allocs = st.allocs[:len(st.allocs)-1]
	port := p.NodeAllocation["n00"][0].Resources.Ports[0].Value
	st.allocs = append(st.allocs, &cluster.Allocation{
		ID: "porter", Namespace: "default", JobID: "db", TaskGroup: "db", NodeID: "n00",
		DesiredStatus: cluster.AllocDesiredRun, ClientStatus: cluster.AllocClientRunning,
		Resources: cluster.AllocResources{Ports: []cluster.AllocatedPort{{Label: "x", Value: port}}},
	})
	if _, rej := EvaluatePlan(st, p); !reflect.DeepEqual(rej, []string{"n00"}) {
		t.Fatalf("port collision: rejected %v, want [n00]", rej)
	}
	// A node that went down takes nothing.
	st.allocs = st.allocs[:len(st.allocs)-1]
	st.Node("n00").Status = cluster.NodeStatusDown
	if _, rej := EvaluatePlan(st, p); !reflect.DeepEqual(rej, []string{"n00"}) {
		t.Fatalf("down node: rejected %v", rej)
	}
}

func TestOptionsRequired(t *testing.T) {
	st := newMemState(nodes(1)...)
	j := st.register(job(1))
	if _, err := Process(st, registerEval(j), Options{}); err == nil {
		t.Fatal("want an error without options")
	}
}

// TestBenchmarkShapePlacesAll checks once what the benchmark only
// samples: every allocation of the largest case is placed, evenly over the
// admitted racks when spread.
func TestBenchmarkShapePlacesAll(t *testing.T) {
	if testing.Short() {
		t.Skip("large")
	}
	st := benchState(5000, 25)
	for _, spread := range []bool{false, true} {
		j := benchJob(st, 25, 1200, spread)
		p, err := Process(st, registerEval(j), benchOptions(1))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(placed(p)); got != 1200 {
			t.Fatalf("spread=%v: placed %d of 1200: %s", spread, got, explainText(p, "web"))
		}
		perRack := map[string]int{}
		for _, a := range placed(p) {
			r := st.Node(a.NodeID).Meta["rack"]
			if n, _ := strconv.Atoi(r[1:]); n >= 12 {
				t.Fatalf("placed on rack %s, outside the constraint", r)
			}
			perRack[r]++
		}
		if spread {
			lo, hi := 1200, 0
			for _, n := range perRack {
				lo, hi = min(lo, n), max(hi, n)
			}
			// 1200 over 12 racks is 100 each; sampling log2(n) nodes per
			// placement keeps it close.
			if len(perRack) != 12 || hi-lo > 10 {
				t.Errorf("spread per rack %v", perRack)
			}
		}
	}
}

func TestStopCancelsDeployment(t *testing.T) {
	st := newMemState(nodes(2)...)
	withUpdate := func(j *jobspec.Job) { grp(j).Update = &jobspec.UpdateStrategy{MaxParallel: 1} }
	p := run(t, st, job(2, withUpdate), 1)
	st.apply(p)
	j := st.register(job(2, withUpdate))
	j.Stop = true
	p, err := Process(st, registerEval(j), testOptions(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.DeploymentUpdates) != 1 || p.DeploymentUpdates[0].Status != cluster.DeploymentCancelled || p.Deployment != nil {
		t.Fatalf("deployment updates %+v, new %+v", p.DeploymentUpdates, p.Deployment)
	}
}

func TestGroupRemoved(t *testing.T) {
	st := newMemState(nodes(2)...)
	two := func(j *jobspec.Job) {
		g := *grp(j)
		g.Name = "api"
		j.Groups = append(j.Groups, &g)
	}
	st.apply(run(t, st, job(2, two), 1))
	st.setClient(cluster.AllocClientRunning)
	p := run(t, st, job(2), 2)
	if a := p.Annotations["api"]; a == nil || a.Stop != 2 {
		t.Fatalf("annotations %+v", p.Annotations)
	}
	for _, a := range stopped(p) {
		if a.TaskGroup != "api" || a.DesiredDescription != descGroupGone {
			t.Errorf("stopped %+v", a)
		}
	}
}

// A failed allocation with no reschedule attempt left holds its index
// until a new version of the job replaces it (Nomad's destructive update
// of a failed allocation): a revert, a fix or `drover sync retry` of the
// same spec must not find the group stuck on its dead allocations.
func TestNewVersionReplacesFailedAllocation(t *testing.T) {
	noAttempts := func(j *jobspec.Job) { grp(j).Reschedule = &jobspec.ReschedulePolicy{Attempts: 0} }
	st := newMemState(nodes(2)...)
	st.apply(run(t, st, job(2, noAttempts), 1))
	st.setClient(cluster.AllocClientRunning)
	failed := failedAlloc(st, "web.web[0]", testNow.Add(-time.Minute))
	if p := reprocess(t, st, 2); len(placed(p)) != 0 {
		t.Fatalf("the same version replaced a failed allocation with no attempt left: placed %+v", placed(p))
	}
	// The same spec again, as a new version.
	p := run(t, st, job(2, noAttempts), 3)
	var repl *cluster.Allocation
	for _, a := range placed(p) {
		if a.Name == failed.Name {
			repl = a
		}
	}
	if repl == nil || repl.PreviousAllocation != failed.ID || repl.ID == failed.ID || repl.JobVersion != 1 {
		t.Fatalf("replacement of %s = %+v, want a new allocation of version 1", failed.Name, repl)
	}
	// The running one is updated in place; the failed one is replaced.
	if a := p.Annotations["web"]; a.DestructiveUpdate != 1 || a.InPlaceUpdate != 1 {
		t.Errorf("annotations = %+v, want 1 destructive and 1 in-place update", a)
	}
}
