package state

import (
	"context"

	memdb "github.com/hashicorp/go-memdb"
)

// Blocking runs a blocking query: fn reads a snapshot and returns the index
// of what it read (usually snap.Index(tables...)) and its result. When that
// index is newer than minIndex, or minIndex is 0, Blocking returns at once.
// Otherwise it sleeps until one of the tables is written (or, with no
// tables named, any table) and runs fn again on a fresh snapshot.
//
// The caller bounds the wait with ctx (an HTTP ?wait= becomes a context
// timeout). When ctx ends, Blocking returns fn's latest result together
// with ctx.Err(): the result is still valid, and a handler answering a
// timed-out long poll serves it as is.
//
// The index returned is at least 1, so that a client that feeds it back as
// minIndex blocks instead of spinning on an empty table.
func (s *Store) Blocking(ctx context.Context, minIndex uint64, tables []string, fn func(*Snapshot) (uint64, any)) (uint64, any, error) {
	for {
		g := s.gen.Load()
		txn := g.db.Txn(false)
		// Take the watch channels from the same transaction the query
		// reads, so that a write landing between the two cannot be
		// missed.
		ws := memdb.NewWatchSet()
		ws.Add(g.abandonC)
		if len(tables) == 0 {
			it, err := txn.Get(tableIndex, "id")
			if err != nil {
				return 0, nil, err
			}
			ws.Add(it.WatchCh())
		}
		for _, t := range tables {
			ch, _, err := txn.FirstWatch(tableIndex, "id", t)
			if err != nil {
				return 0, nil, err
			}
			ws.Add(ch)
		}

		idx, v := fn(&Snapshot{txn: txn, abandonC: g.abandonC})
		idx = max(idx, 1)
		if minIndex == 0 || idx > minIndex {
			return idx, v, nil
		}
		if err := ws.WatchCtx(ctx); err != nil {
			return idx, v, err
		}
	}
}
