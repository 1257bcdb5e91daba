// Package docker is the docker driver: it runs a task as a container of the
// node's Docker Engine, through the Engine API. Job files use Nomad's
// config names, so Nomad docker jobs run unchanged.
//
// Every container carries the labels drover.alloc_id, drover.task and
// drover.job (and drover.node_id when the driver has one), which is how a
// restarted agent tells its containers from everyone else's: Recover
// re-attaches by the container ID kept in the handle's State, and
// RemoveOrphans removes the containers a crash left behind. Container
// output is streamed into the task's rotated log files, the same files the
// exec driver writes, so `drover alloc logs` reads every driver alike.
package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/droverhq/drover/drivers"
)

// Name is the driver's name in job files.
const Name = "docker"

// Labels set on every container the driver creates.
const (
	LabelAllocID = "drover.alloc_id"
	LabelTask    = "drover.task"
	LabelJob     = "drover.job"
	LabelNodeID  = "drover.node_id"
	labelPrefix  = "drover."
)

var _ drivers.Driver = (*Driver)(nil)

// Config configures the driver for a node.
type Config struct {
	// Host is the daemon's address, e.g. unix:///var/run/docker.sock.
	// Empty means DOCKER_HOST, then the platform default.
	Host string
	// AllowPrivileged lets tasks set privileged = true.
	AllowPrivileged bool
	// AllowVolumes lets tasks bind host paths outside their allocation
	// directory and use named volumes (Nomad's volumes.enabled).
	AllowVolumes bool
	// AllowedCaps are the capabilities cap_add may name; "ALL" allows
	// any. DefaultConfig sets Docker's default set, as Nomad does.
	AllowedCaps []string
	// DockerConfigPath is the docker CLI config.json whose "auths" give
	// registry credentials when a task has no auth block. Empty means
	// $DOCKER_CONFIG/config.json, then ~/.docker/config.json.
	DockerConfigPath string
	// NodeID, when set, labels containers with drover.node_id and limits
	// RemoveOrphans to this node's containers, so agents sharing one
	// daemon leave each other's containers alone.
	NodeID string
	// PullTimeout bounds one image pull; zero means 5 minutes.
	PullTimeout time.Duration
	// Events receives task events a caller should show the user (an
	// image pull and its progress). Nil drops them.
	Events func(taskID, message string)
	Logger *slog.Logger
}

// DefaultConfig is the configuration an agent uses.
func DefaultConfig() Config {
	return Config{AllowedCaps: defaultCaps(), PullTimeout: 5 * time.Minute}
}

// defaultCaps is Docker's default capability set, what cap_add may
// re-add after a cap_drop unless the node allows more.
func defaultCaps() []string {
	return []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
		"NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
}

// Validate reports the first problem of c.
func (c Config) Validate() error {
	if c.PullTimeout < 0 {
		return fmt.Errorf("docker driver: PullTimeout %v is negative", c.PullTimeout)
	}
	if strings.ContainsAny(c.NodeID, "\n\x00") {
		return errors.New("docker driver: NodeID holds a newline or NUL")
	}
	return nil
}

// Driver is the docker driver. Create it with New; its zero value is not
// usable.
type Driver struct {
	cfg Config
	log *slog.Logger
	api *client.Client

	wg    sync.WaitGroup // every task's watcher and log streamer
	tasks *drivers.TaskTable[*task]
}

// New returns a docker driver. It does not contact the daemon: that
// happens at Fingerprint or Start, so a node without Docker can still
// build a driver to read its schema.
func New(cfg Config) (*Driver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.PullTimeout == 0 {
		cfg.PullTimeout = 5 * time.Minute
	}
	opts := []client.Opt{client.FromEnv}
	if cfg.Host != "" {
		opts = append(opts, client.WithHost(cfg.Host))
	}
	// The client negotiates the API version on first use (it used to
	// take WithAPIVersionNegotiation), so a 20.10 daemon (API 1.41) and
	// a current one both work.
	api, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker driver: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Driver{cfg: cfg, log: log.With("driver", Name), api: api, tasks: drivers.NewTaskTable[*task](Name)}, nil
}

// Name implements drivers.Driver.
func (d *Driver) Name() string { return Name }

// Close stops watching containers and streaming their logs without
// touching them, as an agent that shuts down must: the containers run on
// and a new driver Recovers them. It waits for its goroutines.
func (d *Driver) Close() error {
	for _, t := range d.tasks.Clear() {
		t.abandon()
	}
	d.wg.Wait()
	return d.api.Close()
}

// Fingerprint implements drivers.Driver: the daemon must answer, speak an
// API this client supports, and run Linux containers with a runtime.
func (d *Driver) Fingerprint(ctx context.Context) drivers.Fingerprint {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := d.api.Ping(ctx, client.PingOptions{}); err != nil {
		return drivers.Fingerprint{Description: "docker daemon is not reachable: " + err.Error()}
	}
	fp := drivers.Fingerprint{Detected: true, Attributes: map[string]string{
		"driver.docker.privileged.enabled": fmt.Sprint(d.cfg.AllowPrivileged),
		"driver.docker.volumes.enabled":    fmt.Sprint(d.cfg.AllowVolumes),
	}}
	v, err := d.api.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		fp.Description = "docker daemon answered ping but not version: " + err.Error()
		return fp
	}
	fp.Attributes["driver.docker.version"] = v.Version
	fp.Attributes["driver.docker.api_version"] = v.APIVersion
	fp.Attributes["driver.docker.os"] = v.Os
	info, err := d.api.Info(ctx, client.InfoOptions{})
	if err != nil {
		fp.Description = "docker daemon answered version but not info: " + err.Error()
		return fp
	}
	var runtimes []string
	for name := range info.Info.Runtimes {
		runtimes = append(runtimes, name)
	}
	slices.Sort(runtimes)
	fp.Attributes["driver.docker.runtimes"] = strings.Join(runtimes, ",")
	fp.Attributes["driver.docker.default_runtime"] = info.Info.DefaultRuntime
	fp.Attributes["driver.docker.cgroup_driver"] = info.Info.CgroupDriver
	switch {
	case info.Info.OSType != "linux":
		fp.Description = fmt.Sprintf("docker %s runs %q containers; only linux is supported", v.Version, info.Info.OSType)
	case info.Info.DefaultRuntime == "" || len(runtimes) == 0:
		fp.Description = fmt.Sprintf("docker %s has no container runtime", v.Version)
	default:
		fp.Healthy = true
		fp.Description = fmt.Sprintf("docker %s (API %s, runtime %s, %d images)", v.Version, v.APIVersion, info.Info.DefaultRuntime, info.Info.Images)
	}
	return fp
}

func (d *Driver) emit(taskID, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.log.Info(msg, "task", taskID)
	if d.cfg.Events != nil {
		d.cfg.Events(taskID, msg)
	}
}
