package jobspec

import "time"

// UpdateStrategy is how a service job's allocations are replaced when the
// job changes destructively: batches, canaries, health gates.
type UpdateStrategy struct {
	Stagger          time.Duration `json:"stagger"`
	MaxParallel      int           `json:"max_parallel"`
	HealthCheck      string        `json:"health_check"` // checks, task_states, manual
	MinHealthyTime   time.Duration `json:"min_healthy_time"`
	HealthyDeadline  time.Duration `json:"healthy_deadline"`
	ProgressDeadline time.Duration `json:"progress_deadline"`
	Canary           int           `json:"canary,omitempty"`
	AutoRevert       bool          `json:"auto_revert,omitempty"`
	AutoPromote      bool          `json:"auto_promote,omitempty"`
}

// Migrate is how allocations leave a draining node.
type Migrate struct {
	MaxParallel     int           `json:"max_parallel"`
	HealthCheck     string        `json:"health_check"`
	MinHealthyTime  time.Duration `json:"min_healthy_time"`
	HealthyDeadline time.Duration `json:"healthy_deadline"`
}

// RestartPolicy is how the agent restarts a failed task on the same node.
type RestartPolicy struct {
	Attempts        int           `json:"attempts"`
	Interval        time.Duration `json:"interval"`
	Delay           time.Duration `json:"delay"`
	Mode            string        `json:"mode"` // fail or delay
	RenderTemplates bool          `json:"render_templates,omitempty"`
}

// ReschedulePolicy is how the scheduler replaces a failed allocation on
// another node.
type ReschedulePolicy struct {
	Attempts      int           `json:"attempts"`
	Interval      time.Duration `json:"interval"`
	Delay         time.Duration `json:"delay"`
	DelayFunction string        `json:"delay_function"` // constant, exponential, fibonacci
	MaxDelay      time.Duration `json:"max_delay"`
	Unlimited     bool          `json:"unlimited"`
}
