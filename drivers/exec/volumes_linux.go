//go:build linux

package exec

import (
	"fmt"
	"os"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// bindVolume bind-mounts host volume m.Source at m.Target inside root,
// read-only unless m.Writable. Unlike a chroot_env path, the source must
// exist, and a symbolic link there is followed (the operator's path);
// the target is resolved inside root, so neither "../.." nor a link the
// task planted in a directory it shares (alloc/) leads it out. The shim
// runs this in its private mount namespace before the task starts: were
// a link swapped in after the resolution, the mount would still land in
// that namespace only, never on the host's tree.
func bindVolume(root string, m chrootMount) error {
	fi, err := os.Stat(m.Source)
	if err != nil {
		return fmt.Errorf("chroot: host volume: %w", err)
	}
	target, err := securejoin.SecureJoin(root, m.Target)
	if err != nil {
		return fmt.Errorf("chroot: volume destination %s: %w", m.Target, err)
	}
	if target == root {
		return fmt.Errorf("chroot: volume destination %s is the task's root", m.Target)
	}
	if err := mountpoint(target, fi.IsDir()); err != nil {
		return fmt.Errorf("chroot: volume destination %s: %w", m.Target, err)
	}
	if err := unix.Mount(m.Source, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("chroot: bind host volume %s on %s: %w", m.Source, m.Target, err)
	}
	flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_NOSUID | unix.MS_NODEV)
	if !m.Writable {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount("", target, "", flags, ""); err != nil {
		return fmt.Errorf("chroot: remount volume %s: %w", m.Target, err)
	}
	return nil
}
