package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reconcile steps, the values of the step label.
const (
	StepFetch  = "fetch"
	StepLoad   = "load"
	StepDecide = "decide"
	StepSubmit = "submit"
	StepTrack  = "track"
)

// Server is the metric set of one Drover server.
type Server struct {
	registry

	reconcileStep *prometheus.HistogramVec
	reconcilePass *prometheus.HistogramVec
	commits       map[string]*prometheus.CounterVec // by outcome

	raftApply     *prometheus.HistogramVec
	fsmApply      *prometheus.HistogramVec
	leaderChanges prometheus.Counter

	schedEval     *prometheus.HistogramVec
	placements    *prometheus.CounterVec
	failedPlace   *prometheus.CounterVec
	webhooks      *prometheus.CounterVec
	httpRequests  *prometheus.CounterVec
	httpDurations *prometheus.HistogramVec
}

// Commit outcomes counted by CommitOutcome.
const (
	OutcomeApplied  = "applied"
	OutcomeRejected = "rejected"
	OutcomeFailed   = "failed"
)

// NewServer returns a server's metric set on a registry of its own.
// view and raft, when not nil, are read at every scrape for the state
// gauges (NewStateCollector) and the Raft indexes.
func NewServer(view func() ClusterView, raft func() RaftView) *Server {
	s := &Server{registry: newRegistry(), commits: map[string]*prometheus.CounterVec{}}
	s.reconcileStep = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "drover_reconcile_step_duration_seconds",
		Help:    "Time a reconcile pass spent in each step (fetch, load, decide, submit, track), by source.",
		Buckets: durationBuckets,
	}, []string{"source", "step"})
	s.reconcilePass = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "drover_reconcile_pass_duration_seconds",
		Help:    "Time of a whole reconcile pass, by source and outcome.",
		Buckets: durationBuckets,
	}, []string{"source", "outcome"})
	for _, o := range []struct{ outcome, help string }{
		{OutcomeApplied, "Commits whose jobs were submitted, by source."},
		{OutcomeRejected, "Commits rejected as invalid (nothing of them applied), by source."},
		{OutcomeFailed, "Applied commits whose rollout failed, by source."},
	} {
		s.commits[o.outcome] = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_sync_commits_" + o.outcome + "_total",
			Help: o.help,
		}, []string{"source"})
	}
	s.raftApply = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "drover_raft_apply_duration_seconds",
		Help:    "Time from handing a command to Raft until it was committed and applied on this server, by command type.",
		Buckets: durationBuckets,
	}, []string{"type"})
	s.fsmApply = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "drover_fsm_apply_duration_seconds",
		Help:    "Time the state machine took to apply one command, by command type.",
		Buckets: durationBuckets,
	}, []string{"type"})
	s.leaderChanges = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "drover_raft_leader_changes_total",
		Help: "Times this server became or stopped being the Raft leader.",
	})
	s.schedEval = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "drover_scheduler_evaluation_duration_seconds",
		Help:    "Time the scheduler took to compute one evaluation's plan, by job type.",
		Buckets: durationBuckets,
	}, []string{"type"})
	s.placements = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drover_scheduler_placements_total",
		Help: "Allocations the scheduler placed in plans the leader committed, by job type.",
	}, []string{"type"})
	s.failedPlace = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drover_scheduler_failed_placements_total",
		Help: "Allocations the scheduler could not place, by main reason (constraint, node_class, resources_exhausted, no_nodes, other).",
	}, []string{"reason"})
	s.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drover_webhook_deliveries_total",
		Help: "Webhook deliveries received, by result (accepted, ignored, duplicate, pong, preview, unauthorized, invalid).",
	}, []string{"result"})
	s.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drover_http_requests_total",
		Help: "HTTP API requests, by route pattern, method and status code.",
	}, []string{"route", "method", "code"})
	s.httpDurations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "drover_http_request_duration_seconds",
		Help:    "HTTP API request latency, by route pattern and method (blocking queries included: they last up to their wait).",
		Buckets: durationBuckets,
	}, []string{"route", "method"})

	s.reg.MustRegister(s.reconcileStep, s.reconcilePass, s.raftApply, s.fsmApply, s.leaderChanges,
		s.schedEval, s.placements, s.failedPlace, s.webhooks, s.httpRequests, s.httpDurations)
	for _, c := range s.commits {
		s.reg.MustRegister(c)
	}
	if view != nil {
		s.reg.MustRegister(NewStateCollector(view))
	}
	if raft != nil {
		s.reg.MustRegister(&raftCollector{view: raft})
	}
	return s
}

// ReconcileStep records the time a pass of source spent in step.
func (s *Server) ReconcileStep(source, step string, d time.Duration) {
	if s == nil {
		return
	}
	s.reconcileStep.WithLabelValues(source, step).Observe(seconds(d))
}

// ReconcilePass records a whole pass by its outcome ("error" when it
// did not complete).
func (s *Server) ReconcilePass(source, outcome string, d time.Duration) {
	if s == nil {
		return
	}
	if outcome == "" {
		outcome = "error"
	}
	s.reconcilePass.WithLabelValues(source, outcome).Observe(seconds(d))
}

// CommitOutcome counts a commit of source that was applied, rejected or
// failed; other outcomes are not counted.
func (s *Server) CommitOutcome(source, outcome string) {
	if s == nil {
		return
	}
	if c, ok := s.commits[outcome]; ok {
		c.WithLabelValues(source).Inc()
	}
}

// RaftApply records the round trip of one command through Raft.
func (s *Server) RaftApply(typ string, d time.Duration) {
	if s == nil {
		return
	}
	s.raftApply.WithLabelValues(typ).Observe(seconds(d))
}

// FSMApply records the state machine's time on one command.
func (s *Server) FSMApply(typ string, d time.Duration) {
	if s == nil {
		return
	}
	s.fsmApply.WithLabelValues(typ).Observe(seconds(d))
}

// LeaderChanged counts a change of this server's leadership.
func (s *Server) LeaderChanged() {
	if s == nil {
		return
	}
	s.leaderChanges.Inc()
}

// SchedulerEval records one evaluation's scheduling: its duration, the
// allocations placed, and the allocations that could not be placed by
// reason (Placement.Reason).
func (s *Server) SchedulerEval(jobType string, d time.Duration, placed int, failed map[string]int) {
	if s == nil {
		return
	}
	if jobType == "" {
		jobType = "unknown"
	}
	s.schedEval.WithLabelValues(jobType).Observe(seconds(d))
	if placed > 0 {
		s.placements.WithLabelValues(jobType).Add(float64(placed))
	}
	for reason, n := range failed {
		s.failedPlace.WithLabelValues(reason).Add(float64(n))
	}
}

// WebhookDelivery counts one webhook delivery by its result.
func (s *Server) WebhookDelivery(result string) {
	if s == nil {
		return
	}
	s.webhooks.WithLabelValues(result).Inc()
}

// HTTPRequest records one API request. route must be the registered
// pattern (bounded), never the request's path.
func (s *Server) HTTPRequest(route, method string, code int, d time.Duration) {
	if s == nil {
		return
	}
	s.httpRequests.WithLabelValues(route, method, statusCode(code)).Inc()
	s.httpDurations.WithLabelValues(route, method).Observe(seconds(d))
}

// statusCode renders a status code label.
func statusCode(code int) string {
	if code < 100 || code > 999 {
		return "unknown"
	}
	return strconv.Itoa(code)
}

// RaftView is what the Raft gauges read at scrape time.
type RaftView struct {
	CommitIndex  uint64
	AppliedIndex uint64
	LastIndex    uint64
	Leader       bool
}

type raftCollector struct{ view func() RaftView }

var (
	raftCommitDesc  = prometheus.NewDesc("drover_raft_commit_index", "The index of the last Raft log entry this server knows committed.", nil, nil)
	raftAppliedDesc = prometheus.NewDesc("drover_raft_applied_index", "The index of the last Raft log entry applied to this server's state.", nil, nil)
	raftLastDesc    = prometheus.NewDesc("drover_raft_last_index", "The index of the last entry in this server's Raft log.", nil, nil)
	raftLeaderDesc  = prometheus.NewDesc("drover_raft_leader", "1 while this server is the Raft leader, else 0.", nil, nil)
)

func (c *raftCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- raftCommitDesc
	ch <- raftAppliedDesc
	ch <- raftLastDesc
	ch <- raftLeaderDesc
}

func (c *raftCollector) Collect(ch chan<- prometheus.Metric) {
	v := c.view()
	ch <- prometheus.MustNewConstMetric(raftCommitDesc, prometheus.GaugeValue, float64(v.CommitIndex))
	ch <- prometheus.MustNewConstMetric(raftAppliedDesc, prometheus.GaugeValue, float64(v.AppliedIndex))
	ch <- prometheus.MustNewConstMetric(raftLastDesc, prometheus.GaugeValue, float64(v.LastIndex))
	leader := 0.0
	if v.Leader {
		leader = 1
	}
	ch <- prometheus.MustNewConstMetric(raftLeaderDesc, prometheus.GaugeValue, leader)
}
