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
	// CheckRestart applies to each of the service's checks; a check's
	// own block overrides what it sets (EffectiveCheckRestart).
	CheckRestart *CheckRestart `json:"check_restart,omitempty"`
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

// EffectiveCheckRestart is the check_restart that governs check c of
// service s, by Nomad's rule: the service's block, with what the check's
// own block sets (a positive limit, a grace, ignore_warnings) winning.
// Nil means the check restarts nothing.
func EffectiveCheckRestart(s *Service, c *Check) *CheckRestart {
	var svc *CheckRestart
	if s != nil {
		svc = s.CheckRestart
	}
	switch {
	case svc == nil:
		return c.CheckRestart
	case c.CheckRestart == nil:
		out := *svc
		return &out
	}
	out := *svc
	if c.CheckRestart.Limit > 0 {
		out.Limit = c.CheckRestart.Limit
	}
	if c.CheckRestart.Grace > 0 {
		out.Grace = c.CheckRestart.Grace
	}
	if c.CheckRestart.IgnoreWarnings {
		out.IgnoreWarnings = true
	}
	return &out
}

// CheckRestart restarts a task whose check keeps failing.
type CheckRestart struct {
	Limit          int           `json:"limit"`
	Grace          time.Duration `json:"grace"`
	IgnoreWarnings bool          `json:"ignore_warnings,omitempty"`
}
