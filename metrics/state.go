package metrics

import (
	"slices"
	"strings"

	"github.com/droverhq/drover/cluster"
	"github.com/prometheus/client_golang/prometheus"
)

// Cardinality caps of the state gauges: the jobs and nodes (sorted by
// name) beyond them are summed under OtherLabel, so that a cluster of
// 50,000 jobs scrapes in bounded size. A series per job and state costs
// the Prometheus server memory for as long as it is retained.
const (
	MaxJobSeries    = 500
	MaxNodeSeries   = 1000
	MaxSourceSeries = 100
)

// Sync states, the values of drover_sync_state's state label.
var SyncStates = []string{"applied", "progressing", "rolling_out", "rejected", "failed", "error", "unknown"}

// ClusterView is what the state gauges read at scrape time: one
// consistent snapshot of the state store.
type ClusterView struct {
	Allocs      []*cluster.Allocation
	Deployments []*cluster.Deployment
	Sync        []*cluster.SyncStatus
}

var (
	syncStateDesc = prometheus.NewDesc("drover_sync_state",
		"1 for the state a Git source is in (the newest commit's outcome, or error when the last pass did not complete), 0 for the others.",
		[]string{"source", "state"}, nil)
	syncAppliedDesc = prometheus.NewDesc("drover_sync_last_applied_timestamp_seconds",
		"When the source's last applied commit was applied, in Unix seconds.", []string{"source"}, nil)
	allocsDesc = prometheus.NewDesc("drover_allocations",
		"Allocations by namespace, job and client state; jobs beyond the first 500 by name are summed under job \"_other\".",
		[]string{"namespace", "job", "state"}, nil)
	nodeAllocsDesc = prometheus.NewDesc("drover_node_allocations",
		"Allocations by node name and client state; nodes beyond the first 1000 by name are summed under node \"_other\".",
		[]string{"node", "state"}, nil)
	deploymentsDesc = prometheus.NewDesc("drover_deployments",
		"Deployments by status.", []string{"status"}, nil)
)

type stateCollector struct{ view func() ClusterView }

// NewStateCollector returns a collector that computes the cluster
// gauges (sources, allocations, deployments) from view at every scrape,
// so they can never drift from the state store.
func NewStateCollector(view func() ClusterView) prometheus.Collector {
	return &stateCollector{view: view}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- syncStateDesc
	ch <- syncAppliedDesc
	ch <- allocsDesc
	ch <- nodeAllocsDesc
	ch <- deploymentsDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	v := c.view()
	for i, st := range v.Sync {
		if i == MaxSourceSeries {
			break
		}
		cur := SyncState(st)
		for _, s := range SyncStates {
			val := 0.0
			if s == cur {
				val = 1
			}
			ch <- prometheus.MustNewConstMetric(syncStateDesc, prometheus.GaugeValue, val, st.Source, s)
		}
		if !st.LastAppliedAt.IsZero() {
			ch <- prometheus.MustNewConstMetric(syncAppliedDesc, prometheus.GaugeValue,
				float64(st.LastAppliedAt.UnixNano())/1e9, st.Source)
		}
	}

	type jobKey struct{ ns, job, state string }
	type nodeKey struct{ node, state string }
	jobs := map[[2]string]bool{}
	nodes := map[string]bool{}
	for _, a := range v.Allocs {
		jobs[[2]string{a.Namespace, a.JobID}] = true
		nodes[nodeName(a)] = true
	}
	keptJobs := firstN(jobs, MaxJobSeries, func(a, b [2]string) int {
		if a[0] != b[0] {
			return strings.Compare(a[0], b[0])
		}
		return strings.Compare(a[1], b[1])
	})
	keptNodes := firstN(nodes, MaxNodeSeries, strings.Compare)
	byJob := map[jobKey]int{}
	byNode := map[nodeKey]int{}
	for _, a := range v.Allocs {
		k := jobKey{a.Namespace, a.JobID, a.ClientStatus}
		if !keptJobs[[2]string{a.Namespace, a.JobID}] {
			k.ns, k.job = OtherLabel, OtherLabel
		}
		byJob[k]++
		n := nodeName(a)
		if !keptNodes[n] {
			n = OtherLabel
		}
		byNode[nodeKey{n, a.ClientStatus}]++
	}
	for k, n := range byJob {
		ch <- prometheus.MustNewConstMetric(allocsDesc, prometheus.GaugeValue, float64(n), k.ns, k.job, k.state)
	}
	for k, n := range byNode {
		ch <- prometheus.MustNewConstMetric(nodeAllocsDesc, prometheus.GaugeValue, float64(n), k.node, k.state)
	}
	deps := map[string]int{}
	for _, d := range v.Deployments {
		deps[d.Status]++
	}
	for s, n := range deps {
		ch <- prometheus.MustNewConstMetric(deploymentsDesc, prometheus.GaugeValue, float64(n), s)
	}
}

// SyncState is the state drover_sync_state reports for a source.
func SyncState(st *cluster.SyncStatus) string {
	switch {
	case st == nil:
		return "unknown"
	case st.Error != "":
		return "error"
	case len(st.Commits) == 0:
		return "unknown"
	}
	o := st.Commits[0]
	switch o.Outcome {
	case cluster.CommitRejected:
		return "rejected"
	case cluster.CommitFailed:
		return "failed"
	case cluster.CommitRollingOut:
		return "rolling_out"
	case cluster.CommitApplied:
		if o.Health == cluster.HealthProgressing {
			return "progressing"
		}
		return "applied"
	}
	return "unknown"
}

func nodeName(a *cluster.Allocation) string {
	if a.NodeName != "" {
		return a.NodeName
	}
	return a.NodeID
}

// firstN returns the first n keys of set in cmp's order.
func firstN[K comparable](set map[K]bool, n int, cmp func(a, b K) int) map[K]bool {
	if len(set) <= n {
		return set
	}
	keys := make([]K, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp)
	out := make(map[K]bool, n)
	for _, k := range keys[:n] {
		out[k] = true
	}
	return out
}
