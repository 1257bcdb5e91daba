package metrics_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/metrics"
	"github.com/droverhq/drover/metrics/metricstest"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSyncState(t *testing.T) {
	outcome := func(o, health string) *cluster.SyncStatus {
		return &cluster.SyncStatus{Source: "s", Commits: []cluster.CommitOutcome{{Commit: "a", Outcome: o, Health: health}}}
	}
	for _, tc := range []struct {
		name string
		st   *cluster.SyncStatus
		want string
	}{
		{"nil", nil, "unknown"},
		{"nothing recorded", &cluster.SyncStatus{Source: "s"}, "unknown"},
		{"pass error wins", &cluster.SyncStatus{Source: "s", Error: "remote unreachable", Commits: outcome("applied", "").Commits}, "error"},
		{"applied healthy", outcome(cluster.CommitApplied, cluster.HealthHealthy), "applied"},
		{"applied untracked", outcome(cluster.CommitApplied, ""), "applied"},
		{"applied progressing", outcome(cluster.CommitApplied, cluster.HealthProgressing), "progressing"},
		{"rolling out in waves", outcome(cluster.CommitRollingOut, ""), "rolling_out"},
		{"rejected", outcome(cluster.CommitRejected, ""), "rejected"},
		{"failed", outcome(cluster.CommitFailed, ""), "failed"},
		{"an outcome this version does not know", outcome("someday", ""), "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := metrics.SyncState(tc.st); got != tc.want {
				t.Fatalf("SyncState = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFailureReason(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    cluster.AllocMetric
		want string
	}{
		{"no nodes at all", cluster.AllocMetric{}, metrics.ReasonNoNodes},
		{"constraint filtered most", cluster.AllocMetric{NodesEvaluated: 3, NodesFiltered: 3, ConstraintFiltered: map[string]int{"${attr.kernel.name} = windows": 3}}, metrics.ReasonConstraint},
		{"class filtered", cluster.AllocMetric{NodesEvaluated: 2, NodesFiltered: 2, ClassFiltered: map[string]int{"gpu": 2}}, metrics.ReasonNodeClass},
		{"exhausted", cluster.AllocMetric{NodesEvaluated: 2, NodesExhausted: 2, DimensionExhausted: map[string]int{"memory": 2}}, metrics.ReasonExhausted},
		{"more filtered than exhausted", cluster.AllocMetric{NodesEvaluated: 5, NodesFiltered: 4, NodesExhausted: 1, ConstraintFiltered: map[string]int{"x": 4}}, metrics.ReasonConstraint},
		{"filtered without detail", cluster.AllocMetric{NodesEvaluated: 2, NodesFiltered: 2}, metrics.ReasonConstraint},
		{"evaluated, nothing said", cluster.AllocMetric{NodesEvaluated: 2}, metrics.ReasonOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := metrics.FailureReason(&tc.m); got != tc.want {
				t.Fatalf("FailureReason = %q, want %q", got, tc.want)
			}
		})
	}
	got := metrics.FailedPlacements(map[string]*cluster.AllocMetric{
		"web": {NodesEvaluated: 1, NodesExhausted: 1, CoalescedFailures: 4},
		"db":  {},
		"nil": nil,
	})
	if got[metrics.ReasonExhausted] != 5 || got[metrics.ReasonNoNodes] != 1 || len(got) != 2 {
		t.Fatalf("FailedPlacements = %v, want 5 resources_exhausted (1 + 4 coalesced) and 1 no_nodes", got)
	}
}

// TestNilSetsRecordNothing: components built without metrics hold nil
// sets, and every recording method must be safe on them.
func TestNilSetsRecordNothing(t *testing.T) {
	var s *metrics.Server
	s.ReconcileStep("src", metrics.StepFetch, time.Second)
	s.ReconcilePass("src", "", time.Second)
	s.CommitOutcome("src", metrics.OutcomeApplied)
	s.RaftApply("JobRegister", time.Millisecond)
	s.FSMApply("JobRegister", time.Millisecond)
	s.LeaderChanged()
	s.SchedulerEval("service", time.Millisecond, 1, map[string]int{"no_nodes": 1})
	s.WebhookDelivery("accepted")
	s.HTTPRequest("GET /v1/jobs", "GET", 200, time.Millisecond)
	var a *metrics.Agent
	a.TaskRestarted("exec")
	a.DriverStarted("exec", time.Millisecond, errors.New("no such command"))
}

func TestCommitCountersCountOnlyCommitOutcomes(t *testing.T) {
	s := metrics.NewServer(nil, nil)
	s.CommitOutcome("apps", metrics.OutcomeApplied)
	s.CommitOutcome("apps", metrics.OutcomeRejected)
	s.CommitOutcome("apps", metrics.OutcomeRejected)
	s.CommitOutcome("apps", "rolling_out") // not a final outcome: not counted
	s.CommitOutcome("infra", metrics.OutcomeFailed)
	want := `
# HELP drover_sync_commits_rejected_total Commits rejected as invalid (nothing of them applied), by source.
# TYPE drover_sync_commits_rejected_total counter
drover_sync_commits_rejected_total{source="apps"} 2
`
	if err := testutil.GatherAndCompare(s.Registry(), strings.NewReader(want), "drover_sync_commits_rejected_total"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"drover_sync_commits_applied_total": 1, "drover_sync_commits_failed_total": 1} {
		if n, err := testutil.GatherAndCount(s.Registry(), name); err != nil || float64(n) != want {
			t.Fatalf("%s: %d series (%v), want %v", name, n, err, want)
		}
	}
}

// TestStateCollectorBoundsCardinality: beyond MaxJobSeries jobs and
// MaxNodeSeries nodes the rest is summed under "_other", and nothing is
// lost from the totals.
func TestStateCollectorBoundsCardinality(t *testing.T) {
	const jobs = metrics.MaxJobSeries + 50
	var allocs []*cluster.Allocation
	for i := range jobs {
		for n := range 2 {
			allocs = append(allocs, &cluster.Allocation{
				ID: fmt.Sprintf("a-%d-%d", i, n), Namespace: "default", JobID: fmt.Sprintf("job-%04d", i),
				NodeName: fmt.Sprintf("node-%04d", (i*2+n)%(metrics.MaxNodeSeries+7)), ClientStatus: cluster.AllocClientRunning,
			})
		}
	}
	view := metrics.ClusterView{
		Allocs:      allocs,
		Deployments: []*cluster.Deployment{{ID: "d1", Status: "running"}, {ID: "d2", Status: "successful"}, {ID: "d3", Status: "successful"}},
		Sync: []*cluster.SyncStatus{{Source: "apps", LastAppliedAt: time.Unix(1700000000, 0),
			Commits: []cluster.CommitOutcome{{Commit: "abc", Outcome: cluster.CommitApplied, Health: cluster.HealthHealthy}}}},
	}
	s := metrics.NewServer(func() metrics.ClusterView { return view }, nil)
	n, err := testutil.GatherAndCount(s.Registry(), "drover_allocations")
	if err != nil {
		t.Fatal(err)
	}
	if n != metrics.MaxJobSeries+1 {
		t.Fatalf("%d drover_allocations series, want %d (the cap plus _other)", n, metrics.MaxJobSeries+1)
	}
	if n, _ := testutil.GatherAndCount(s.Registry(), "drover_node_allocations"); n != metrics.MaxNodeSeries+1 {
		t.Fatalf("%d drover_node_allocations series, want %d", n, metrics.MaxNodeSeries+1)
	}
	mfs, err := s.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	total, other := 0.0, 0.0
	for _, mf := range mfs {
		if mf.GetName() != "drover_allocations" {
			continue
		}
		for _, m := range mf.GetMetric() {
			total += m.GetGauge().GetValue()
			for _, l := range m.GetLabel() {
				if l.GetName() == "job" && l.GetValue() == metrics.OtherLabel {
					other += m.GetGauge().GetValue()
				}
			}
		}
	}
	if total != float64(len(allocs)) || other != 100 {
		t.Fatalf("allocations: total %v (want %d), _other %v (want 100: 50 jobs of 2)", total, len(allocs), other)
	}
	want := `
# HELP drover_deployments Deployments by status.
# TYPE drover_deployments gauge
drover_deployments{status="running"} 1
drover_deployments{status="successful"} 2
# HELP drover_sync_last_applied_timestamp_seconds When the source's last applied commit was applied, in Unix seconds.
# TYPE drover_sync_last_applied_timestamp_seconds gauge
drover_sync_last_applied_timestamp_seconds{source="apps"} 1.7e+09
`
	if err := testutil.GatherAndCompare(s.Registry(), strings.NewReader(want), "drover_deployments", "drover_sync_last_applied_timestamp_seconds"); err != nil {
		t.Fatal(err)
	}
	if got := gaugeOf(t, s, "drover_sync_state", map[string]string{"source": "apps", "state": "applied"}); got != 1 {
		t.Fatalf("sync state applied = %v, want 1", got)
	}
}

// gaugeOf returns the value of one series of a scrape of s.
func gaugeOf(t *testing.T, s *metrics.Server, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok, err := metricstest.Value(scrape(t, s.Handler()), name, labels)
	if err != nil || !ok {
		t.Fatalf("no series %s%v (%v)", name, labels, err)
	}
	return v
}

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// TestPromtoolChecksEveryMetric fills every metric of both sets and runs
// `promtool check metrics` on the scrape: names, units, help texts.
func TestPromtoolChecksEveryMetric(t *testing.T) {
	s := metrics.NewServer(func() metrics.ClusterView {
		return metrics.ClusterView{
			Allocs:      []*cluster.Allocation{{Namespace: "default", JobID: "web", NodeName: "n1", ClientStatus: "running"}},
			Deployments: []*cluster.Deployment{{Status: "running"}},
			Sync:        []*cluster.SyncStatus{{Source: "apps", LastAppliedAt: time.Now(), Commits: []cluster.CommitOutcome{{Outcome: "applied"}}}},
		}
	}, func() metrics.RaftView {
		return metrics.RaftView{CommitIndex: 10, AppliedIndex: 10, LastIndex: 10, Leader: true}
	})
	s.ReconcileStep("apps", metrics.StepFetch, time.Millisecond)
	s.ReconcilePass("apps", "applied", time.Millisecond)
	s.CommitOutcome("apps", metrics.OutcomeApplied)
	s.CommitOutcome("apps", metrics.OutcomeRejected)
	s.CommitOutcome("apps", metrics.OutcomeFailed)
	s.RaftApply("JobRegister", time.Millisecond)
	s.FSMApply("JobRegister", time.Millisecond)
	s.LeaderChanged()
	s.SchedulerEval("service", time.Millisecond, 2, map[string]int{"no_nodes": 1})
	s.WebhookDelivery("accepted")
	s.HTTPRequest("GET /v1/jobs", "GET", 200, time.Millisecond)
	a := metrics.NewAgent(func() []metrics.TaskView {
		return []metrics.TaskView{{AllocID: "a1", Namespace: "default", Job: "web", Task: "srv", Driver: "exec", State: "running",
			Usage: &metrics.TaskUsage{MemoryRSSBytes: 1 << 20, CPUUser: time.Second, CPUSystem: time.Second}}}
	})
	a.TaskRestarted("exec")
	a.DriverStarted("exec", time.Millisecond, nil)
	for name, body := range map[string]string{"server": scrape(t, s.Handler()), "agent": scrape(t, a.Handler())} {
		t.Run(name, func(t *testing.T) { metricstest.PromtoolCheck(t, body) })
	}
}
