package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
)

// syncer sends allocation updates to the servers in batches: runners
// enqueue their latest client view (never blocking), and one goroutine
// sends whatever changed since the last send. Only the newest view of an
// allocation is kept, so a burst of task events is one update.
type syncer struct {
	a     *Agent
	kickC chan struct{}

	mu      sync.Mutex
	pending map[string]*cluster.Allocation
	sent    map[string][]byte // last view the servers acknowledged
}

func newSyncer(a *Agent) *syncer {
	return &syncer{a: a, kickC: make(chan struct{}, 1), pending: map[string]*cluster.Allocation{}, sent: map[string][]byte{}}
}

func (s *syncer) enqueue(alloc *cluster.Allocation) {
	s.mu.Lock()
	s.pending[alloc.ID] = alloc
	s.mu.Unlock()
	select {
	case s.kickC <- struct{}{}:
	default:
	}
}

// forget drops an allocation the servers no longer know.
func (s *syncer) forget(id string) {
	s.mu.Lock()
	delete(s.pending, id)
	delete(s.sent, id)
	s.mu.Unlock()
}

func (s *syncer) run(ctx context.Context) {
	select {
	case <-s.a.registered:
	case <-ctx.Done():
		return
	}
	b := newBackoff(s.a.cfg.MaxBackoff)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kickC:
		}
		// Gather what else changes in the window into the same request.
		if w := s.a.cfg.SyncWindow; w > 0 && !sleep(ctx, w) {
			return
		}
		for !s.flush(ctx) {
			if !sleep(ctx, b.next()) {
				return
			}
		}
		b.reset()
	}
}

// flush sends the pending views; it reports false when they could not be
// sent (they stay pending).
func (s *syncer) flush(ctx context.Context) bool {
	s.mu.Lock()
	var batch []*cluster.Allocation
	var enc [][]byte
	for id, alloc := range s.pending {
		b, err := json.Marshal(alloc)
		if err != nil {
			continue
		}
		delete(s.pending, id)
		if bytes.Equal(s.sent[id], b) {
			continue
		}
		batch = append(batch, alloc)
		enc = append(enc, b)
	}
	s.mu.Unlock()
	if len(batch) == 0 {
		return true
	}
	c := s.a.servers.client()
	resp, err := c.Nodes().UpdateAllocs(ctx, s.a.nodeID, batch)
	if err != nil {
		s.mu.Lock()
		for _, alloc := range batch {
			if _, newer := s.pending[alloc.ID]; !newer {
				s.pending[alloc.ID] = alloc
			}
		}
		s.mu.Unlock()
		if ctx.Err() == nil {
			if api.IsNotFound(err) || api.IsNodeSecretRefused(err) {
				s.a.reregister()
			}
			s.a.servers.failed(c, err)
			s.a.log.Warn("report allocation updates; will retry", "server", c.Address(), "allocs", len(batch), "err", err)
		}
		return false
	}
	s.mu.Lock()
	for i, alloc := range batch {
		s.sent[alloc.ID] = enc[i]
	}
	s.mu.Unlock()
	if len(resp.Unknown) > 0 {
		s.a.log.Debug("the servers do not know some reported allocations", "allocs", resp.Unknown)
	}
	return true
}
