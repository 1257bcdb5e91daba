package qemu

import (
	"context"
	"fmt"

	"github.com/droverhq/drover/drivers"
)

var _ drivers.StatsReporter = (*Driver)(nil)

// Stats implements drivers.StatsReporter: the qemu process's use, as its
// runner (the exec driver: the process's cgroup, or /proc without one)
// measures it. That is the whole VM seen from the host: guest RAM the
// guest has touched, QEMU's own memory and, under TCG, the translator's
// CPU time as well as the guest's.
func (d *Driver) Stats(ctx context.Context, h *drivers.TaskHandle) (*drivers.TaskStats, error) {
	sr, ok := d.cfg.Runner.(drivers.StatsReporter)
	if !ok {
		return nil, fmt.Errorf("qemu: stats of %s: the process runner (driver %q) cannot report resource use; run qemu through the exec driver", h.TaskID, d.cfg.Runner.Name())
	}
	t, err := d.tasks.Lookup(h)
	if err != nil {
		return nil, err
	}
	s, err := sr.Stats(ctx, t.st.Runner)
	if err != nil {
		return nil, fmt.Errorf("qemu: stats of %s: %w", h.TaskID, err)
	}
	return s, nil
}
