package scheduler

import (
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

func TestCheckerOperators(t *testing.T) {
	n := node("n1", func(n *cluster.Node) {
		n.Attributes["driver.docker.version"] = "24.0.7"
		n.Attributes["nomad.version"] = "1.7.2-beta.1"
		n.Attributes["cpu.numcores"] = "16"
		n.Attributes["kernel.version"] = "6.1.0.17"
		n.Meta["tags"] = "ssd, gpu,fast"
		n.Meta["rack"] = "r12"
		n.NodeClass = "big"
	})
	tests := []struct {
		attr, op, value string
		want            bool
	}{
		{"${attr.kernel.name}", "=", "linux", true},
		{"${attr.kernel.name}", "=", "windows", false},
		{"${attr.kernel.name}", "==", "linux", true},
		{"${attr.kernel.name}", "is", "windows", false},
		{"${attr.kernel.name}", "", "linux", true}, // default operator
		{"${attr.kernel.name}", "!=", "windows", true},
		{"${attr.kernel.name}", "not", "linux", false},
		{"${attr.missing}", "!=", "x", true},
		{"${attr.missing}", "=", "x", false},
		{"${attr.cpu.numcores}", ">", "8", true},      // numeric: 16 > 8
		{"${attr.cpu.numcores}", "<", "8", false},     // lexically "16" < "8"
		{"${attr.cpu.numcores}", ">=", "16", true},    //
		{"${attr.cpu.numcores}", "<=", "15.5", false}, //
		{"${meta.rack}", "<", "r2", true},             // lexical
		{"${meta.rack}", ">", "r2", false},            //
		{"${attr.missing}", "<", "9", false},
		{"${attr.kernel.name}", "regexp", "^lin.x$", true},
		{"${attr.kernel.name}", "regexp", "^win", false},
		{"${attr.kernel.name}", "regexp", "([", false}, // bad pattern never matches
		{"${attr.driver.docker.version}", "version", ">= 20.10, < 25", true},
		{"${attr.driver.docker.version}", "version", ">= 25", false},
		{"${attr.driver.docker.version}", "version", "~> 24.0", true},
		{"${attr.driver.docker.version}", "semver", ">= 24.0.0", true},
		{"${attr.driver.docker.version}", "semver", "< 24.0.0", false},
		{"${attr.nomad.version}", "semver", ">= 1.7.0", false},  // a prerelease does not satisfy a release range
		{"${attr.kernel.version}", "semver", ">= 1.0.0", false}, // four parts: not semver
		{"${attr.kernel.version}", "version", ">= 5.15", true},
		{"${attr.os.version}", "semver", ">= 1.0.0", false}, // two parts, leading zero
		{"${attr.os.version}", "version", ">= 22.4", true},
		{"${attr.os.version}", "version", ">= 20.04", true},
		{"${meta.tags}", "set_contains", "gpu,ssd", true},
		{"${meta.tags}", "set_contains", "gpu,nvme", false},
		{"${meta.tags}", "set_contains_all", "fast", true},
		{"${meta.tags}", "set_contains_all", "fast,slow", false},
		{"${meta.tags}", "set_contains_any", "nvme,gpu", true},
		{"${meta.tags}", "set_contains_any", "nvme,hdd", false},
		{"${meta.rack}", "is_set", "", true},
		{"${meta.zone}", "is_set", "", false},
		{"${meta.zone}", "is_not_set", "", true},
		{"${meta.rack}", "is_not_set", "", false},
		{"${node.unique.id}", "=", "n1", true},
		{"${node.unique.name}", "=", "name-n1", true},
		{"${node.unique.name}", "=", "n1", false},
		{"${node.datacenter}", "=", "dc1", true},
		{"${node.class}", "=", "big", true},
		{"${node.class}", "=", "small", false},
		{"${node.region}", "is_set", "", false}, // unknown interpolation
		{"${attr.kernel.name}", "=", "${attr.kernel.name}", true},
		{"${attr.kernel.name}", "bogus", "linux", false},
	}
	for _, tt := range tests {
		t.Run(tt.attr+" "+tt.op+" "+tt.value, func(t *testing.T) {
			c := compileConstraint(jobspec.Constraint{Attribute: tt.attr, Operator: tt.op, Value: tt.value})
			if got := c.match(n); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"dc1", "dc1", true},
		{"dc1", "dc2", false},
		{"*", "anything", true},
		{"dc*", "dc-east", true},
		{"dc*", "xdc", false},
		{"*-east", "dc-east", true},
		{"*-east", "dc-west", false},
		{"us-*-1", "us-east-1", true},
		{"us-*-1", "us-east-2", false},
		{"a*a", "a", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// TestConstraintPlacement: constraints at job, group and task level
// decide where allocations land, and filtered nodes are counted per
// constraint.
func TestConstraintPlacement(t *testing.T) {
	mkNodes := func() []*cluster.Node {
		return nodes(4, func(i int, n *cluster.Node) {
			n.Meta["rack"] = []string{"r1", "r2", "r1", "r2"}[i]
		})
	}
	c := jobspec.Constraint{Attribute: "${meta.rack}", Operator: "=", Value: "r2"}
	tests := []struct {
		name string
		mod  func(*jobspec.Job)
	}{
		{"job", func(j *jobspec.Job) { j.Constraints = []jobspec.Constraint{c} }},
		{"group", func(j *jobspec.Job) { grp(j).Constraints = []jobspec.Constraint{c} }},
		{"task", func(j *jobspec.Job) { grp(j).Tasks[0].Constraints = []jobspec.Constraint{c} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newMemState(mkNodes()...)
			p := run(t, st, job(4, tt.mod), 1)
			for _, a := range placed(p) {
				if a.NodeID != "n01" && a.NodeID != "n03" {
					t.Errorf("%s placed on %s, which is not in rack r2", a.Name, a.NodeID)
				}
			}
			if got := len(placed(p)); got != 4 {
				t.Fatalf("placed %d, want 4", got)
			}
			m := placed(p)[0].Metrics
			if m == nil || m.ConstraintFiltered["${meta.rack} = r2"] == 0 {
				t.Errorf("metrics do not count the constraint: %+v", m)
			}
		})
	}
}

func TestDatacenters(t *testing.T) {
	mk := func() []*cluster.Node {
		return nodes(6, func(i int, n *cluster.Node) {
			n.Datacenter = []string{"dc-east", "dc-west", "edge-1"}[i%3]
		})
	}
	tests := []struct {
		dcs  []string
		want map[string]bool // allowed datacenters
	}{
		{[]string{"dc-east"}, map[string]bool{"dc-east": true}},
		{[]string{"dc*"}, map[string]bool{"dc-east": true, "dc-west": true}},
		{[]string{"*"}, map[string]bool{"dc-east": true, "dc-west": true, "edge-1": true}},
		{[]string{"edge-*", "dc-west"}, map[string]bool{"dc-west": true, "edge-1": true}},
	}
	for _, tt := range tests {
		t.Run(tt.dcs[0], func(t *testing.T) {
			st := newMemState(mk()...)
			p := run(t, st, job(12, func(j *jobspec.Job) { j.Datacenters = tt.dcs }), 1)
			if len(placed(p)) != 12 {
				t.Fatalf("placed %d, want 12; failures: %s", len(placed(p)), explainText(p, "web"))
			}
			seen := map[string]bool{}
			for _, a := range placed(p) {
				dc := st.Node(a.NodeID).Datacenter
				if !tt.want[dc] {
					t.Errorf("placed in %s", dc)
				}
				seen[dc] = true
			}
			if len(seen) != len(tt.want) {
				t.Errorf("used datacenters %v, want all of %v", seen, tt.want)
			}
		})
	}
	t.Run("none match", func(t *testing.T) {
		st := newMemState(mk()...)
		p := run(t, st, job(1, func(j *jobspec.Job) { j.Datacenters = []string{"eu-*"} }), 1)
		if len(placed(p)) != 0 || p.FailedTGAllocs["web"] == nil {
			t.Fatalf("placed %d, failed %v", len(placed(p)), p.FailedTGAllocs)
		}
		if m := p.FailedTGAllocs["web"]; m.NodesEvaluated != 0 {
			t.Errorf("NodesEvaluated = %d, want 0", m.NodesEvaluated)
		}
	})
}

func TestDrivers(t *testing.T) {
	tests := []struct {
		name    string
		driver  string
		drivers map[string]cluster.DriverInfo
		attrs   map[string]string
		ok      bool
	}{
		{"present", "docker", map[string]cluster.DriverInfo{"docker": {Detected: true, Healthy: true}}, nil, true},
		{"missing", "docker", map[string]cluster.DriverInfo{"exec": {Detected: true, Healthy: true}}, nil, false},
		{"unhealthy", "docker", map[string]cluster.DriverInfo{"docker": {Detected: true, Healthy: false}}, nil, false},
		{"undetected", "docker", map[string]cluster.DriverInfo{"docker": {Detected: false, Healthy: true}}, nil, false},
		{"raw_exec is not exec", "raw_exec", map[string]cluster.DriverInfo{"exec": {Detected: true, Healthy: true}}, nil, false},
		{"raw_exec disabled", "raw_exec", map[string]cluster.DriverInfo{"exec": {Detected: true, Healthy: true}, "raw_exec": {Detected: false}}, nil, false},
		{"raw_exec itself", "raw_exec", map[string]cluster.DriverInfo{"raw_exec": {Detected: true, Healthy: true}}, nil, true},
		{"attribute only", "java", nil, map[string]string{"driver.java": "1"}, true},
		{"attribute false", "java", nil, map[string]string{"driver.java": "0"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := nodes(3, func(_ int, n *cluster.Node) {
				n.Drivers = tt.drivers
				for k, v := range tt.attrs {
					n.Attributes[k] = v
				}
			})
			st := newMemState(ns...)
			p := run(t, st, job(2, func(j *jobspec.Job) { grp(j).Tasks[0].Driver = tt.driver }), 1)
			if got := len(placed(p)) == 2; got != tt.ok {
				t.Fatalf("placed %d, want ok=%v", len(placed(p)), tt.ok)
			}
			if !tt.ok {
				m := p.FailedTGAllocs["web"]
				if m == nil || m.ConstraintFiltered[reasonMissingDrivers] != 3 || m.CoalescedFailures != 1 {
					t.Errorf("failure metric = %+v", m)
				}
			}
		})
	}
}

// An exec task asking for a user on the nodes' user.denylist is not
// placed, with the denied user as the filter reason; a user the nodes
// allow, or nodes without a denylist, are fine.
func TestExecUserDenylist(t *testing.T) {
	exec := map[string]cluster.DriverInfo{"exec": {Detected: true, Healthy: true}}
	tests := []struct {
		name, user string
		denylist   string // "" leaves the attribute out
		inDriver   bool   // the attribute in the driver's info rather than the node's
		ok         bool
	}{
		{"root denied", "root", "root", false, false},
		{"root denied, driver attribute", "root", "root,admin", true, false},
		{"second entry", "admin", "root, admin", false, false},
		{"allowed user", "www-data", "root", false, true},
		{"default user", "", "root", false, true},
		{"no denylist", "root", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := nodes(3, func(_ int, n *cluster.Node) {
				n.Drivers = map[string]cluster.DriverInfo{}
				for k, v := range exec {
					if tt.denylist != "" && tt.inDriver {
						v.Attributes = map[string]string{"driver.exec.user.denylist": tt.denylist}
					}
					n.Drivers[k] = v
				}
				if tt.denylist != "" && !tt.inDriver {
					n.Attributes["driver.exec.user.denylist"] = tt.denylist
				}
			})
			p := run(t, newMemState(ns...), job(2, func(j *jobspec.Job) {
				grp(j).Tasks[0].Driver = "exec"
				grp(j).Tasks[0].User = tt.user
			}), 1)
			if got := len(placed(p)) == 2; got != tt.ok {
				t.Fatalf("placed %d, want ok=%v", len(placed(p)), tt.ok)
			}
			if !tt.ok {
				m := p.FailedTGAllocs["web"]
				if want := userDeniedReason(tt.user); m == nil || m.ConstraintFiltered[want] != 3 {
					t.Errorf("failure metric = %+v, want 3 nodes filtered by %q", m, want)
				}
			}
		})
	}
}
