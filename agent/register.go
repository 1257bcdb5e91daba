package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"time"

	"github.com/droverhq/drover/api"
)

// ErrNodeIdentity is returned by Run when the servers refuse the node's
// secret: they know this node ID under another secret, and no retry can
// change that.
var ErrNodeIdentity = errors.New("agent: the servers refuse this node's identity")

// serverLoop registers the node and then heartbeats within the TTL the
// servers ask for, registering again whenever they no longer know it.
// Unreachable servers are retried with backoff; tasks run on meanwhile.
// It returns an error only when the servers refuse the node's identity.
func (a *Agent) serverLoop(ctx context.Context) error {
	if a.ident.Load() == nil && a.cfg.JoinToken != "" {
		if err := a.joinTLS(ctx); err != nil || ctx.Err() != nil {
			return err
		}
		if err := a.servers.reset(a.cfg.Servers, "", a.secret, &http.Client{Transport: a.serverTransport()}); err != nil {
			return err
		}
	}
	b := newBackoff(a.cfg.MaxBackoff)
	for ctx.Err() == nil {
		ttl, err := a.register(ctx, b)
		if err != nil || ctx.Err() != nil {
			return err
		}
		a.heartbeat(ctx, ttl, b)
	}
	return nil
}

// register retries until the node is registered or ctx ends, or the
// servers refuse the node's secret.
func (a *Agent) register(ctx context.Context, b *backoff) (time.Duration, error) {
	for {
		c := a.servers.client()
		node := a.Node()
		resp, err := c.Nodes().Register(ctx, node)
		if err == nil {
			b.reset()
			a.contactOK()
			a.registeredOnce.Do(func() { close(a.registered) })
			a.log.Info("node registered", "server", c.Address(), "heartbeat_ttl", resp.HeartbeatTTL)
			return resp.HeartbeatTTL, nil
		}
		if ctx.Err() != nil {
			return 0, nil
		}
		if api.IsNodeSecretRefused(err) {
			return 0, a.identityError(err)
		}
		a.contact.failed()
		a.servers.failed(c, err)
		wait := b.next()
		a.log.Warn("register node; retrying", "server", c.Address(), "err", err, "in", wait)
		if !sleep(ctx, wait) {
			return 0, nil
		}
	}
}

// identityError says why the servers refused the node and how to recover.
func (a *Agent) identityError(err error) error {
	why := "the node secret in this data dir is not the one the servers know for this node ID"
	if a.secretFresh {
		why = "this data dir had no node secret for this node ID (it was lost, or the data dir is older than node secrets), and the servers know one"
	}
	return fmt.Errorf("%w: node %s: %s (%v). To join as a new node, stop this agent and its tasks, "+
		"then start it with an empty -data-dir (or remove %s): it registers under a new node ID, "+
		"and the servers mark the old node down once it misses its heartbeat TTL",
		ErrNodeIdentity, a.nodeID, why, err, filepath.Join(a.cfg.DataDir, "state.db"))
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
			a.contactOK()
			if resp.HeartbeatTTL > 0 {
				ttl = resp.HeartbeatTTL
			}
			wait = beatInterval(ttl)
		case ctx.Err() != nil:
			return
		case api.IsNotFound(err):
			a.log.Warn("the servers do not know this node; registering again")
			return
		case api.IsNodeSecretRefused(err):
			// Registering again settles it: it gives a node registered
			// before node secrets its secret, or fails for good.
			a.log.Warn("the servers refused the node secret; registering again", "err", err)
			return
		default:
			a.contact.failed()
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
