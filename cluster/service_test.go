package cluster

import (
	"fmt"
	"slices"
	"testing"

	"github.com/droverhq/drover/jobspec"
)

func svcJob() *jobspec.Job {
	return &jobspec.Job{ID: "api", Groups: []*jobspec.Group{{
		Name: "api",
		Services: []jobspec.Service{
			{Name: "api", Port: "http", Provider: "nomad", Tags: []string{"v1"}, CanaryTags: []string{"canary"}, Meta: map[string]string{"team": "a"}},
			{Name: "fixed", Port: "8500"},
			{Name: "elsewhere", Port: "http", Provider: "consul"},
		},
		Tasks: []*jobspec.Task{
			{Name: "server", Services: []jobspec.Service{{Name: "admin", Port: "admin"}}},
			{Name: "init", Lifecycle: &jobspec.Lifecycle{Hook: "prestart"}},
		},
	}}}
}

func svcAlloc(mut func(a *Allocation)) *Allocation {
	a := &Allocation{
		ID: "a1", Namespace: "default", JobID: "api", TaskGroup: "api", NodeID: "n1",
		DesiredStatus: AllocDesiredRun, ClientStatus: AllocClientRunning,
		TaskStates: map[string]*TaskState{"server": {State: TaskStateRunning}, "init": {State: TaskStateDead}},
		Resources: AllocResources{Ports: []AllocatedPort{
			{Label: "http", Value: 23001},
			{Label: "admin", Value: 23002, HostIP: "10.9.9.9"},
		}},
	}
	if mut != nil {
		mut(a)
	}
	return a
}

func svcNode(mut func(n *Node)) *Node {
	n := &Node{ID: "n1", Datacenter: "dc1", Status: NodeStatusReady, Attributes: map[string]string{NodeAttrIP: "192.0.2.7"}}
	if mut != nil {
		mut(n)
	}
	return n
}

func TestAllocServices(t *testing.T) {
	f, tr := false, true
	type want struct {
		id, addr, status string
		port             int
		tags             []string
		canary           bool
	}
	group := func(name, port string) string { return "_nomad-task-a1-group-api-" + name + "-" + port }
	task := "_nomad-task-a1-server-admin-admin"
	cases := []struct {
		name     string
		alloc    *Allocation
		node     *Node
		promoted bool
		want     []want
	}{
		{"running: host address, allocated ports, numeric port, no consul", svcAlloc(nil), svcNode(nil), false, []want{
			{group("api", "http"), "192.0.2.7", "passing", 23001, []string{"v1"}, false},
			{group("fixed", "8500"), "192.0.2.7", "passing", 8500, nil, false},
			{task, "10.9.9.9", "passing", 23002, nil, false},
		}},
		{"pending: nothing", svcAlloc(func(a *Allocation) { a.ClientStatus = AllocClientPending }), svcNode(nil), false, nil},
		{"desired stop: nothing", svcAlloc(func(a *Allocation) { a.DesiredStatus = AllocDesiredStop }), svcNode(nil), false, nil},
		{"lost: nothing", svcAlloc(func(a *Allocation) { a.ClientStatus = AllocClientLost }), svcNode(nil), false, nil},
		{"unknown (disconnected): nothing", svcAlloc(func(a *Allocation) { a.ClientStatus = AllocClientUnknown }), svcNode(nil), false, nil},
		{"node down: nothing", svcAlloc(nil), svcNode(func(n *Node) { n.Status = NodeStatusDown }), false, nil},
		{"task restarting: critical", svcAlloc(func(a *Allocation) {
			a.TaskStates = map[string]*TaskState{"server": {State: TaskStatePending}}
		}), svcNode(nil), false, []want{
			{group("api", "http"), "192.0.2.7", "critical", 23001, []string{"v1"}, false},
			{group("fixed", "8500"), "192.0.2.7", "critical", 8500, nil, false},
			{task, "10.9.9.9", "critical", 23002, nil, false},
		}},
		{"checks unhealthy: critical", svcAlloc(func(a *Allocation) {
			a.DeploymentStatus = &AllocDeploymentStatus{Healthy: &f}
		}), svcNode(nil), false, []want{
			{group("api", "http"), "192.0.2.7", "critical", 23001, []string{"v1"}, false},
			{group("fixed", "8500"), "192.0.2.7", "critical", 8500, nil, false},
			{task, "10.9.9.9", "critical", 23002, nil, false},
		}},
		{"canary: canary_tags replace tags where set", svcAlloc(func(a *Allocation) {
			a.DeploymentStatus = &AllocDeploymentStatus{Healthy: &tr, Canary: true}
		}), svcNode(nil), false, []want{
			{group("api", "http"), "192.0.2.7", "passing", 23001, []string{"canary"}, true},
			{group("fixed", "8500"), "192.0.2.7", "passing", 8500, nil, true},
			{task, "10.9.9.9", "passing", 23002, nil, true},
		}},
		{"promoted canary: tags again", svcAlloc(func(a *Allocation) {
			a.DeploymentStatus = &AllocDeploymentStatus{Healthy: &tr, Canary: true}
		}), svcNode(nil), true, []want{
			{group("api", "http"), "192.0.2.7", "passing", 23001, []string{"v1"}, false},
			{group("fixed", "8500"), "192.0.2.7", "passing", 8500, nil, false},
			{task, "10.9.9.9", "passing", 23002, nil, false},
		}},
		{"no network_ip attribute: the node's HTTP address host", svcAlloc(nil), svcNode(func(n *Node) {
			n.Attributes = nil
			n.HTTPAddr = "198.51.100.3:4646"
		}), false, []want{
			{group("api", "http"), "198.51.100.3", "passing", 23001, []string{"v1"}, false},
			{group("fixed", "8500"), "198.51.100.3", "passing", 8500, nil, false},
			{task, "10.9.9.9", "passing", 23002, nil, false},
		}},
		{"no node: nothing", svcAlloc(nil), nil, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := AllocServices(svcJob(), c.alloc, c.node, c.promoted)
			if len(got) != len(c.want) {
				t.Fatalf("got %d registrations, want %d: %+v", len(got), len(c.want), got)
			}
			for i, w := range c.want {
				g := got[i]
				if g.ID != w.id || g.Address != w.addr || g.Port != w.port || g.Status != w.status || !slices.Equal(g.Tags, w.tags) || g.Canary != w.canary {
					t.Errorf("registration %d = %+v, want %+v", i, g, w)
				}
				if g.Namespace != "default" || g.JobID != "api" || g.AllocID != "a1" || g.NodeID != "n1" {
					t.Errorf("registration %d identity = %+v", i, g)
				}
			}
			if len(got) > 0 && (got[0].Meta["team"] != "a" || got[0].Datacenter != "dc1" && c.node.Datacenter == "dc1") {
				t.Errorf("meta/datacenter = %+v", got[0])
			}
		})
	}
}

func TestServiceRegistrationSameAs(t *testing.T) {
	a := AllocServices(svcJob(), svcAlloc(nil), svcNode(nil), false)[0]
	b := *a
	b.CreateIndex, b.ModifyIndex = 7, 9
	if !a.SameAs(&b) {
		t.Fatal("indexes alone must not count as a change")
	}
	for name, mut := range map[string]func(r *ServiceRegistration){
		"port":   func(r *ServiceRegistration) { r.Port++ },
		"status": func(r *ServiceRegistration) { r.Status = ServiceHealthCritical },
		"tags":   func(r *ServiceRegistration) { r.Tags = []string{"x"} },
		"meta":   func(r *ServiceRegistration) { r.Meta = map[string]string{"team": "b"} },
		"canary": func(r *ServiceRegistration) { r.Canary = true },
	} {
		c := *a
		mut(&c)
		if a.SameAs(&c) {
			t.Errorf("%s changed but SameAs says equal", name)
		}
	}
}

func regs(n int) []*ServiceRegistration {
	out := make([]*ServiceRegistration, n)
	for i := range out {
		out[i] = &ServiceRegistration{ID: fmt.Sprintf("_nomad-task-%08d-group-api-api-http", i)}
	}
	return out
}

func ids(rs []*ServiceRegistration) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestChooseServices(t *testing.T) {
	all := regs(10)
	cases := []struct {
		name string
		n    int
		key  string
		want int
	}{
		{"two of ten", 2, "web-1", 2},
		{"more than there are", 20, "web-1", 10},
		{"zero", 0, "web-1", 0},
		{"one", 1, "x", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ChooseServices(all, c.n, c.key)
			if len(got) != c.want {
				t.Fatalf("got %d, want %d", len(got), c.want)
			}
			// The same key and set choose the same, whatever the input order.
			rev := slices.Clone(all)
			slices.Reverse(rev)
			if again := ChooseServices(rev, c.n, c.key); !slices.Equal(ids(got), ids(again)) {
				t.Fatalf("unstable: %v then %v", ids(got), ids(again))
			}
		})
	}
}

// TestChooseServicesRendezvous checks the property callers rely on:
// removing an instance a key did not choose leaves that key's choice
// alone, and keys spread over the instances.
func TestChooseServicesRendezvous(t *testing.T) {
	all := regs(10)
	hits := map[string]int{}
	moved := 0
	for k := 0; k < 1000; k++ {
		key := fmt.Sprintf("client-%d", k)
		got := ChooseServices(all, 2, key)
		hits[got[0].ID]++
		// Remove one instance that was not chosen.
		var rest []*ServiceRegistration
		removed := false
		for _, r := range all {
			if !removed && r.ID != got[0].ID && r.ID != got[1].ID {
				removed = true
				continue
			}
			rest = append(rest, r)
		}
		if again := ChooseServices(rest, 2, key); !slices.Equal(ids(got), ids(again)) {
			moved++
		}
	}
	if moved != 0 {
		t.Errorf("%d of 1000 keys changed their choice when an unchosen instance left", moved)
	}
	if len(hits) != 10 {
		t.Fatalf("1000 keys chose only %d of 10 instances first", len(hits))
	}
	for id, n := range hits {
		if n < 50 || n > 170 { // expected 100 each
			t.Errorf("instance %s chosen first by %d of 1000 keys: uneven", id, n)
		}
	}
}
