package agent

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/droverhq/drover/agent/allocrunner"
	"github.com/droverhq/drover/cluster"
)

// Disconnects, the agent's half (Nomad's disconnect.stop_on_client_after):
// an agent that has not reached any server for a group's
// stop_on_client_after stops that group's allocations itself, so that
// they do not keep running next to the replacements the servers place
// elsewhere. When it reaches the servers again it reports every
// allocation anew, the stopped ones as lost.

// disconnectCheckEvery is how often the agent compares the time since it
// last reached a server with its allocations' stop_on_client_after.
const disconnectCheckEvery = 250 * time.Millisecond

// contact tracks when the agent last reached a server: a registration or
// a heartbeat that the servers answered.
type contact struct {
	mu   sync.Mutex
	last time.Time
	// lost: a registration or heartbeat failed since the last success.
	lost bool
}

func newContact(now time.Time) *contact { return &contact{last: now} }

// ok records a successful exchange at now. It reports whether contact
// was lost before: the servers may then have marked the node down and
// its allocations unknown or lost, and the agent must report them all
// again.
func (c *contact) ok(now time.Time) (restored bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	restored = c.lost
	c.last, c.lost = now, false
	return restored
}

// failed records a failed exchange.
func (c *contact) failed() {
	c.mu.Lock()
	c.lost = true
	c.mu.Unlock()
}

// since returns when the agent last reached a server.
func (c *contact) since() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// disconnectCandidate is what the decision needs of one allocation.
type disconnectCandidate struct {
	id string
	// stopAfter is the group's stop_on_client_after, 0 for none.
	stopAfter time.Duration
	// done: the allocation is finished or already stopping.
	done bool
}

// disconnectedStops returns the allocations to stop at now, given when
// the agent last reached a server. It is a pure function.
func disconnectedStops(last, now time.Time, allocs []disconnectCandidate) []string {
	silent := now.Sub(last)
	var out []string
	for _, a := range allocs {
		if a.done || a.stopAfter <= 0 || silent < a.stopAfter {
			continue
		}
		out = append(out, a.id)
	}
	return out
}

// runDisconnectStops stops, until ctx ends, the allocations whose
// stop_on_client_after has run out without contact with the servers.
func (a *Agent) runDisconnectStops(ctx context.Context) {
	tick := time.NewTicker(disconnectCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		a.stopDisconnected(time.Now())
	}
}

func (a *Agent) stopDisconnected(now time.Time) {
	last := a.contact.since()
	a.mu.Lock()
	cands := make([]disconnectCandidate, 0, len(a.runners))
	for id, r := range a.runners {
		cands = append(cands, disconnectCandidate{id: id, stopAfter: r.StopOnClientAfter(), done: r.Finished()})
	}
	a.mu.Unlock()
	for _, id := range disconnectedStops(last, now, cands) {
		r := a.runner(id)
		if r == nil {
			continue
		}
		reason := fmt.Sprintf("no contact with servers for %s (disconnect.stop_on_client_after)", r.StopOnClientAfter())
		if r.StopDisconnected(reason) {
			a.log.Warn("stopping allocation: no contact with the servers", "alloc", id, "last_contact", last, "stop_on_client_after", r.StopOnClientAfter())
		}
	}
}

// contactOK records that the servers answered; after a loss of contact
// it reports every allocation again, since the servers may have marked
// them unknown or lost meanwhile and the syncer sends only what changed.
func (a *Agent) contactOK() {
	if !a.contact.ok(time.Now()) {
		return
	}
	a.mu.Lock()
	rs := make([]*allocrunner.Runner, 0, len(a.runners))
	for _, r := range a.runners {
		rs = append(rs, r)
	}
	a.mu.Unlock()
	a.sync.mu.Lock()
	clear(a.sync.sent)
	a.sync.mu.Unlock()
	for _, r := range rs {
		a.sync.enqueue(r.ClientAlloc())
	}
	a.log.Info("back in contact with the servers; reporting every allocation again", "allocs", len(rs))
}

// reportIfUnknown reports an allocation again when the servers show it
// unknown: they marked the node down while this agent never saw a
// request fail (a server that stalled rather than refused, say), so
// contactOK did not report everything again, and the syncer would not
// resend a view the servers acknowledged before.
func (a *Agent) reportIfUnknown(alloc *cluster.Allocation, r *allocrunner.Runner) {
	if alloc.ClientStatus != cluster.AllocClientUnknown {
		return
	}
	a.sync.mu.Lock()
	delete(a.sync.sent, alloc.ID)
	a.sync.mu.Unlock()
	a.sync.enqueue(r.ClientAlloc())
}
