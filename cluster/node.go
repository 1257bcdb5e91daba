package cluster

import "time"

// NodeStatus is a node's liveness as the servers see it.
type NodeStatus string

// Node statuses, as in Nomad.
const (
	NodeStatusInit  NodeStatus = "initializing"
	NodeStatusReady NodeStatus = "ready"
	NodeStatusDown  NodeStatus = "down"
)

// Scheduling eligibility of a node.
const (
	NodeEligible   = "eligible"
	NodeIneligible = "ineligible"
)

// Default dynamic port range, as in Nomad.
const (
	DefaultMinDynamicPort = 20000
	DefaultMaxDynamicPort = 32000
)

// Node is a client agent's machine: what it is (attributes, meta, drivers)
// and what it has (resources).
type Node struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Datacenter string `json:"datacenter"`
	NodeClass  string `json:"node_class,omitempty"`
	// Attributes are fingerprinted facts, addressed in constraints as
	// ${attr.<key>}: "kernel.name", "os.name", "cpu.arch",
	// "unique.hostname", "driver.exec", ...
	Attributes map[string]string `json:"attributes,omitempty"`
	// Meta is operator-set metadata, addressed as ${meta.<key>}.
	Meta map[string]string `json:"meta,omitempty"`

	Resources NodeResources `json:"resources"`
	// Reserved is held back for the host itself and never scheduled.
	Reserved NodeResources `json:"reserved"`
	// ReservedPorts are host ports the scheduler must never hand out.
	ReservedPorts  []int                 `json:"reserved_ports,omitempty"`
	MinDynamicPort int                   `json:"min_dynamic_port"`
	MaxDynamicPort int                   `json:"max_dynamic_port"`
	Drivers        map[string]DriverInfo `json:"drivers,omitempty"`

	HTTPAddr string `json:"http_addr,omitempty"`

	Status                NodeStatus `json:"status"`
	StatusDescription     string     `json:"status_description,omitempty"`
	StatusUpdatedAt       time.Time  `json:"status_updated_at"`
	SchedulingEligibility string     `json:"scheduling_eligibility"`
	Drain                 bool       `json:"drain,omitempty"`

	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
}

// NodeResources is a node's capacity. CPU is total MHz over all cores.
type NodeResources struct {
	CPU      int `json:"cpu"`
	Cores    int `json:"cores,omitempty"`
	MemoryMB int `json:"memory_mb"`
	DiskMB   int `json:"disk_mb,omitempty"`
}

// DriverInfo is what a node's fingerprint says of one task driver.
type DriverInfo struct {
	Detected    bool              `json:"detected"`
	Healthy     bool              `json:"healthy"`
	Description string            `json:"description,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
}

// Ready reports whether the scheduler may place new work on the node.
func (n *Node) Ready() bool {
	return n.Status == NodeStatusReady && n.SchedulingEligibility != NodeIneligible && !n.Drain
}

// Copy returns a deep copy, for writers that must not touch a record that
// readers of an older snapshot may still hold.
func (n *Node) Copy() *Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Attributes = copyMap(n.Attributes)
	c.Meta = copyMap(n.Meta)
	c.ReservedPorts = append([]int(nil), n.ReservedPorts...)
	if n.Drivers != nil {
		c.Drivers = make(map[string]DriverInfo, len(n.Drivers))
		for k, v := range n.Drivers {
			v.Attributes = copyMap(v.Attributes)
			c.Drivers[k] = v
		}
	}
	return &c
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
