package allocrunner

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/droverhq/drover/cluster"
)

// checkPorts binds each of the allocation's host ports for a moment, so
// that a port some other process holds fails the allocation with a clear
// message instead of a task that dies on its own bind. There is a window
// between this check and the task's bind; it catches the common case (a
// service already running on the port), not a race.
func checkPorts(ports []cluster.AllocatedPort) error {
	for _, p := range ports {
		host := p.HostIP
		addr := net.JoinHostPort(host, strconv.Itoa(p.Value))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("port %d (label %q) is already in use on this host", p.Value, p.Label)
			}
			return fmt.Errorf("port %d (label %q) cannot be bound on this host: %w", p.Value, p.Label, err)
		}
		l.Close()
	}
	return nil
}
