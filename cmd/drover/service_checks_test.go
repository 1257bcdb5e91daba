package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
)

func TestServiceInfoVerboseShowsChecks(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	reg := &cluster.ServiceRegistration{ID: "_nomad-task-a1-group-web-api-http", ServiceName: "api", Address: "10.0.0.1", Port: 8080,
		Status: cluster.ServiceHealthCritical, Checks: []cluster.CheckStatus{
			{Name: "alive", Service: "api", Status: "critical", Output: "HTTP 404\nnot found", Timestamp: ts},
			{Name: "ready", Service: "api", Status: "passing", Timestamp: ts},
		}}
	var b bytes.Buffer
	renderServiceInfo(&b, "api", []*cluster.ServiceRegistration{reg}, true)
	out := b.String()
	for _, want := range []string{"Checks", "alive", "critical", "HTTP 404 not found", "ready", "2026-01-02T03:04:05Z"} {
		if !strings.Contains(out, want) {
			t.Errorf("verbose output lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	renderServiceInfo(&b, "api", []*cluster.ServiceRegistration{reg}, false)
	if strings.Contains(b.String(), "alive") {
		t.Errorf("non-verbose output lists checks:\n%s", b.String())
	}
}
