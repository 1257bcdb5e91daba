package docker

import (
	"context"
	"fmt"

	"github.com/droverhq/drover/drivers"
)

// Signal sends signal (a name such as "SIGHUP") to the container's main
// process and returns: no wait, no escalation. It is how a template with
// change_mode = "signal" tells a task its file changed, as Nomad's
// docker driver does (docker kill --signal).
func (d *Driver) Signal(ctx context.Context, h *drivers.TaskHandle, signal string) error {
	t, err := d.tasks.Lookup(h)
	if err != nil {
		return err
	}
	if signal == "" {
		return fmt.Errorf("docker: signal %s: no signal given", h.TaskID)
	}
	if t.exit.Exited() {
		return fmt.Errorf("docker: signal %s: the task is not running", h.TaskID)
	}
	if err := d.signal(ctx, t, signal); err != nil {
		return fmt.Errorf("docker: signal %s with %s: %w", h.TaskID, signal, err)
	}
	return nil
}
