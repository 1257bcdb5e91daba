//go:build unix

package repo

import (
	"syscall"
	"testing"
)

// mkfifo makes a FIFO, which a reader of the folder must never open: the
// read would block forever.
func mkfifo(t *testing.T, name string) {
	if err := syscall.Mkfifo(name, 0o644); err != nil {
		t.Logf("no FIFO: %v", err)
	}
}
