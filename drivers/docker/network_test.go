package docker

import (
	"net/netip"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/droverhq/drover/drivers"
)

func TestContainerNetwork(t *testing.T) {
	ns := &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
		"bridge": {IPAddress: netip.MustParseAddr("172.17.0.5")},
		"mynet":  {IPAddress: netip.MustParseAddr("10.5.0.9")},
		"noip":   {},
	}}
	cfg := &drivers.TaskConfig{Ports: []drivers.Port{{Label: "http", HostPort: 23456, ContainerPort: 8080}, {Label: "db", HostPort: 25000}}}
	tests := []struct {
		mode      string
		wantIP    string
		advertise bool
	}{
		{"", "172.17.0.5", false},
		{"bridge", "172.17.0.5", false},
		{"default", "172.17.0.5", false},
		{"mynet", "10.5.0.9", true},
		{"host", "", false},
		{"none", "", false},
		{"container:abc", "", false},
		{"noip", "", false},
	}
	for _, tt := range tests {
		got := containerNetwork(tt.mode, ns, cfg)
		if tt.wantIP == "" {
			if got != nil {
				t.Errorf("mode %q: got %+v, want no network of its own", tt.mode, got)
			}
			continue
		}
		if got == nil || got.IP != tt.wantIP || got.AutoAdvertise != tt.advertise || got.PortMap["http"] != 8080 || got.PortMap["db"] != 25000 {
			t.Errorf("mode %q: got %+v, want IP %s advertise %v and ports http:8080 db:25000", tt.mode, got, tt.wantIP, tt.advertise)
		}
	}
}
