package jobspec

import "time"

// Group is a set of tasks that are placed together on one node, Count
// times.
type Group struct {
	Name  string            `json:"name"`
	Count int               `json:"count"`
	Meta  map[string]string `json:"meta,omitempty"`

	Constraints []Constraint `json:"constraints,omitempty"`
	Affinities  []Affinity   `json:"affinities,omitempty"`
	Spreads     []Spread     `json:"spreads,omitempty"`

	// Update is the effective update strategy: Nomad's defaults, then the
	// job's update block, then the group's. Nil for job types that have no
	// deployments (batch, sysbatch).
	Update  *UpdateStrategy `json:"update,omitempty"`
	Migrate *Migrate        `json:"migrate,omitempty"`
	// Rollout orders destructive updates across nodes; nil keeps the
	// scheduler's order (by allocation index).
	Rollout *Rollout `json:"rollout,omitempty"`
	// Reschedule is the effective policy: per-type defaults, then job,
	// then group. Nil for system and sysbatch jobs.
	Reschedule *ReschedulePolicy `json:"reschedule,omitempty"`

	// Networks holds at most one network, as in Nomad.
	Networks      []Network      `json:"networks,omitempty"`
	Services      []Service      `json:"services,omitempty"`
	EphemeralDisk *EphemeralDisk `json:"ephemeral_disk,omitempty"`

	// Volumes are the group's volume blocks by name (host volumes).
	Volumes map[string]*VolumeRequest `json:"volumes,omitempty"`
	// Scaling bounds Count (see Scaling).
	Scaling *Scaling `json:"scaling,omitempty"`
	// Disconnect says what happens to allocations on a node that stops
	// heartbeating (max_client_disconnect and friends are mapped here).
	Disconnect *Disconnect `json:"disconnect,omitempty"`
	// MaxRunDuration: a batch/sysbatch allocation is killed after running
	// this long (0: no limit). A task's own max_run_duration overrides it.
	MaxRunDuration time.Duration `json:"max_run_duration,omitempty"`

	Tasks []*Task `json:"tasks"`
}

// Task returns the task with the given name, or nil.
func (g *Group) Task(name string) *Task {
	for _, t := range g.Tasks {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Network is a group's network: its mode and the ports it asks for.
type Network struct {
	Mode  string `json:"mode"` // host (default) or bridge
	Ports []Port `json:"ports,omitempty"`
	// Hostname is the allocation's hostname inside its network namespace
	// (bridge mode).
	Hostname string `json:"hostname,omitempty"`
}

// Port is one labelled port. Static 0 means a dynamic port picked by the
// scheduler from the node's range. To is the port inside the task
// (container or VM) that the host port maps to; 0 means the same port.
type Port struct {
	Label       string `json:"label"`
	Static      int    `json:"static,omitempty"`
	To          int    `json:"to,omitempty"`
	HostNetwork string `json:"host_network,omitempty"`
}

// EphemeralDisk is the scratch space of an allocation.
type EphemeralDisk struct {
	SizeMB  int  `json:"size_mb"`
	Sticky  bool `json:"sticky,omitempty"`
	Migrate bool `json:"migrate,omitempty"`
}
