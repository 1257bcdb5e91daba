package cluster

import (
	"time"

	"github.com/droverhq/drover/jobspec"
)

// Desired statuses of an allocation: what the servers want.
const (
	AllocDesiredRun   = "run"
	AllocDesiredStop  = "stop"
	AllocDesiredEvict = "evict"
)

// Client statuses of an allocation: what its node reports.
const (
	AllocClientPending  = "pending"
	AllocClientRunning  = "running"
	AllocClientComplete = "complete"
	AllocClientFailed   = "failed"
	AllocClientLost     = "lost"
	// AllocClientUnknown: the allocation's node stopped heartbeating and
	// its group's disconnect.lost_after has not run out yet (Nomad's
	// "unknown"); it turns lost after, or back to what the node reports
	// when the node returns.
	AllocClientUnknown = "unknown"
)

// Allocation is one placed instance of a task group on a node.
type Allocation struct {
	ID         string `json:"id"`
	Namespace  string `json:"namespace"`
	JobID      string `json:"job_id"`
	JobVersion uint64 `json:"job_version"`
	TaskGroup  string `json:"task_group"`
	// Name is "<job>.<group>[<index>]"; the index is stable across
	// replacements so that count changes touch the highest indexes.
	Name     string `json:"name"`
	NodeID   string `json:"node_id"`
	NodeName string `json:"node_name"`
	EvalID   string `json:"eval_id"`

	DeploymentID string `json:"deployment_id,omitempty"`
	// DeploymentStatus is the allocation's health within its deployment.
	DeploymentStatus *AllocDeploymentStatus `json:"deployment_status,omitempty"`

	Resources AllocResources `json:"resources"`

	DesiredStatus      string                `json:"desired_status"`
	DesiredDescription string                `json:"desired_description,omitempty"`
	ClientStatus       string                `json:"client_status"`
	ClientDescription  string                `json:"client_description,omitempty"`
	TaskStates         map[string]*TaskState `json:"task_states,omitempty"`
	// CheckStatuses are the last results of the allocation's service
	// checks as its agent reports them (check_status.go); the catalog
	// takes each instance's health from them.
	CheckStatuses []CheckStatus `json:"check_statuses,omitempty"`

	// PreviousAllocation is the allocation this one replaces.
	PreviousAllocation string `json:"previous_allocation,omitempty"`
	NextAllocation     string `json:"next_allocation,omitempty"`
	// RescheduleEvents count earlier reschedules of this allocation's
	// lineage, which the reschedule policy limits.
	RescheduleEvents []RescheduleEvent `json:"reschedule_events,omitempty"`
	// Metrics explain how the scheduler chose the node.
	Metrics *AllocMetric `json:"metrics,omitempty"`
	// DisconnectedAt is when the servers last found the allocation's node
	// gone and marked the allocation unknown (its group has
	// disconnect.lost_after). It is stored so that a new leader knows when
	// it turns lost, and kept after the node returns, so that the scheduler
	// knows to reconcile it with its replacement (disconnect.reconcile).
	DisconnectedAt time.Time `json:"disconnected_at,omitzero"`

	CreateIndex uint64    `json:"create_index"`
	ModifyIndex uint64    `json:"modify_index"`
	CreateTime  time.Time `json:"create_time"`
	ModifyTime  time.Time `json:"modify_time"`
}

// Terminal reports whether the allocation is finished, or meant to be.
func (a *Allocation) Terminal() bool {
	switch a.DesiredStatus {
	case AllocDesiredStop, AllocDesiredEvict:
		return true
	}
	switch a.ClientStatus {
	case AllocClientComplete, AllocClientFailed, AllocClientLost:
		return true
	}
	return false
}

// AllocResources is what the scheduler set aside for an allocation.
type AllocResources struct {
	Tasks map[string]jobspec.Resources `json:"tasks"`
	Ports []AllocatedPort              `json:"ports,omitempty"`
	// DiskMB is the group's ephemeral disk.
	DiskMB int `json:"disk_mb,omitempty"`
}

// CPU is the allocation's total CPU in MHz.
func (r AllocResources) CPU() int {
	n := 0
	for _, t := range r.Tasks {
		n += t.CPU
	}
	return n
}

// MemoryMB is the allocation's total reserved memory.
func (r AllocResources) MemoryMB() int {
	n := 0
	for _, t := range r.Tasks {
		n += t.MemoryMB
	}
	return n
}

// AllocatedPort is a group port label bound to a host port.
type AllocatedPort struct {
	Label  string `json:"label"`
	Value  int    `json:"value"`
	To     int    `json:"to,omitempty"`
	HostIP string `json:"host_ip,omitempty"`
}

// AllocDeploymentStatus is an allocation's health as its deployment sees it.
type AllocDeploymentStatus struct {
	// Healthy is nil until health is known.
	Healthy   *bool     `json:"healthy,omitempty"`
	Canary    bool      `json:"canary,omitempty"`
	Timestamp time.Time `json:"timestamp"`
}

// Task states.
const (
	TaskStatePending = "pending"
	TaskStateRunning = "running"
	TaskStateDead    = "dead"
)

// TaskState is a task's state as its agent reports it.
type TaskState struct {
	State      string      `json:"state"`
	Failed     bool        `json:"failed,omitempty"`
	Restarts   int         `json:"restarts,omitempty"`
	StartedAt  time.Time   `json:"started_at"`
	FinishedAt time.Time   `json:"finished_at"`
	Events     []TaskEvent `json:"events,omitempty"`
}

// TaskEvent is one thing that happened to a task, in the agent's words.
type TaskEvent struct {
	Type     string    `json:"type"` // Received, Started, Terminated, Restarting, Killed, Driver Failure, ...
	Time     time.Time `json:"time"`
	Message  string    `json:"message,omitempty"`
	ExitCode int       `json:"exit_code,omitempty"`
	Signal   int       `json:"signal,omitempty"`
}

// RescheduleEvent records one reschedule of an allocation's lineage.
type RescheduleEvent struct {
	Time      time.Time     `json:"time"`
	PrevAlloc string        `json:"prev_alloc"`
	PrevNode  string        `json:"prev_node"`
	Delay     time.Duration `json:"delay"`
}
