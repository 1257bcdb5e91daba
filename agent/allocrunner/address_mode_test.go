package allocrunner

import (
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
)

func TestResolveAddr(t *testing.T) {
	ports := []cluster.AllocatedPort{
		{Label: "http", Value: 23456, To: 8080},
		{Label: "db", Value: 25000},
		{Label: "pub", Value: 26000, To: 80, HostIP: "203.0.113.7"},
	}
	docker := &drivers.TaskNetwork{IP: "172.17.0.5", PortMap: map[string]int{"http": 8080, "db": 25000, "pub": 80}}
	userNet := &drivers.TaskNetwork{IP: "10.5.0.9", PortMap: map[string]int{"http": 8080}, AutoAdvertise: true}
	tests := []struct {
		name    string
		service bool // resolved as a service's address (default auto)
		mode    string
		port    string
		driver  *drivers.TaskNetwork
		want    string
		wantErr bool
	}{
		{"check default is host", false, "", "http", docker, "10.0.0.1:23456", false},
		{"host, port with host_network IP", false, "host", "pub", nil, "203.0.113.7:26000", false},
		{"host, numeric port", false, "host", "9999", docker, "10.0.0.1:9999", false},
		{"driver on docker bridge: container IP and to", false, "driver", "http", docker, "172.17.0.5:8080", false},
		{"driver without to: the same port inside", false, "driver", "db", docker, "172.17.0.5:25000", false},
		{"driver, numeric port used as written", false, "driver", "6379", docker, "172.17.0.5:6379", false},
		{"driver on exec (no own network): host", false, "driver", "http", nil, "10.0.0.1:23456", false},
		{"driver, label missing from the driver's map falls back to the allocation's to", false, "driver", "pub", &drivers.TaskNetwork{IP: "172.17.0.6"}, "172.17.0.6:80", false},
		{"alloc on the host network: host", false, "alloc", "http", docker, "10.0.0.1:23456", false},
		{"service default auto, default bridge: host", true, "", "http", docker, "10.0.0.1:23456", false},
		{"service auto, user-defined network: driver", true, "", "http", userNet, "10.5.0.9:8080", false},
		{"service auto, exec: host", true, "auto", "db", nil, "10.0.0.1:25000", false},
		{"check auto is unknown to checks but harmless", false, "auto", "db", nil, "10.0.0.1:25000", false},
		{"unknown port", false, "host", "nosuch", nil, "", true},
		{"unknown port, driver", false, "driver", "nosuch", docker, "", true},
		{"unknown mode", false, "ipv6", "http", nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := addrInput{Mode: tt.mode, Port: tt.port, HostIP: "10.0.0.1", Ports: ports, Driver: tt.driver}
			var got string
			var err error
			if tt.service {
				got, err = serviceAddr(in)
			} else {
				got, err = resolveAddr(in)
			}
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
