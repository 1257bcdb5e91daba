package jobspec

import "time"

// The types below are the parts of Nomad's job specification added for
// issue 15 (host volumes, disconnects, scaling, workload identities,
// actions, dispatch payloads, the job's UI block). Every field is
// omitempty so that a job written before them keeps its canonical form
// and hash.

// DefaultNodePool and AllNodePool are Nomad's two built-in node pools: a
// node or job that names none is in "default"; a job in "all" may run on
// any node.
const (
	DefaultNodePool = "default"
	AllNodePool     = "all"
)

// JobNodePool is the node pool a job runs in: its node_pool, or
// "default" when it names none.
func (j *Job) JobNodePool() string {
	if j == nil || j.NodePool == "" {
		return DefaultNodePool
	}
	return j.NodePool
}

// JobUI is the job's `ui` block: a description (Markdown in Nomad's UI)
// and links shown on the job's page.
type JobUI struct {
	Description string   `json:"description,omitempty"`
	Links       []UILink `json:"links,omitempty"`
}

// UILink is one `link { label url }` of a job's ui block.
type UILink struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// VolumeRequest is a group's `volume "name" { type source read_only }`.
// Only type "host" is supported: Source names a host_volume of the
// agent's configuration.
type VolumeRequest struct {
	Name     string `json:"name"`
	Type     string `json:"type"` // host
	Source   string `json:"source"`
	ReadOnly bool   `json:"read_only,omitempty"`
	// PerAlloc appends the allocation index to Source ("data[0]"), as
	// Nomad does.
	PerAlloc bool `json:"per_alloc,omitempty"`
	// Sticky asks that a replacement allocation get the same volume
	// (Nomad 1.10, for dynamic host volumes): with a static host volume,
	// placing the replacement on the same node.
	Sticky bool `json:"sticky,omitempty"`
}

// VolumeMount is a task's `volume_mount { volume destination read_only }`:
// the group's volume Volume mounted at Destination inside the task.
type VolumeMount struct {
	Volume          string `json:"volume"`
	Destination     string `json:"destination"`
	ReadOnly        bool   `json:"read_only,omitempty"`
	PropagationMode string `json:"propagation_mode,omitempty"`
}

// Scaling is a group's `scaling` block. Min and Max bound the group's
// count (a register or `drover job scale` outside them is refused);
// Policy is stored and shown for an external autoscaler.
type Scaling struct {
	Min     int            `json:"min"`
	Max     int            `json:"max"`
	Enabled bool           `json:"enabled"`
	Policy  map[string]any `json:"policy,omitempty"`
}

// Disconnect is a group's `disconnect` block, Nomad 1.8's form of
// max_client_disconnect, stop_after_client_disconnect and
// prevent_reschedule_on_lost (the old arguments are mapped onto it).
type Disconnect struct {
	// LostAfter: while a node is gone for less than this, its allocations
	// are "unknown" rather than "lost" (0: lost at once).
	LostAfter time.Duration `json:"lost_after,omitempty"`
	// StopOnClientAfter: the cut-off agent itself stops the tasks after
	// this long without reaching a server (0: never).
	StopOnClientAfter time.Duration `json:"stop_on_client_after,omitempty"`
	// Replace: whether the scheduler places a replacement while the
	// allocation is unknown (nil: true, Nomad's default).
	Replace *bool `json:"replace,omitempty"`
	// Reconcile: which allocation wins when the node returns:
	// best_score (default), keep_original, keep_replacement, longest_running.
	Reconcile string `json:"reconcile,omitempty"`
}

// DispatchPayload is a task's `dispatch_payload { file }`: where in the
// task's local/ directory a dispatched job's payload is written.
type DispatchPayload struct {
	File string `json:"file"`
}

// WorkloadIdentity is a task's `identity` block: a JWT signed by the
// servers, naming the allocation, job, group and task, given to the task
// as NOMAD_TOKEN (Env) and/or secrets/nomad_token (File). Name "default"
// is the task's default identity; others are NOMAD_TOKEN_<name> and
// secrets/nomad_<name>.jwt.
type WorkloadIdentity struct {
	Name         string        `json:"name"`
	Audience     []string      `json:"aud,omitempty"`
	Env          bool          `json:"env,omitempty"`
	File         bool          `json:"file,omitempty"`
	TTL          time.Duration `json:"ttl,omitempty"`
	ChangeMode   string        `json:"change_mode,omitempty"`
	ChangeSignal string        `json:"change_signal,omitempty"`
}

// Action is a task's `action "name" { command args }`: a command an
// operator runs inside the running task with `drover action`.
type Action struct {
	Name    string   `json:"name"`
	Command string   `json:"command"`
	Args    []string `json:"args,omitempty"`
}

// TemplateWait is a template's `wait { min max }`: how long the template
// waits for its data to settle before rendering.
type TemplateWait struct {
	Min time.Duration `json:"min,omitempty"`
	Max time.Duration `json:"max,omitempty"`
}

// ChangeScript is a template's `change_script` block, run inside the task
// when change_mode = "script".
type ChangeScript struct {
	Command     string        `json:"command"`
	Args        []string      `json:"args,omitempty"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	FailOnError bool          `json:"fail_on_error,omitempty"`
}
