package jobspec

import "time"

// Task is one process, container or virtual machine of a group.
type Task struct {
	Name   string `json:"name"`
	Driver string `json:"driver"`
	User   string `json:"user,omitempty"`
	// Config is the driver's opaque configuration as plain JSON values
	// (string, float64, bool, []any, map[string]any). Nested blocks become
	// a list of objects under the block's name.
	Config map[string]any    `json:"config,omitempty"`
	Env    map[string]string `json:"env,omitempty"`
	Meta   map[string]string `json:"meta,omitempty"`

	Resources Resources `json:"resources"`
	Services  []Service `json:"services,omitempty"`
	// Restart is the effective policy: per-type defaults, then the group's
	// restart block, then the task's.
	Restart *RestartPolicy `json:"restart"`

	KillTimeout   time.Duration `json:"kill_timeout"`
	KillSignal    string        `json:"kill_signal,omitempty"`
	ShutdownDelay time.Duration `json:"shutdown_delay,omitempty"`
	Leader        bool          `json:"leader,omitempty"`

	Lifecycle *Lifecycle `json:"lifecycle,omitempty"`
	Templates []Template `json:"templates,omitempty"`
	Logs      Logs       `json:"logs"`

	Constraints []Constraint `json:"constraints,omitempty"`
	Affinities  []Affinity   `json:"affinities,omitempty"`

	VolumeMounts    []VolumeMount      `json:"volume_mounts,omitempty"`
	DispatchPayload *DispatchPayload   `json:"dispatch_payload,omitempty"`
	MaxRunDuration  time.Duration      `json:"max_run_duration,omitempty"`
	Identities      []WorkloadIdentity `json:"identities,omitempty"`
	Actions         []Action           `json:"actions,omitempty"`
}

// MemoryUnlimited as Resources.MemoryMaxMB (memory_max = -1) lifts the
// task's hard memory limit, as in Nomad; MemoryMB stays its reservation.
const MemoryUnlimited = -1

// Resources a task asks for. CPU is in MHz, memory in MB.
type Resources struct {
	CPU         int `json:"cpu"`
	Cores       int `json:"cores,omitempty"`
	MemoryMB    int `json:"memory_mb"`
	MemoryMaxMB int `json:"memory_max_mb,omitempty"`
}

// Lifecycle makes a task a hook that runs around the main tasks.
type Lifecycle struct {
	Hook    string `json:"hook"` // prestart, poststart or poststop
	Sidecar bool   `json:"sidecar,omitempty"`
}

// Template is a file the agent renders into the task directory before the
// task starts. With Env set, the rendered KEY=value lines become task
// environment instead.
type Template struct {
	Data         string `json:"data,omitempty"`
	Source       string `json:"source,omitempty"`
	Destination  string `json:"destination"`
	Env          bool   `json:"env,omitempty"`
	ChangeMode   string `json:"change_mode"` // restart (default), signal, noop
	ChangeSignal string `json:"change_signal,omitempty"`
	Perms        string `json:"perms"`
	LeftDelim    string `json:"left_delimiter"`
	RightDelim   string `json:"right_delimiter"`

	Splay             time.Duration `json:"splay,omitempty"`
	Wait              *TemplateWait `json:"wait,omitempty"`
	UID               *int          `json:"uid,omitempty"`
	GID               *int          `json:"gid,omitempty"`
	Once              bool          `json:"once,omitempty"`
	ErrorOnMissingKey bool          `json:"error_on_missing_key,omitempty"`
	ChangeScript      *ChangeScript `json:"change_script,omitempty"`
}

// Logs bounds a task's rotated log files.
type Logs struct {
	MaxFiles      int  `json:"max_files"`
	MaxFileSizeMB int  `json:"max_file_size_mb"`
	Disabled      bool `json:"disabled,omitempty"`
}
