package drivers

import (
	"context"
	"fmt"
	"strings"
)

// TaskNetwork is the network a driver gave a task of its own, apart from
// the node's (Nomad's drivers.DriverNetwork): a docker container on a
// bridge network has its own IP, and its ports are the `to` side of the
// group's port mappings. Service and check address_mode = "driver" use it.
type TaskNetwork struct {
	// IP is the task's own address, reachable from the node.
	IP string `json:"ip"`
	// PortMap maps a group port label to the port inside the task.
	PortMap map[string]int `json:"port_map,omitempty"`
	// AutoAdvertise: a service with address_mode = "auto" registers this
	// address rather than the node's (docker on a user-defined network).
	AutoAdvertise bool `json:"auto_advertise,omitempty"`
}

// Networker is an optional ability of a driver whose tasks can have a
// network of their own. A nil TaskNetwork with a nil error means the task
// shares the node's network (docker's network_mode = "host").
type Networker interface {
	TaskNetwork(ctx context.Context, h *TaskHandle) (*TaskNetwork, error)
}

// maxHostname is Linux's HOST_NAME_MAX.
const maxHostname = 64

// ValidHostname checks a task hostname: RFC 1123 labels (letters, digits,
// inner hyphens, at most 63 each) joined by dots, at most 64 bytes as
// sethostname(2) allows. The name comes from a job file, interpolated on
// the node; checking it here keeps odd bytes out of the kernel and the
// container's /etc/hosts.
func ValidHostname(h string) error {
	if h == "" || len(h) > maxHostname {
		return fmt.Errorf("hostname %q must be 1 to %d characters", h, maxHostname)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("hostname %q: each dot-separated part must be 1 to 63 letters, digits or inner hyphens", h)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("hostname %q: %q is not allowed (letters, digits, hyphens and dots only)", h, c)
			}
		}
	}
	return nil
}
