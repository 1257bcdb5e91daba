package allocrunner

import (
	"testing"

	"github.com/droverhq/drover/agent/taskenv"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

func TestTaskHostname(t *testing.T) {
	env := map[string]string{"NOMAD_ALLOC_INDEX": "2", "NOMAD_ALLOC_ID": "8f1c2d3e-aaaa-bbbb-cccc-0123456789ab", "NOMAD_JOB_NAME": "web"}
	r := taskenv.NewResolver(taskenv.Input{Node: &cluster.Node{Name: "node1", Meta: map[string]string{"rack": "r7"}}}, env)
	tests := []struct {
		name     string
		networks []jobspec.Network
		want     string
		wantErr  bool
	}{
		{"no network", nil, "", false},
		{"no hostname", []jobspec.Network{{Mode: "bridge"}}, "", false},
		{"literal", []jobspec.Network{{Mode: "bridge", Hostname: "cache"}}, "cache", false},
		{"interpolated per allocation", []jobspec.Network{{Mode: "bridge", Hostname: "${NOMAD_JOB_NAME}-${NOMAD_ALLOC_INDEX}.${meta.rack}"}}, "web-2.r7", false},
		{"the allocation ID", []jobspec.Network{{Hostname: "${NOMAD_ALLOC_ID}"}}, "8f1c2d3e-aaaa-bbbb-cccc-0123456789ab", false},
		{"unresolved reference", []jobspec.Network{{Hostname: "${NOMAD_NOPE}"}}, "", true},
		{"not a hostname", []jobspec.Network{{Hostname: "a_b"}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := taskHostname(&jobspec.Group{Name: "g", Networks: tt.networks}, r)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
