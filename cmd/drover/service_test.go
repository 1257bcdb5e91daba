package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

func TestRenderServices(t *testing.T) {
	reg := &cluster.ServiceRegistration{
		ID: "_nomad-task-5e1f0a2b-group-api-api-http", ServiceName: "api", Namespace: "default",
		NodeID: "07d08edb-1111", AllocID: "5e1f0a2b-2222", JobID: "api", Datacenter: "dc1",
		Tags: []string{"v1", "http"}, Address: "10.0.0.5", Port: 23001, Status: cluster.ServiceHealthPassing,
		Meta: map[string]string{"team": "core"}, CreateIndex: 7, ModifyIndex: 9,
	}
	v6 := *reg
	v6.Address, v6.Tags = "fd00::5", nil
	cases := []struct {
		name   string
		render func(w *bytes.Buffer)
		want   []string
	}{
		{"list", func(w *bytes.Buffer) {
			renderServiceList(w, []*api.ServiceRegistrationListStub{{Namespace: "default", Services: []*api.ServiceRegistrationStub{{ServiceName: "api", Tags: []string{"http", "v1"}}}}})
		}, []string{"Service Name", "api", "default", "[http,v1]"}},
		{"empty list", func(w *bytes.Buffer) { renderServiceList(w, nil) }, []string{"No service registrations found"}},
		{"info", func(w *bytes.Buffer) { renderServiceInfo(w, "api", []*cluster.ServiceRegistration{reg, &v6}, false) },
			[]string{"10.0.0.5:23001", "[fd00::5]:23001", "[v1,http]", "07d08edb", "5e1f0a2b", "passing"}},
		{"verbose", func(w *bytes.Buffer) { renderServiceInfo(w, "api", []*cluster.ServiceRegistration{reg}, true) },
			[]string{reg.ID, "Meta[team]", "core", "Modify Index", "9", "dc1"}},
		{"none", func(w *bytes.Buffer) { renderServiceInfo(w, "api", nil, false) }, []string{`No healthy instances of service "api"`, "-all"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			c.render(&buf)
			for _, w := range c.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, buf.String())
				}
			}
		})
	}
}
