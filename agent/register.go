package agent

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/droverhq/drover/api"
)

// serverLoop registers the node and then heartbeats within the TTL the
// servers ask for, registering again whenever they no longer know it.
// Unreachable servers are retried with backoff; tasks run on meanwhile.
func (a *Agent) serverLoop(ctx context.Context) {
	b := newBackoff(a.cfg.MaxBackoff)
	for ctx.Err() == nil {
		ttl, ok := a.register(ctx, b)
		if !ok {
			return
		}
		a.heartbeat(ctx, ttl, b)
	}
}

// register retries until the node is registered or ctx ends.
func (a *Agent) register(ctx context.Context, b *backoff) (time.Duration, bool) {
	for {
		c := a.servers.client()
		node := a.Node()
		resp, err := c.Nodes().Register(ctx, node)
		if err == nil {
			b.reset()
			a.registeredOnce.Do(func() { close(a.registered) })
			a.log.Info("node registered", "server", c.Address(), "heartbeat_ttl", resp.HeartbeatTTL)
			return resp.HeartbeatTTL, true
		}
		if ctx.Err() != nil {
			return 0, false
		}
		a.servers.failed(c, err)
		wait := b.next()
		a.log.Warn("register node; retrying", "server", c.Address(), "err", err, "in", wait)
		if !sleep(ctx, wait) {
			return 0, false
		}
	}
}

// heartbeat beats until ctx ends or the servers forgot the node (it then
// returns, to register again).
func (a *Agent) heartbeat(ctx context.Context, ttl time.Duration, b *backoff) {
	wait := beatInterval(ttl)
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-a.reregisterC:
			t.Stop()
			return
		case <-t.C:
		}
		c := a.servers.client()
		resp, err := c.Nodes().Heartbeat(ctx, a.nodeID)
		switch {
		case err == nil:
			b.reset()
			if resp.HeartbeatTTL > 0 {
				ttl = resp.HeartbeatTTL
			}
			wait = beatInterval(ttl)
		case ctx.Err() != nil:
			return
		case api.IsNotFound(err):
			a.log.Warn("the servers do not know this node; registering again")
			return
		default:
			a.servers.failed(c, err)
			// Retry sooner than a full interval, but never hammer.
			wait = min(b.next(), beatInterval(ttl))
			a.log.Warn("heartbeat failed; retrying", "server", c.Address(), "err", err, "in", wait)
		}
	}
}

// beatInterval beats at about a third of the TTL, jittered, so that one
// lost heartbeat (and a retry) still fits in it.
func beatInterval(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		ttl = 10 * time.Second
	}
	third := ttl / 3
	return third + rand.N(third/4+1)
}

// reregister asks the server loop to register again.
func (a *Agent) reregister() {
	select {
	case a.reregisterC <- struct{}{}:
	default:
	}
}
