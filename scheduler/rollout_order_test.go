package scheduler

import (
	"slices"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// roleNodes returns nodes named node-a, node-b, ... with meta.role set to
// the given roles; "" leaves it unset.
func roleNodes(roles ...string) []*cluster.Node {
	out := make([]*cluster.Node, len(roles))
	for i, r := range roles {
		out[i] = node("id-"+string(rune('a'+i)), func(n *cluster.Node) {
			n.Name = "node-" + string(rune('a'+i))
			if r != "" {
				n.Meta["role"] = r
			}
		})
	}
	return out
}

func TestRolloutOrder(t *testing.T) {
	type want struct {
		node, value string
		listed      bool
	}
	tests := []struct {
		name    string
		rollout *jobspec.Rollout
		nodes   []*cluster.Node
		want    []want
	}{
		{name: "followers first, leader last",
			rollout: &jobspec.Rollout{OrderBy: "${meta.role}", Order: []string{"follower", "leader"}},
			nodes:   roleNodes("leader", "follower", "follower"),
			want:    []want{{"node-b", "follower", true}, {"node-c", "follower", true}, {"node-a", "leader", true}}},
		{name: "unset and unlisted values go last by name",
			rollout: &jobspec.Rollout{OrderBy: "${meta.role}", Order: []string{"leader"}},
			nodes:   roleNodes("", "witness", "leader", "follower"),
			want:    []want{{"node-c", "leader", true}, {"node-a", "", false}, {"node-b", "witness", false}, {"node-d", "follower", false}}},
		{name: "node names without order_by",
			rollout: &jobspec.Rollout{Order: []string{"node-c", "node-x", "node-a"}},
			nodes:   roleNodes("", "", "", ""),
			want:    []want{{"node-c", "node-c", true}, {"node-a", "node-a", true}, {"node-b", "node-b", false}, {"node-d", "node-d", false}}},
		{name: "datacenter",
			rollout: &jobspec.Rollout{OrderBy: "${node.datacenter}", Order: []string{"dc2", "dc1"}},
			nodes: func() []*cluster.Node {
				ns := roleNodes("", "", "")
				ns[1].Datacenter = "dc2"
				return ns
			}(),
			want: []want{{"node-b", "dc2", true}, {"node-a", "dc1", true}, {"node-c", "dc1", true}}},
		{name: "attribute",
			rollout: &jobspec.Rollout{OrderBy: "${attr.cpu.arch}", Order: []string{"arm64"}},
			nodes: func() []*cluster.Node {
				ns := roleNodes("", "", "")
				ns[2].Attributes["cpu.arch"] = "arm64"
				return ns
			}(),
			want: []want{{"node-c", "arm64", true}, {"node-a", "amd64", false}, {"node-b", "amd64", false}}},
		{name: "no rollout block: by name",
			nodes: roleNodes("leader", "follower"),
			want:  []want{{"node-a", "node-a", false}, {"node-b", "node-b", false}}},
		{name: "nil nodes are skipped",
			rollout: &jobspec.Rollout{OrderBy: "${meta.role}", Order: []string{"leader"}},
			nodes:   append([]*cluster.Node{nil}, roleNodes("follower", "leader")...),
			want:    []want{{"node-b", "leader", true}, {"node-a", "follower", false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The input order must not matter.
			in := slices.Clone(tt.nodes)
			slices.Reverse(in)
			got := RolloutOrder(&jobspec.Group{Name: "db", Rollout: tt.rollout}, in)
			var gotW []want
			for _, o := range got {
				gotW = append(gotW, want{o.Node, o.Value, o.Listed})
			}
			if !slices.Equal(gotW, tt.want) {
				t.Fatalf("order = %+v\nwant    %+v", gotW, tt.want)
			}
		})
	}
}

func TestRolloutOrderAllocs(t *testing.T) {
	ns := roleNodes("leader", "follower", "follower")
	byID := func(id string) *cluster.Node {
		for _, n := range ns {
			if n.ID == id {
				return n
			}
		}
		return nil
	}
	alloc := func(i int, nodeID string) *cluster.Allocation {
		return &cluster.Allocation{ID: "a" + nodeID, Name: allocName("j", "db", i), NodeID: nodeID}
	}
	allocs := []*cluster.Allocation{
		alloc(0, "id-a"), alloc(10, "id-c"), alloc(1, "id-b"), alloc(2, "id-c"), alloc(3, "gone"),
	}
	g := &jobspec.Group{Name: "db", Rollout: &jobspec.Rollout{OrderBy: "${meta.role}", Order: []string{"follower", "leader"}}}
	var got []string
	for _, a := range rolloutOrder(g, allocs, byID) {
		got = append(got, a.Name)
	}
	want := []string{"j.db[1]", "j.db[2]", "j.db[10]", "j.db[0]", "j.db[3]"}
	if !slices.Equal(got, want) {
		t.Fatalf("order = %q, want %q", got, want)
	}
	if out := rolloutOrder(&jobspec.Group{Name: "db"}, allocs, byID); !slices.Equal(out, allocs) {
		t.Fatal("without a rollout block the order must not change")
	}
}

// TestRolloutFollowersFirst rolls a destructive update one at a time over
// three allocations on three nodes: the followers' allocations are
// replaced first, the leader's last, each once the previous one is
// healthy.
func TestRolloutFollowersFirst(t *testing.T) {
	spec := func(image string) *jobspec.Job {
		return job(3, func(j *jobspec.Job) {
			g := grp(j)
			g.Constraints = []jobspec.Constraint{{Operator: opDistinctHosts, Value: "true"}}
			g.Update = &jobspec.UpdateStrategy{MaxParallel: 1, ProgressDeadline: 10 * time.Minute}
			g.Rollout = &jobspec.Rollout{OrderBy: "${meta.role}", Order: []string{"follower", "leader"}}
			g.Tasks[0].Config["image"] = image
		})
	}
	ns := roleNodes("", "", "")
	st := newMemState(ns...)
	p := run(t, st, spec("nginx:1"), 1)
	if len(placed(p)) != 3 {
		t.Fatalf("placed %d", len(placed(p)))
	}
	st.apply(p)
	st.setClient(cluster.AllocClientRunning)
	setHealthy(st, 0)
	p.Deployment.Status = cluster.DeploymentSuccessful

	// The leader runs index 0, which the scheduler would replace first
	// without a rollout block.
	leader := ""
	for _, a := range st.allocs {
		role := "follower"
		if a.Name == "web.web[0]" {
			role, leader = "leader", a.NodeID
		}
		st.Node(a.NodeID).Meta["role"] = role
	}
	var want []string // the nodes in the order they should be updated
	for _, o := range RolloutOrder(grp(spec("")), ns) {
		want = append(want, o.NodeID)
	}
	if want[2] != leader {
		t.Fatalf("RolloutOrder = %v, leader %s not last", want, leader)
	}

	var got []string
	p = run(t, st, spec("nginx:2"), 2)
	for step := range 3 {
		s := stopped(p)
		if a := p.Annotations["web"]; len(s) != 1 || a.DestructiveUpdate != 1 {
			t.Fatalf("step %d: annotations %+v, stopped %d; want one destructive update", step, a, len(s))
		}
		got = append(got, s[0].NodeID)
		st.apply(p)
		st.setClient(cluster.AllocClientRunning)
		// While the replacement's health is unknown, nothing more.
		if p := reprocess(t, st, uint64(10+step)); !p.IsNoOp() {
			t.Fatalf("step %d: with one in flight: annotations %+v", step, p.Annotations["web"])
		}
		setHealthy(st, 1)
		p = reprocess(t, st, uint64(20+step))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("replaced on %v, want %v (followers by name, then the leader %s)", got, want, leader)
	}
	if a := p.Annotations["web"]; a.DestructiveUpdate != 0 || len(stopped(p)) != 0 {
		t.Fatalf("after the rollout: annotations %+v", a)
	}
}

// With canaries the rollout block changes nothing: the canary is placed
// next to index 0, as without it.
func TestRolloutKeepsCanaryOrder(t *testing.T) {
	st, p := canaryRollout(t)
	for _, n := range st.nodes {
		n.Meta["role"] = "follower"
	}
	for _, a := range st.allocs {
		if a.Name == "web.web[0]" {
			st.Node(a.NodeID).Meta["role"] = "leader"
		}
	}
	want := placed(p)[0].Name
	j := st.Job("default", "web")
	grp(j.Spec).Rollout = &jobspec.Rollout{OrderBy: "${meta.role}", Order: []string{"follower", "leader"}}
	p, err := Process(st, registerEval(j), testOptions(9))
	if err != nil {
		t.Fatal(err)
	}
	if c := placed(p); len(c) != 1 || c[0].Name != want || want != "web.web[0]" {
		t.Fatalf("canary placed %v, want %s", names(c), want)
	}
}

func TestRolloutSystemJob(t *testing.T) {
	ns := roleNodes("leader", "follower", "follower")
	st := newMemState(ns...)
	st.apply(run(t, st, system(jobspec.JobTypeSystem), 1))
	st.setClient(cluster.AllocClientRunning)
	var got []string
	for step := range 3 {
		p := run(t, st, system(jobspec.JobTypeSystem, func(j *jobspec.Job) {
			grp(j).Tasks[0].Config["image"] = "nginx:2"
			grp(j).Update = &jobspec.UpdateStrategy{MaxParallel: 1}
			grp(j).Rollout = &jobspec.Rollout{OrderBy: "${meta.role}", Order: []string{"follower", "leader"}}
		}), uint64(2+step))
		s := stopped(p)
		if len(s) != 1 {
			t.Fatalf("step %d: stopped %d", step, len(s))
		}
		got = append(got, s[0].NodeID)
		st.apply(p)
		st.setClient(cluster.AllocClientRunning)
	}
	if want := []string{"id-b", "id-c", "id-a"}; !slices.Equal(got, want) {
		t.Fatalf("replaced on %v, want %v", got, want)
	}
}

func TestCurrentRolloutOrder(t *testing.T) {
	ns := roleNodes("leader", "follower", "follower")
	st := newMemState(ns...)
	g := &jobspec.Group{Name: "web", Rollout: &jobspec.Rollout{OrderBy: "${meta.role}", Order: []string{"follower", "leader"}}}
	st.allocs = []*cluster.Allocation{
		{ID: "1", Namespace: "default", JobID: "web", TaskGroup: "web", NodeID: "id-a", DesiredStatus: cluster.AllocDesiredRun},
		{ID: "2", Namespace: "default", JobID: "web", TaskGroup: "web", NodeID: "id-c", DesiredStatus: cluster.AllocDesiredRun},
		{ID: "3", Namespace: "default", JobID: "web", TaskGroup: "web", NodeID: "id-c", DesiredStatus: cluster.AllocDesiredRun},
		{ID: "4", Namespace: "default", JobID: "web", TaskGroup: "web", NodeID: "id-b", DesiredStatus: cluster.AllocDesiredStop},
		{ID: "5", Namespace: "default", JobID: "web", TaskGroup: "other", NodeID: "id-b", DesiredStatus: cluster.AllocDesiredRun},
	}
	var got []string
	for _, o := range CurrentRolloutOrder(st, "default", "web", g) {
		got = append(got, o.Node)
	}
	if want := []string{"node-c", "node-a"}; !slices.Equal(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
}
