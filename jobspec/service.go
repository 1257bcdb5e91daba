package jobspec

import "time"

// Service names a port of a group or task and the checks that tell whether
// it is healthy.
type Service struct {
	Name       string   `json:"name"`
	Port       string   `json:"port,omitempty"` // a port label, or a number
	Tags       []string `json:"tags,omitempty"`
	CanaryTags []string `json:"canary_tags,omitempty"`
	Provider   string   `json:"provider,omitempty"`
	// Task is set on group-level services that name the task whose
	// environment script checks run in.
	Task   string            `json:"task,omitempty"`
	Meta   map[string]string `json:"meta,omitempty"`
	Checks []Check           `json:"checks,omitempty"`
	// AddressMode is which address is registered: auto (default), host,
	// alloc or driver.
	AddressMode string `json:"address_mode,omitempty"`
	// OnUpdate is require_healthy (default), ignore_warnings or ignore:
	// how the service's checks count for deployment health.
	OnUpdate string `json:"on_update,omitempty"`
}

// Check is one health check of a service.
type Check struct {
	Name          string              `json:"name,omitempty"`
	Type          string              `json:"type"` // http, tcp or script
	Path          string              `json:"path,omitempty"`
	Method        string              `json:"method,omitempty"`
	Protocol      string              `json:"protocol,omitempty"`
	Header        map[string][]string `json:"header,omitempty"`
	Port          string              `json:"port,omitempty"`
	Command       string              `json:"command,omitempty"`
	Args          []string            `json:"args,omitempty"`
	Task          string              `json:"task,omitempty"`
	Interval      time.Duration       `json:"interval"`
	Timeout       time.Duration       `json:"timeout"`
	InitialStatus string              `json:"initial_status,omitempty"`
	AddressMode   string              `json:"address_mode,omitempty"`
	OnUpdate      string              `json:"on_update,omitempty"`
	CheckRestart  *CheckRestart       `json:"check_restart,omitempty"`
}

// CheckRestart restarts a task whose check keeps failing.
type CheckRestart struct {
	Limit          int           `json:"limit"`
	Grace          time.Duration `json:"grace"`
	IgnoreWarnings bool          `json:"ignore_warnings,omitempty"`
}
