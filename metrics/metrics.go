// Package metrics owns every Prometheus metric Drover exports: their
// names, labels and buckets, and one registry per process (a server's or
// an agent's). Nothing here is global: a *Server or *Agent set is made
// by its process and handed to the components that record into it, so
// two servers in one test process never share a counter.
//
// Every recording method is nil-safe: a component built without metrics
// (a unit test, the CLI's local plan) holds a nil *Server and records
// nothing.
//
// Names follow Prometheus' conventions: the drover_ prefix, base units
// (_seconds, _bytes), _total on counters. Labels are bounded: HTTP
// routes are the registered pattern, never the raw path; job and node
// labels of the state gauges are capped (MaxJobSeries, MaxNodeSeries)
// with the rest summed under the label value "_other".
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// OtherLabel is the label value that series beyond a cardinality cap
// are summed under.
const OtherLabel = "_other"

// durationBuckets are for operations from a millisecond to a minute:
// Raft applies, reconcile steps, HTTP requests.
var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// registry is what both sets share: a registry with the Go runtime and
// process collectors.
type registry struct {
	reg *prometheus.Registry
}

func newRegistry() registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return registry{reg: reg}
}

// Registry returns the set's registry, for tests and for gathering.
func (r registry) Registry() *prometheus.Registry { return r.reg }

// Handler serves the registry in Prometheus' text format (or
// OpenMetrics, when the scraper asks for it).
func (r registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		// A failing collector must not hide every other series.
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

func seconds(d time.Duration) float64 { return d.Seconds() }

// newListenerServer returns the HTTP server of a separate metrics
// listener (telemetry prometheus_listen): GET /metrics and nothing else,
// with no token check, for scrapers that hold none.
// ServeListener serves a separate metrics listener (NewListenerServer)
// on ln until ctx ends, then shuts it down; servers and agents both run
// one. A nil ln serves nothing.
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) {
	if ln == nil {
		return
	}
	srv := newListenerServer(h, log)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("metrics listener stopped", "err", err)
	}
	<-stopped
}

func newListenerServer(h http.Handler, log *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}
