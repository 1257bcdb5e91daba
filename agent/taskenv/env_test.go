package taskenv

import (
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

func TestInterpolate(t *testing.T) {
	in := Input{
		Alloc: &cluster.Allocation{ID: "0123456789", Name: "web.g[3]", Resources: cluster.AllocResources{Ports: []cluster.AllocatedPort{{Label: "http", Value: 25000}}}},
		Job:   &jobspec.Job{Name: "web"},
		Task:  &jobspec.Task{Name: "t", Env: map[string]string{"URL": "http://${NOMAD_ADDR_http}/", "K": "${attr.kernel.name}-${meta.rack}-${node.unique.name}"}},
		Node:  &cluster.Node{Name: "n1", Attributes: map[string]string{"kernel.name": "linux"}, Meta: map[string]string{"rack": "r1"}},
		IP:    "10.0.0.5",
	}
	env := Build(in, map[string]string{"URL": "from-template"})
	cases := map[string]string{
		"DROVER_PORT_http":     "25000",
		"NOMAD_ADDR_http":      "10.0.0.5:25000",
		"DROVER_ALLOC_INDEX":   "3",
		"K":                    "linux-r1-n1",
		"URL":                  "from-template", // templates win
		"NOMAD_SHORT_ALLOC_ID": "01234567",
	}
	for k, want := range cases {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	r := NewResolver(in, env)
	if got := r.Interpolate("${NOMAD_PORT_http} ${nosuch.thing} ${unclosed"); got != "25000 ${nosuch.thing} ${unclosed" {
		t.Errorf("Interpolate = %q", got)
	}
	cfg := r.InterpolateAny(map[string]any{"args": []any{"--port", "${DROVER_PORT_http}"}}).(map[string]any)
	if cfg["args"].([]any)[1] != "25000" {
		t.Errorf("config = %v", cfg)
	}
}
