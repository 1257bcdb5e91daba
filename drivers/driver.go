// Package drivers defines how a client agent runs a task: the small Driver
// interface every runtime implements, the values that cross it, the
// optional abilities a driver may add, and the declared config Schema that
// lets `drover validate` check a task's config {} block without starting
// anything.
//
// A driver knows one runtime and nothing of the agent: it gets everything it
// needs in a TaskConfig, and gives back a TaskHandle whose State the agent
// persists and hands back to Recover after it restarts.
package drivers

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/droverhq/drover/jobspec"
)

// Driver runs tasks of one runtime.
//
// Wait blocks; callers that want a channel run it in a goroutine. It was
// chosen over returning a channel because a blocking call has one obvious
// answer to "what happens when ctx ends" (it returns ctx.Err()), may be
// called by any number of waiters, and composes with errgroup.
type Driver interface {
	// Name is the driver name jobs use in `driver = "..."`.
	Name() string
	// Fingerprint reports whether the driver can run tasks on this node
	// and what it enforces there. It never fails: problems are reported
	// as Detected=false or Healthy=false with a Description.
	Fingerprint(ctx context.Context) Fingerprint
	// ConfigSpec declares the attributes of the task's config {} block.
	ConfigSpec() Schema
	// Start runs the task and returns once it is running (or failed to).
	Start(ctx context.Context, cfg *TaskConfig) (*TaskHandle, error)
	// Wait blocks until the task exits and reports how. A task that
	// vanished without a recorded status reports ExitResult.Err.
	Wait(ctx context.Context, h *TaskHandle) (ExitResult, error)
	// Stop sends signal (empty: the task's KillSignal, then the driver's
	// default) to the whole task, then SIGKILL after timeout (zero: the
	// task's KillTimeout). It returns once the task has exited.
	Stop(ctx context.Context, h *TaskHandle, signal string, timeout time.Duration) error
	// Recover re-attaches to a task started by an earlier agent process,
	// from a handle whose State the agent persisted. A task that exited
	// meanwhile is recovered too; Wait then reports its recorded exit.
	Recover(ctx context.Context, h *TaskHandle) error
	// Destroy releases everything the driver holds for the task,
	// force-killing it if it still runs. The handle is unusable after.
	Destroy(ctx context.Context, h *TaskHandle) error
}

// Optional abilities. The agent checks for them with a type assertion, so a
// driver implements only what its runtime can do.
type (
	// Execer runs a command inside a running task's environment.
	Execer interface {
		Exec(ctx context.Context, h *TaskHandle, cmd []string) (ExecResult, error)
	}
	// StatsReporter reports a running task's resource usage.
	StatsReporter interface {
		Stats(ctx context.Context, h *TaskHandle) (*TaskStats, error)
	}
)

// ExecResult is the outcome of Execer.Exec.
type ExecResult struct {
	ExitCode int
	Stdout   []byte
	Stderr   []byte
}

// TaskStats is a point-in-time resource usage sample.
type TaskStats struct {
	Time          time.Time
	MemoryRSSByte uint64
	CPUUserTime   time.Duration
	CPUSystemTime time.Duration
}

// Fingerprint is what a driver found on this node.
type Fingerprint struct {
	Detected    bool
	Healthy     bool
	Description string
	// Attributes are node attributes for constraints and operators, named
	// "driver.<name>.<attribute>", e.g. "driver.exec.cgroups" = "v2".
	Attributes map[string]string
}

// TaskConfig is everything a driver needs to start one task. The agent
// fills it from the allocation and the task's jobspec; the driver must not
// look anything up in the agent.
type TaskConfig struct {
	// ID identifies the task on this node: the allocation ID and the task
	// name, e.g. "8f1c…/web". Unique across the node's live tasks.
	ID        string `json:"id"`
	AllocID   string `json:"alloc_id"`
	JobName   string `json:"job_name"`
	GroupName string `json:"group_name"`
	TaskName  string `json:"task_name"`

	// Config is the task's config {} block, already checked against the
	// driver's ConfigSpec by the caller or by Start.
	Config map[string]any `json:"config,omitempty"`
	// Env is the task's complete environment; drivers add nothing but
	// what they document.
	Env  map[string]string `json:"env,omitempty"`
	User string            `json:"user,omitempty"`

	// Dir is the task directory and the task's working directory.
	Dir        string `json:"dir"`
	AllocDir   string `json:"alloc_dir"`
	LocalDir   string `json:"local_dir"`
	SecretsDir string `json:"secrets_dir"`
	TmpDir     string `json:"tmp_dir"`
	// StateDir is where the driver keeps its own files for the task
	// (exit status, supervisor log). The agent creates it and keeps it
	// across agent restarts; empty means Dir.
	StateDir string `json:"state_dir,omitempty"`

	Resources jobspec.Resources `json:"resources"`
	Logs      LogConfig         `json:"logs"`
	// Ports are the group's network ports as allocated on this node.
	// Drivers that isolate the task's network (docker, qemu) map each
	// HostIP:HostPort to ContainerPort inside; others ignore them.
	Ports []Port `json:"ports,omitempty"`
	// Mounts are the task's volume_mounts, resolved by the agent to host
	// paths (host volumes). Drivers that cannot honour them refuse the
	// task rather than run it without its data.
	Mounts []Mount `json:"mounts,omitempty"`
	// Hostname is the group network's hostname, interpolated and checked
	// by the agent (ValidHostname). Drivers whose tasks have their own
	// UTS namespace (docker, isolated exec) set it; empty keeps the
	// driver's default.
	Hostname string `json:"hostname,omitempty"`

	KillSignal  string        `json:"kill_signal,omitempty"`
	KillTimeout time.Duration `json:"kill_timeout"`
}

// Port is one allocated port of the task's group: the host side the
// scheduler picked and the side inside the task it forwards to.
type Port struct {
	// Label is the port's label in the group's network block; task
	// configs name ports by it.
	Label string `json:"label"`
	// HostIP is the address to bind on the host; empty means all.
	HostIP   string `json:"host_ip,omitempty"`
	HostPort int    `json:"host_port"`
	// ContainerPort is the jobspec's `to`: the port inside the container
	// or VM. Zero means the same as HostPort.
	ContainerPort int `json:"container_port,omitempty"`
}

// Mount is one volume mounted into a task: the host path the agent
// resolved (an operator's host_volume, trusted) at TaskPath inside the
// task (the job's destination, not trusted: drivers join it onto the
// task's root only through securejoin).
type Mount struct {
	// Volume is the group's volume name, the 9p mount tag of qemu.
	Volume   string `json:"volume"`
	HostPath string `json:"host_path"`
	TaskPath string `json:"task_path"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// LogConfig says where a task's stdout and stderr go: rotated files
// <Dir>/<task>.stdout.N and <Dir>/<task>.stderr.N, at most MaxFiles of
// each, each at most MaxFileSizeMB.
type LogConfig struct {
	Dir           string `json:"dir"`
	MaxFiles      int    `json:"max_files"`
	MaxFileSizeMB int    `json:"max_file_size_mb"`
	Disabled      bool   `json:"disabled,omitempty"`
}

// TaskHandle is a started task. The agent persists it (as JSON) and passes
// it back to every other method, including Recover in a new agent process.
type TaskHandle struct {
	Driver    string      `json:"driver"`
	TaskID    string      `json:"task_id"`
	Config    *TaskConfig `json:"config"`
	StartedAt time.Time   `json:"started_at"`
	// State is private to the driver: whatever it needs to find the task
	// again after an agent restart (for exec: pids and start times).
	State json.RawMessage `json:"state"`
}

// ExitResult is how a task ended.
type ExitResult struct {
	ExitCode int
	// Signal is the signal that killed the task, 0 if it exited.
	Signal    int
	OOMKilled bool
	// Err is set when the exit could not be observed, e.g. the task
	// vanished while nothing was watching it.
	Err error
}

// Successful reports whether the task exited on its own with status 0.
func (r ExitResult) Successful() bool {
	return r.ExitCode == 0 && r.Signal == 0 && !r.OOMKilled && r.Err == nil
}

// Errors callers branch on.
var (
	// ErrTaskNotFound: the handle is not known to this driver instance;
	// Recover it first.
	ErrTaskNotFound = errors.New("task not found")
	// ErrExitUnknown: the task is gone and nothing recorded how it ended.
	ErrExitUnknown = errors.New("task exit status unknown")
	// ErrInvalidConfig wraps config {} problems found by Start.
	ErrInvalidConfig = errors.New("invalid driver config")
)
