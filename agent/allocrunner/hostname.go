package allocrunner

import (
	"fmt"

	"github.com/droverhq/drover/agent/taskenv"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
)

// taskHostname is the hostname a task's driver gives it: the group
// network's `hostname`, interpolated with the task's environment as
// Nomad's network hook does (hostname = "${NOMAD_ALLOC_INDEX}.web" gives
// each allocation its own), and checked, since it reaches the kernel
// (sethostname in an isolated exec task) and docker. Empty when the group
// sets none: drivers keep their default (docker: the container ID's
// prefix; isolated exec: the node's name, copied into the task's own UTS
// namespace).
//
// Nomad honours hostname only for docker in bridge mode; Drover sets it
// in any mode for every driver with a UTS namespace of its own (docker,
// isolated exec), which is the same where Nomad honours it, and keeps a
// job that sets it with mode = "host" from silently losing it.
func taskHostname(g *jobspec.Group, r *taskenv.Resolver) (string, error) {
	if g == nil || len(g.Networks) == 0 || g.Networks[0].Hostname == "" {
		return "", nil
	}
	h := r.Interpolate(g.Networks[0].Hostname)
	if err := drivers.ValidHostname(h); err != nil {
		return "", fmt.Errorf("network hostname: %w", err)
	}
	return h, nil
}
