package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/metrics"
	"github.com/droverhq/drover/scheduler"
)

// Metrics (package metrics) are served two ways:
//
//	GET /v1/metrics?format=prometheus   on the API, with agent:read
//	GET /metrics                        on telemetry's prometheus_listen
//	                                    (-metrics-addr), off by default
//
// Nomad serves /v1/metrics to any caller; here it needs agent:read, as
// GET /v1/agent/self does, since the series name jobs, nodes and
// sources. The separate listener has no token check at all, for
// scrapers that hold none: bind it to loopback or a network only the
// Prometheus server reaches.

// Metrics returns the server's metric set, for tests.
func (s *Server) Metrics() *metrics.Server { return s.metrics }

// newServerMetrics makes the server's metric set; the state and Raft
// gauges read s.raft at scrape time (set by then: nothing scrapes
// before New returns).
func newServerMetrics(s *Server) *metrics.Server {
	return metrics.NewServer(
		func() metrics.ClusterView {
			snap := s.raft.Store().Snapshot()
			return metrics.ClusterView{Allocs: snap.Allocs(), Deployments: snap.Deployments(), Sync: snap.SyncStatuses()}
		},
		func() metrics.RaftView {
			leader, _ := s.raft.LeaderWatch()
			return metrics.RaftView{
				CommitIndex: s.raft.CommitIndex(), AppliedIndex: s.raft.AppliedIndex(),
				LastIndex: s.raft.LastIndex(), Leader: leader,
			}
		},
	)
}

// metricsRoutes declares GET /v1/metrics.
func (s *Server) metricsRoutes(mux *router) {
	mux.handle("GET /v1/metrics", CapAgentRead, s.local(s.metricsGet))
}

// metricsGet is GET /v1/metrics?format=prometheus: this server's
// metrics, not the cluster's (each server is scraped on its own, as
// Nomad's are).
func (s *Server) metricsGet(w http.ResponseWriter, r *http.Request) error {
	if f := r.URL.Query().Get("format"); f != "prometheus" {
		return errorf(http.StatusBadRequest, "format %q is not supported: ask for GET /v1/metrics?format=prometheus", f)
	}
	s.metrics.Handler().ServeHTTP(w, r)
	return nil
}

// withMetrics counts every API request by its route pattern (bounded,
// unlike the path) and status code, and times it.
func (s *Server) withMetrics(rt *router, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &metricsWriter{statusRecorder{ResponseWriter: w}}
		defer func() {
			route := rt.pattern(r)
			if route == "" {
				route = "unmatched"
			}
			code := sw.status
			if code == 0 {
				code = http.StatusOK
			}
			s.metrics.HTTPRequest(route, r.Method, code, time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

// metricsWriter keeps the status for withMetrics and stays a Flusher:
// streaming handlers (blocking queries, event streams) may assert
// http.Flusher on the writer they get rather than use a
// ResponseController.
type metricsWriter struct{ statusRecorder }

var _ http.Flusher = (*metricsWriter)(nil)

func (w *metricsWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// countWebhook counts a webhook delivery the handler refused; the
// deliveries it answers are counted by webhookReply, by their status.
func (s *Server) countWebhook(h apiFunc) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		err := h(w, r)
		if err != nil {
			var he *httpError
			if errors.As(err, &he) && he.code == http.StatusUnauthorized {
				s.metrics.WebhookDelivery("unauthorized")
			} else {
				s.metrics.WebhookDelivery("invalid")
			}
		}
		return err
	}
}

// listenMetrics binds the separate metrics listener, if configured.
func (s *Server) listenMetrics() error {
	if s.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("metrics listener (telemetry prometheus_listen) on %s: %w", s.cfg.MetricsAddr, err)
	}
	s.metricsLn = ln
	return nil
}

// MetricsAddr returns the address of the separate metrics listener, ""
// when there is none.
func (s *Server) MetricsAddr() string {
	if s.metricsLn == nil {
		return ""
	}
	return s.metricsLn.Addr().String()
}

// runMetricsListener serves GET /metrics on the separate listener until
// ctx ends.
func (s *Server) runMetricsListener(ctx context.Context) {
	if s.metricsLn == nil {
		return
	}
	metrics.ServeListener(ctx, s.metricsLn, s.metrics.Handler(), s.logger)
}

// placedAllocs counts the new allocations of a plan: in-place updates
// are copies of stored allocations, which have a create index.
func placedAllocs(p *scheduler.Plan) int {
	n := 0
	for _, allocs := range p.NodeAllocation {
		for _, a := range allocs {
			if a.CreateIndex == 0 {
				n++
			}
		}
	}
	return n
}

// observeEval records one scheduler run.
func (s *Server) observeEval(eval *cluster.Evaluation, p *scheduler.Plan, took time.Duration, committed bool) {
	if s.metrics == nil || p == nil {
		return
	}
	placed := 0
	if committed {
		placed = placedAllocs(p)
	}
	s.metrics.SchedulerEval(string(eval.Type), took, placed, metrics.FailedPlacements(p.FailedTGAllocs))
}
