// Package rawexec is the raw_exec driver: a task's command as a plain host
// process, with the agent's privileges unless the job names a user, no
// chroot and no namespaces. It is the exec driver without its Isolation,
// and, as in Nomad, it is off unless the operator turns it on in the
// agent's configuration:
//
//	plugin "raw_exec" {
//	  config {
//	    enabled = true
//	  }
//	}
//
// Disabled, it fingerprints as not detected, so the scheduler reports a
// job that uses it as unplaceable for "missing drivers", and Start refuses.
package rawexec

import (
	"context"
	"errors"
	"fmt"

	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/drivers/exec"
)

// Name is the driver's name in job files.
const Name = "raw_exec"

var _ drivers.Driver = (*Driver)(nil)

// ErrDisabled is Start's error on a node that has not enabled raw_exec.
var ErrDisabled = errors.New(`raw_exec is disabled on this node; enable it in the agent configuration with plugin "raw_exec" { config { enabled = true } }`)

// Config configures the driver for a node.
type Config struct {
	// Enabled turns the driver on (plugin "raw_exec" { config { enabled } }).
	Enabled bool
	// Exec configures the process runner underneath; its Name and
	// Isolation are the driver's own (raw_exec, none).
	Exec exec.Config
}

// DefaultConfig is the configuration an agent uses: disabled.
func DefaultConfig() Config {
	return Config{Exec: exec.DefaultConfig()}
}

// Driver is the raw_exec driver. Create it with New.
type Driver struct {
	*exec.Driver
	enabled bool
}

// New returns a raw_exec driver.
func New(cfg Config) (*Driver, error) {
	ecfg := cfg.Exec
	ecfg.Name = Name
	ecfg.Isolation = nil
	d, err := exec.New(ecfg)
	if err != nil {
		return nil, fmt.Errorf("raw_exec: %w", err)
	}
	return &Driver{Driver: d, enabled: cfg.Enabled}, nil
}

// ConfigSpec is the schema of the raw_exec driver's task config, available
// without a driver so that `drover validate` needs no node: exec's
// command and args (Nomad's raw_exec has no pid_mode or ipc_mode).
func ConfigSpec() drivers.Schema { return exec.BaseConfigSpec() }

// Fingerprint implements drivers.Driver.
func (d *Driver) Fingerprint(ctx context.Context) drivers.Fingerprint {
	if !d.enabled {
		return drivers.Fingerprint{
			Description: "disabled: enable it with plugin \"raw_exec\" { config { enabled = true } } in the agent configuration",
			Attributes:  map[string]string{"driver.raw_exec.enabled": "false"},
		}
	}
	fp := d.Driver.Fingerprint(ctx)
	if fp.Attributes == nil {
		fp.Attributes = map[string]string{}
	}
	fp.Attributes["driver.raw_exec.enabled"] = "true"
	return fp
}

// Start implements drivers.Driver.
func (d *Driver) Start(ctx context.Context, cfg *drivers.TaskConfig) (*drivers.TaskHandle, error) {
	if !d.enabled {
		return nil, ErrDisabled
	}
	return d.Driver.Start(ctx, cfg)
}

// Recover implements drivers.Driver. Tasks are recovered whether or not
// the driver is enabled now: a task that runs must stay stoppable. Handles
// of raw_exec tasks from before raw_exec was a driver of its own name the
// exec driver; they are the same kind of task.
func (d *Driver) Recover(ctx context.Context, h *drivers.TaskHandle) error {
	return d.Driver.Recover(ctx, own(h))
}

// Destroy implements drivers.Driver.
func (d *Driver) Destroy(ctx context.Context, h *drivers.TaskHandle) error {
	return d.Driver.Destroy(ctx, own(h))
}

func own(h *drivers.TaskHandle) *drivers.TaskHandle {
	if h == nil || h.Driver != exec.Name {
		return h
	}
	c := *h
	c.Driver = Name
	return &c
}
