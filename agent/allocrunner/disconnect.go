package allocrunner

import (
	"time"

	"github.com/droverhq/drover/cluster"
)

// StopOnClientAfter is the group's disconnect.stop_on_client_after: how
// long the agent keeps the allocation's tasks running without reaching a
// server (0: for ever).
func (r *Runner) StopOnClientAfter() time.Duration {
	if r.group.Disconnect == nil || r.group.Disconnect.StopOnClientAfter <= 0 {
		return 0
	}
	return r.group.Disconnect.StopOnClientAfter
}

// StopDisconnected stops every task because the agent has been cut off
// from the servers for longer than stop_on_client_after (Nomad's
// disconnect block): the tasks are killed as for a desired stop, each
// with its kill_timeout, and reason names why in their Killing events.
// Once its tasks are dead the allocation reports lost, not complete: the
// servers did not ask for the stop. It reports false when the allocation
// was already stopped or finished.
func (r *Runner) StopDisconnected(reason string) bool {
	r.mu.Lock()
	if r.finished || r.stopRequested || r.disconnected != "" {
		r.mu.Unlock()
		return false
	}
	r.disconnected = reason
	r.stopRequested = true
	r.mu.Unlock()
	r.log.Warn("stopping allocation: cut off from the servers", "reason", reason)
	r.kickLoop()
	return true
}

// disconnectReason is why StopDisconnected stopped the allocation, empty
// when it did not.
func (r *Runner) disconnectReason() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.disconnected
}

// disconnectedStatus is the client view of an allocation that
// StopDisconnected stopped: lost once its tasks are dead.
func disconnectedStatus(status, desc, reason string) (string, string) {
	if reason == "" {
		return status, desc
	}
	switch status {
	case cluster.AllocClientComplete, cluster.AllocClientFailed:
		return cluster.AllocClientLost, "Tasks stopped by the agent: " + reason
	}
	return status, desc
}
