package exec

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/droverhq/drover/drivers"
)

// Host volumes (volume_mount) in an isolated task: each is one more bind
// mount of the task's root, made by the shim in its private mount
// namespace like the chroot_env ones. The host path is the operator's
// host_volume, trusted; the destination is the job's, untrusted, and is
// joined onto the root only with securejoin, in the shim (bindVolume).

// errMountsNeedIsolation is Start's error for volume mounts on a driver
// configured without isolation (raw_exec): there is no root of the
// task's own to mount them in, and running the task without its data
// would be worse.
var errMountsNeedIsolation = errors.New("volume_mount needs a task root to mount into")

// mountsNeedIsolation says what to do instead.
func mountsNeedIsolation(driver string) error {
	return fmt.Errorf("%s: %w, and %s runs tasks as plain host processes: use driver = \"exec\" or \"docker\", or give the task the host path itself", driver, errMountsNeedIsolation, driver)
}

// volumeChrootMounts checks the task's mounts and turns them into mounts
// of its root. A destination that would cover the root itself, /proc or
// /dev (which the shim mounts after), or one of the task's own
// directories is refused: the task would lose them.
func volumeChrootMounts(ms []drivers.Mount) ([]chrootMount, error) {
	var out []chrootMount
	for _, m := range ms {
		if !filepath.IsAbs(m.HostPath) {
			return nil, fmt.Errorf("volume %q: host path %q is not absolute", m.Volume, m.HostPath)
		}
		target := filepath.Clean("/" + m.TaskPath)
		if target == "/" || hasPathPrefix(target, "/proc") || hasPathPrefix(target, "/dev") || slices.Contains(reservedChrootPaths, target) {
			return nil, fmt.Errorf("volume %q: destination %q would hide the task's %s; mount it elsewhere, e.g. /data", m.Volume, m.TaskPath, target)
		}
		out = append(out, chrootMount{Source: filepath.Clean(m.HostPath), Target: target, Writable: !m.ReadOnly, Volume: true})
	}
	return out, nil
}

// withVolumes adds the volume mounts to a root's plan, keeping it sorted
// by target so that a parent is mounted before anything inside it.
func withVolumes(plan []chrootMount, ms []drivers.Mount) ([]chrootMount, error) {
	vols, err := volumeChrootMounts(ms)
	if err != nil || len(vols) == 0 {
		return plan, err
	}
	plan = append(plan, vols...)
	slices.SortStableFunc(plan, func(a, b chrootMount) int { return strings.Compare(a.Target, b.Target) })
	return plan, nil
}
