package exec

import (
	"context"
	"fmt"

	"github.com/droverhq/drover/drivers"
)

// Signal sends signal (a name: "SIGHUP", "SIGUSR1", ...) to the running
// task's main process, and nothing more: no wait, no escalation. It is
// how a template with change_mode = "signal" tells a task its file
// changed, as Nomad's executor does (the main process only, so that a
// shell's children are not signalled behind its back). raw_exec has it
// too, through its embedded exec driver.
func (d *Driver) Signal(_ context.Context, h *drivers.TaskHandle, signal string) error {
	t, err := d.tasks.Lookup(h)
	if err != nil {
		return err
	}
	sig, err := parseSignal(signal)
	if err != nil {
		return fmt.Errorf("%s: signal %s: %w", d.cfg.Name, h.TaskID, err)
	}
	if t.exit.Exited() {
		return fmt.Errorf("%s: signal %s: the task is not running", d.cfg.Name, h.TaskID)
	}
	sent, err := signalProcess(t.st.PID, t.st.StartTime, sig)
	if err != nil {
		return fmt.Errorf("%s: signal %s: %w", d.cfg.Name, h.TaskID, err)
	}
	if !sent {
		return fmt.Errorf("%s: signal %s: the task is not running", d.cfg.Name, h.TaskID)
	}
	return nil
}
