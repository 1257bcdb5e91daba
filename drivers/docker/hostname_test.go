package docker

import (
	"testing"

	"github.com/droverhq/drover/drivers"
)

func TestContainerHostname(t *testing.T) {
	tests := []struct {
		name    string
		config  map[string]any
		network string // the group network's hostname
		want    string
	}{
		{"neither: the daemon's default", map[string]any{"image": "busybox"}, "", ""},
		{"group network hostname", map[string]any{"image": "busybox"}, "web-0", "web-0"},
		{"the task's own config wins", map[string]any{"image": "busybox", "hostname": "mine"}, "web-0", "mine"},
		{"host network keeps it", map[string]any{"image": "busybox", "network_mode": "host"}, "web-0", "web-0"},
		{"shared namespace: none (the daemon refuses one)", map[string]any{"image": "busybox", "network_mode": "container:abc"}, "web-0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := containerHostname(tt.config, &drivers.TaskConfig{Hostname: tt.network}); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			// And through the whole spec.
			spec, err := buildSpec(Config{}, &drivers.TaskConfig{ID: "a/t", AllocID: "a", TaskName: "t", Dir: t.TempDir(), Config: tt.config, Hostname: tt.network})
			if err != nil {
				t.Fatal(err)
			}
			if spec.Config.Hostname != tt.want {
				t.Errorf("spec hostname %q, want %q", spec.Config.Hostname, tt.want)
			}
		})
	}
}
