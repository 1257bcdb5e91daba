package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/droverhq/drover/metrics/metricstest"
	"github.com/droverhq/drover/server"
)

func TestParseConfigFileTelemetry(t *testing.T) {
	cfg := server.DefaultConfig()
	if cfg.MetricsAddr != "" {
		t.Fatalf("the metrics listener is on by default: %q", cfg.MetricsAddr)
	}
	src := "telemetry {\n  prometheus_listen = \"127.0.0.1:9464\"\n}\n"
	if err := server.ParseConfigFile(&cfg, "server.hcl", []byte(src)); err != nil {
		t.Fatal(err)
	}
	if cfg.MetricsAddr != "127.0.0.1:9464" {
		t.Fatalf("MetricsAddr = %q", cfg.MetricsAddr)
	}
	if err := server.ParseConfigFile(&cfg, "server.hcl", []byte("telemetry {\n  prometheus_lisen = \"x\"\n}\n")); err == nil {
		t.Fatal("a misspelt telemetry argument was accepted")
	}
}

// metricValue scrapes the server's registry and returns one series'
// value (summed over series that match labels; 0 when none does).
func metricValue(t testing.TB, s *server.Server, name string, labels map[string]string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	v, _, err := metricstest.Value(rec.Body.String(), name, labels)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
