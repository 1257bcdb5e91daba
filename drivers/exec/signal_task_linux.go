//go:build linux

package exec

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// signalProcess sends sig to pid alone, only while it is the process we
// started (same start time): a recycled pid is never signalled. It
// reports whether the signal was sent.
func signalProcess(pid int, start uint64, sig syscall.Signal) (bool, error) {
	if !running(pid, start) {
		return false, nil
	}
	err := unix.Kill(pid, sig)
	if errors.Is(err, unix.ESRCH) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("signal process %d with %v: %w", pid, sig, err)
	}
	return true, nil
}
