package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/droverhq/drover/agent/allocrunner"
	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/metrics"
)

// The agent's metrics (package metrics) are served as the servers' are:
//
//	GET /v1/metrics?format=prometheus   on the agent's API
//	GET /metrics                        on telemetry's prometheus_listen
//	                                    (-metrics-addr), off by default,
//	                                    with no token check
//
// On the API the caller needs what a server's GET /v1/agent/self needs
// (agent:read): the agent's own token when it has one; else, over HTTPS,
// a client certificate of the cluster CA and a token the servers accept
// for agent:read.

// statsTimeout bounds the driver stats calls of one scrape.
const statsTimeout = 5 * time.Second

// Metrics returns the agent's metric set, for tests.
func (a *Agent) Metrics() *metrics.Agent { return a.metrics }

// taskViews is read at every scrape: each allocation's tasks with their
// state, and the resource use of the running ones whose driver reports
// it (exec and raw_exec: the task's cgroup, or /proc without one;
// docker: the Engine's stats API; qemu: the QEMU process, through its
// exec runner).
func (a *Agent) taskViews() []metrics.TaskView {
	// A Prometheus collector is handed no context; the driver calls of
	// one scrape are bounded here instead.
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	a.mu.Lock()
	rs := make([]*allocrunner.Runner, 0, len(a.runners))
	for _, r := range a.runners {
		rs = append(rs, r)
	}
	a.mu.Unlock()
	var out []metrics.TaskView
	for _, r := range rs {
		ns, job := "", ""
		if al := r.Alloc(); al != nil {
			ns, job = al.Namespace, al.JobID
		}
		for _, s := range r.TaskSamples(ctx) {
			v := metrics.TaskView{AllocID: r.ID(), Namespace: ns, Job: job, Task: s.Task, Driver: s.Driver, State: s.State}
			if s.Stats != nil {
				v.Usage = &metrics.TaskUsage{MemoryRSSBytes: s.Stats.MemoryRSSByte, CPUUser: s.Stats.CPUUserTime, CPUSystem: s.Stats.CPUSystemTime}
			}
			out = append(out, v)
		}
	}
	return out
}

// metricsGet is GET /v1/metrics?format=prometheus.
func (a *Agent) metricsGet(w http.ResponseWriter, r *http.Request) {
	if f := r.URL.Query().Get("format"); f != "prometheus" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("format %q is not supported: ask for GET /v1/metrics?format=prometheus", f))
		return
	}
	if code, msg := a.authorizeMetrics(r); code != 0 {
		writeError(w, code, msg)
		return
	}
	a.metrics.Handler().ServeHTTP(w, r)
}

// authorizeMetrics decides, for an agent without an API token of its own
// (withAuth checked that one), whether the caller may read the metrics,
// as authorizeLogs does for logs: over HTTPS only with a client
// certificate of the cluster CA, and always with a token the servers
// accept for agent:read (GET /v1/agent/self). It returns 0 when the
// request may go on.
func (a *Agent) authorizeMetrics(r *http.Request) (int, string) {
	if a.cfg.Token != "" || !a.usesTLS() {
		return 0, "" // withAuth checked the agent's own token, or none is needed (loopback, ACLs off)
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) == 0 {
		return http.StatusUnauthorized, "this agent's API requires a client certificate of the cluster CA over HTTPS: set DROVER_CACERT, DROVER_CLIENT_CERT and DROVER_CLIENT_KEY ('drover tls cert create -cli')"
	}
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if token == "" {
		token = r.Header.Get("X-Nomad-Token")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	c := a.servers.client()
	_, err := c.WithToken(token).Agent().Self(ctx)
	var se *api.StatusError
	switch {
	case err == nil:
		return 0, ""
	case errors.As(err, &se) && (se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden):
		return se.Code, "the servers refused: " + se.Message + " (metrics need agent:read)"
	default:
		a.servers.failed(c, err)
		return http.StatusBadGateway, "could not ask the servers whether this token may read metrics: " + err.Error()
	}
}

// listenMetrics binds the separate metrics listener, if configured.
func (a *Agent) listenMetrics() error {
	if a.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("agent: metrics listener (telemetry prometheus_listen) on %s: %w", a.cfg.MetricsAddr, err)
	}
	a.metricsLn = ln
	return nil
}

// MetricsAddr returns the address of the separate metrics listener, ""
// when there is none.
func (a *Agent) MetricsAddr() string {
	if a.metricsLn == nil {
		return ""
	}
	return a.metricsLn.Addr().String()
}

// runMetricsListener serves GET /metrics on the separate listener until
// ctx ends.
func (a *Agent) runMetricsListener(ctx context.Context) {
	if a.metricsLn == nil {
		return
	}
	metrics.ServeListener(ctx, a.metricsLn, a.metrics.Handler(), a.log)
}
