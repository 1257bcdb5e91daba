//go:build linux

package exec

import (
	"fmt"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// parseSignal accepts the names job files use: "SIGTERM", "TERM",
// "sigterm". Numbers are refused: they differ between architectures, so a
// job file that says "15" means different things on different nodes.
func parseSignal(name string) (syscall.Signal, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(n, "SIG") {
		n = "SIG" + n
	}
	if sig := unix.SignalNum(n); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", name)
}
