package scheduler

import (
	"slices"
	"strconv"
	"strings"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// reasonMissingDrivers is the filter key for nodes that lack a task's
// driver, as Nomad names it.
const reasonMissingDrivers = "missing drivers"

// Feasibility cache states of a (group, node) pair; a larger value v
// means "filtered by reason v-feasFiltered".
const (
	feasUnknown  uint16 = 0
	feasOK       uint16 = 1
	feasFiltered uint16 = 2
)

// readyNodes returns the nodes new work may go to in the job's
// datacenters, sorted by ID, and their count per datacenter.
func readyNodes(st State, spec *jobspec.Job) ([]*cluster.Node, map[string]int) {
	all := st.Nodes()
	out := make([]*cluster.Node, 0, len(all))
	byDC := map[string]int{}
	for _, n := range all {
		if n.Ready() && inDatacenters(spec.Datacenters, n.Datacenter) && inNodePool(spec, n) {
			out = append(out, n)
			byDC[n.Datacenter]++
		}
	}
	// The state store usually lists nodes sorted already; checking is
	// far cheaper than sorting, and the order must not depend on it.
	byID := func(a, b *cluster.Node) int { return strings.Compare(a.ID, b.ID) }
	if !slices.IsSortedFunc(out, byID) {
		slices.SortFunc(out, byID)
	}
	return out, byDC
}

// inDatacenters reports whether dc matches one of the job's datacenter
// patterns; a job that names none may run anywhere.
func inDatacenters(patterns []string, dc string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if globMatch(p, dc) {
			return true
		}
	}
	return false
}

// driverOK reports whether the node can run tasks of the named driver.
// raw_exec is a driver of its own, off unless the node enables it. Nodes
// whose fingerprint predates driver info announce drivers as
// "driver.<name>" attributes.
func driverOK(n *cluster.Node, name string) bool {
	return driverNamed(n, name)
}

func driverNamed(n *cluster.Node, name string) bool {
	if info, ok := n.Drivers[name]; ok {
		return info.Detected && info.Healthy
	}
	b, err := strconv.ParseBool(n.Attributes["driver."+name])
	return err == nil && b
}

// userDenied reports whether node n's driver refuses to run tasks as
// user: the driver announces its user.denylist (Nomad's agent option) as
// the attribute driver.<name>.user.denylist. The node refuses such a task
// itself too; filtering here makes the placement fail with the reason
// instead of the task.
func userDenied(n *cluster.Node, driver, user string) bool {
	key := "driver." + driver + ".user.denylist"
	list, ok := n.Attributes[key]
	if info, found := n.Drivers[driver]; !ok && found {
		list = info.Attributes[key]
	}
	for _, d := range strings.Split(list, ",") {
		if d = strings.TrimSpace(d); d != "" && d == user {
			return true
		}
	}
	return false
}

// userDeniedReason is the filter metric of a user on nodes' denylists.
func userDeniedReason(user string) string {
	return "user " + strconv.Quote(user) + " on the node's user.denylist"
}

// staticCheck tells whether node n passes the group's checks that do not
// depend on other placements: drivers, then job, group and task
// constraints in that order (a task's user after its driver). It returns
// feasOK or the first reason.
func (g *groupSel) staticCheck(n *cluster.Node) uint16 {
	for _, d := range g.drivers {
		if !driverOK(n, d) {
			return feasFiltered + g.reasonDrivers
		}
	}
	for i, u := range g.execUsers {
		if userDenied(n, "exec", u) {
			return feasFiltered + g.reasonUsers + uint16(i)
		}
	}
	for i, c := range g.checks {
		if !c.match(n) {
			return feasFiltered + g.reasonChecks + uint16(i)
		}
	}
	if !g.volumes.fixedOK(n) {
		return feasFiltered + g.reasonVolumes
	}
	return feasOK
}

// feasible returns the cached static result for candidate slot i.
func (g *groupSel) feasible(i int, n *cluster.Node) uint16 {
	if i >= len(g.feas) {
		return g.staticCheck(n)
	}
	f := g.feas[i]
	if f == feasUnknown {
		f = g.staticCheck(n)
		g.feas[i] = f
	}
	return f
}
