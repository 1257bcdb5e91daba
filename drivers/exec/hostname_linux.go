//go:build linux

package exec

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/droverhq/drover/drivers"
)

// setHostname gives an isolated task the group network's hostname. It
// runs in the shim, pid 1 of the task's namespaces, which include a UTS
// namespace of its own (isolationCloneflags): the node's hostname is
// untouched. Empty keeps what the namespace started with, a copy of the
// node's name. A task without isolation shares the node's UTS namespace,
// so the driver never passes a hostname for it (see chroot in start.go):
// setting one there would rename the node.
func setHostname(h string) error {
	if h == "" {
		return nil
	}
	if os.Getpid() != 1 {
		return errors.New("set the task's hostname: the shim is not in its own namespaces")
	}
	// Checked again here: the spec crossed a process boundary.
	if err := drivers.ValidHostname(h); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(h)); err != nil {
		return fmt.Errorf("set the task's hostname to %q: %w", h, err)
	}
	return nil
}
