package scheduler

import (
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

func system(typ jobspec.JobType, mods ...func(*jobspec.Job)) *jobspec.Job {
	return job(1, append([]func(*jobspec.Job){func(j *jobspec.Job) { j.Type = typ }}, mods...)...)
}

func TestSystemOnePerNode(t *testing.T) {
	ns := nodes(5, func(i int, n *cluster.Node) {
		switch i {
		case 1:
			n.Attributes["kernel.name"] = "windows"
		case 2:
			n.SchedulingEligibility = cluster.NodeIneligible
		case 3:
			n.Resources.CPU = 100 // no room
		}
	})
	st := newMemState(ns...)
	p := run(t, st, system(jobspec.JobTypeSystem, func(j *jobspec.Job) {
		j.Constraints = []jobspec.Constraint{{Attribute: "${attr.kernel.name}", Value: "linux"}}
	}), 1)
	got := perNode(p)
	if len(got) != 2 || got["n00"] != 1 || got["n04"] != 1 {
		t.Fatalf("per node %v, want n00 and n04", got)
	}
	for _, a := range placed(p) {
		if a.Name != "web.web[0]" {
			t.Errorf("name %q", a.Name)
		}
	}
	m := p.FailedTGAllocs["web"]
	if m == nil || m.NodesExhausted != 1 || m.DimensionExhausted["cpu"] != 1 || len(m.ConstraintFiltered) != 0 {
		t.Errorf("failure metric = %+v (a filtered node is not a failure)", m)
	}
	st.apply(p)
	st.setClient(cluster.AllocClientRunning)

	// Same again: nothing to do. A new node gets one; a down node's
	// allocation is lost.
	st.nodes = append(st.nodes, node("n05"))
	st.Node("n00").Status = cluster.NodeStatusDown
	p = reprocess(t, st, 2)
	if got := perNode(p); len(got) != 1 || got["n05"] != 1 {
		t.Fatalf("per node %v, want only n05", got)
	}
	if s := stopped(p); len(s) != 1 || s[0].NodeID != "n00" || s[0].ClientStatus != cluster.AllocClientLost {
		t.Fatalf("stopped %+v", s)
	}
}

func TestSystemUpdates(t *testing.T) {
	st := newMemState(nodes(3)...)
	st.apply(run(t, st, system(jobspec.JobTypeSystem), 1))
	st.setClient(cluster.AllocClientRunning)
	p := run(t, st, system(jobspec.JobTypeSystem, func(j *jobspec.Job) {
		grp(j).Tasks[0].Config["image"] = "nginx:2"
		grp(j).Update = &jobspec.UpdateStrategy{MaxParallel: 2}
	}), 2)
	if a := p.Annotations["web"]; a.DestructiveUpdate != 2 || a.Ignore != 1 {
		t.Fatalf("annotations %+v", a)
	}
	for _, a := range fresh(st, p) {
		if a.PreviousAllocation == "" {
			t.Errorf("replacement without predecessor: %+v", a)
		}
		prev := st.allocs[0]
		for _, b := range st.allocs {
			if b.ID == a.PreviousAllocation {
				prev = b
			}
		}
		if prev.NodeID != a.NodeID {
			t.Errorf("system replacement moved from %s to %s", prev.NodeID, a.NodeID)
		}
	}
	// An in-place change touches all.
	p = run(t, st, system(jobspec.JobTypeSystem, func(j *jobspec.Job) { j.Priority = 80 }), 3)
	if a := p.Annotations["web"]; a.InPlaceUpdate != 3 {
		t.Fatalf("annotations %+v", a)
	}
}

func TestSysBatchCompleteStays(t *testing.T) {
	st := newMemState(nodes(2)...)
	st.apply(run(t, st, system(jobspec.JobTypeSysBatch), 1))
	st.setClient(cluster.AllocClientComplete)
	if p := reprocess(t, st, 2); !p.IsNoOp() {
		t.Fatalf("completed sysbatch allocations rerun: %v", perNode(p))
	}
	st2 := newMemState(nodes(2)...)
	st2.apply(run(t, st2, system(jobspec.JobTypeSystem), 1))
	st2.setClient(cluster.AllocClientFailed)
	if p := reprocess(t, st2, 2); len(placed(p)) != 2 {
		t.Fatalf("failed system allocations not replaced: %v", perNode(p))
	}
}

func TestSystemStop(t *testing.T) {
	st := newMemState(nodes(3)...)
	st.apply(run(t, st, system(jobspec.JobTypeSystem), 1))
	j := st.register(system(jobspec.JobTypeSystem))
	j.Stop = true
	p, err := Process(st, registerEval(j), testOptions(3))
	if err != nil {
		t.Fatal(err)
	}
	if len(stopped(p)) != 3 || len(placed(p)) != 0 {
		t.Fatalf("stopped %d placed %d", len(stopped(p)), len(placed(p)))
	}
}
