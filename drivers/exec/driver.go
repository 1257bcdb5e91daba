// Package exec is the exec driver: it runs a task's command isolated the
// way Nomad's exec driver does (namespaces, a chroot of read-only bind
// mounts, the nobody user, no_new_privs; see Isolation), with rotated logs
// and its memory and CPU limits enforced in cgroup v2 or v1. Tasks survive
// agent restarts: each runs under a small supervisor process, the shim
// (see ShimMain).
//
// Without Isolation the same driver runs tasks as plain host processes:
// that is the raw_exec driver (package rawexec) and the process runner
// of the qemu driver.
package exec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/droverhq/drover/drivers"
)

// Name is the driver's name in job files.
const Name = "exec"

const (
	defaultKillTimeout = 5 * time.Second
	defaultLogMaxFiles = 10
	defaultLogMaxMB    = 10
	// defaultKillSignal is what Stop sends first when neither the caller
	// nor the task names a signal. SIGINT, as in Nomad, so a task run by
	// hand and under Drover shuts down the same way.
	defaultKillSignal = syscall.SIGINT
	statusFile        = "exec-status.json"
	shimLogFile       = "exec-shim.log"
)

var _ drivers.Driver = (*Driver)(nil)

// Config configures the driver for a node.
type Config struct {
	// Name is the driver's name in job files and task handles: Name
	// ("exec") unless a driver built on this one (raw_exec) says so.
	Name string
	// Isolation confines tasks; nil runs them as host processes.
	Isolation *Isolation
	// ShimCommand runs ShimMain: the program and its leading arguments.
	// Empty means this executable with ShimArg. Tests point it at the test
	// binary.
	ShimCommand []string
	// ShimEnv is the shim's own environment (never the task's).
	ShimEnv []string
	// CgroupRoot is the cgroup v2 mount; CgroupParent the cgroup under it
	// that holds Drover's tasks.
	CgroupRoot   string
	CgroupParent string
	Logger       *slog.Logger
}

// DefaultConfig is the configuration an agent uses: isolated tasks.
func DefaultConfig() Config {
	return Config{Name: Name, Isolation: DefaultIsolation(), CgroupRoot: "/sys/fs/cgroup", CgroupParent: "drover"}
}

// Validate reports the first problem of c.
func (c Config) Validate() error {
	if c.Isolation != nil {
		if err := c.Isolation.validate(); err != nil {
			return err
		}
	}
	if c.CgroupRoot == "" || c.CgroupParent == "" {
		return errors.New("exec driver: CgroupRoot and CgroupParent are required")
	}
	if strings.Contains(c.CgroupParent, "..") {
		return fmt.Errorf("exec driver: CgroupParent %q must stay under CgroupRoot", c.CgroupParent)
	}
	return nil
}

// Driver is the exec driver. Create it with New; its zero value is not
// usable.
type Driver struct {
	cfg Config
	log *slog.Logger

	cgOnce sync.Once
	cg     cgroupSupport

	tasks *drivers.TaskTable[*task]
	wg    sync.WaitGroup // watchers
}

// handleState is TaskHandle.State for exec: enough to find and verify both
// processes after an agent restart. A pid alone could have been recycled,
// so each comes with its start time from /proc/<pid>/stat.
type handleState struct {
	PID           int    `json:"pid"`
	StartTime     uint64 `json:"start_time"`
	ShimPID       int    `json:"shim_pid"`
	ShimStartTime uint64 `json:"shim_start_time"`
	StatusPath    string `json:"status_path"`
	ShimLogPath   string `json:"shim_log_path"`
	Cgroup        string `json:"cgroup,omitempty"`
	// CgroupV1 are the task's cgroup v1 directories.
	CgroupV1 []string `json:"cgroup_v1,omitempty"`
}

// New returns an exec driver. It touches nothing on the host until
// Fingerprint or Start.
func New(cfg Config) (*Driver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = Name
	}
	if len(cfg.ShimCommand) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("exec driver: find own executable for the shim: %w", err)
		}
		cfg.ShimCommand = []string{exe, ShimArg}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Driver{cfg: cfg, log: log.With("driver", cfg.Name), tasks: drivers.NewTaskTable[*task](cfg.Name)}, nil
}

// Name implements drivers.Driver.
func (d *Driver) Name() string { return d.cfg.Name }

// ConfigSpec implements drivers.Driver.
func (d *Driver) ConfigSpec() drivers.Schema {
	if d.cfg.Isolation == nil {
		return BaseConfigSpec() // raw_exec: no namespaces to choose
	}
	return ConfigSpec()
}

// ConfigSpec is the schema of the exec driver's task config, available
// without a driver so that `drover validate` needs no node.
func ConfigSpec() drivers.Schema {
	return append(BaseConfigSpec(),
		// Nomad's exec takes pid_mode and ipc_mode = "private" | "host".
		// Drover's isolation always starts the shim as pid 1 of new PID
		// and IPC namespaces and mounts a /proc of its own; sharing the
		// host's would undo the isolation the chroot relies on and need
		// a second code path, so "private" (the default) is accepted and
		// "host" refused with the way out: raw_exec, which the operator
		// must enable, runs host processes.
		drivers.Attribute{Name: "pid_mode", Type: drivers.TypeString, Values: []string{"private"}, ValuesHint: namespaceHint,
			Description: "private (the default): the task has its own PID namespace. host is refused."},
		drivers.Attribute{Name: "ipc_mode", Type: drivers.TypeString, Values: []string{"private"}, ValuesHint: namespaceHint,
			Description: "private (the default): the task has its own IPC namespace. host is refused."},
	)
}

const namespaceHint = `Drover's exec always isolates a task's processes; use the raw_exec driver (which the operator must enable) for a task that must share the host's`

// BaseConfigSpec is what exec and raw_exec share: the command and its
// arguments.
func BaseConfigSpec() drivers.Schema {
	return drivers.Schema{
		{Name: "command", Type: drivers.TypeString, Required: true,
			Description: "Program to run: a path (relative to the task directory) or a name looked up in the task's PATH."},
		{Name: "args", Type: drivers.TypeListString,
			Description: "Arguments, passed as they are (no shell)."},
	}
}

// cgroups probes once per driver: the answer does not change while the
// agent runs, and probing creates the parent cgroup.
func (d *Driver) cgroups() cgroupSupport {
	d.cgOnce.Do(func() {
		d.cg = probeCgroups(d.cfg.CgroupRoot, d.cfg.CgroupParent)
		if !d.cg.enabled {
			d.log.Warn("resource limits not enforced", "reason", d.cg.reason)
		}
	})
	return d.cg
}

// Fingerprint implements drivers.Driver.
func (d *Driver) Fingerprint(ctx context.Context) drivers.Fingerprint {
	if runtime.GOOS != "linux" {
		return drivers.Fingerprint{Description: "exec needs Linux"}
	}
	root := os.Geteuid() == 0
	a := "driver." + d.cfg.Name + "."
	attrs := map[string]string{
		a + "cgroups":         "none",
		a + "limits_enforced": "false",
		a + "user_switching":  strconv.FormatBool(root),
		a + "isolation":       "none",
	}
	cg := d.cgroups()
	what := "runs tasks as host processes"
	if iso := d.cfg.Isolation; iso != nil {
		what = "runs tasks isolated (mount, PID, IPC and UTS namespaces, a chroot of read-only host paths, no_new_privs) as " + iso.DefaultUser + " by default"
		attrs[a+"isolation"] = "chroot"
		attrs[a+"default_user"] = iso.DefaultUser
		attrs[a+"user.denylist"] = strings.Join(iso.UserDenylist, ",")
		if !root {
			attrs[a+"isolation_reason"] = "the agent does not run as root"
			return drivers.Fingerprint{Detected: true, Description: "isolated exec needs the agent to run as root", Attributes: attrs}
		}
	}
	desc := what + "; resource limits are not enforced: " + cg.reason
	if cg.enabled {
		attrs[a+"cgroups"] = "v" + strconv.Itoa(cg.version)
		attrs[a+"limits_enforced"] = "true"
		where := cg.parent
		if cg.version == 1 {
			where = cg.v1Parents[v1Memory] + ", " + cg.v1Parents[v1CPU]
		}
		desc = what + " in cgroup v" + strconv.Itoa(cg.version) + " (" + where + ")"
	} else {
		attrs[a+"limits_reason"] = cg.reason
	}
	if !root {
		desc += "; not root, so tasks run as the agent's user"
	}
	return drivers.Fingerprint{Detected: true, Healthy: true, Description: desc, Attributes: attrs}
}
