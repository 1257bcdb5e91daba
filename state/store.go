package state

import (
	"fmt"
	"sync/atomic"

	memdb "github.com/hashicorp/go-memdb"
)

// Store holds the cluster's tables in memory. The FSM is its only writer;
// any number of readers take Snapshots concurrently with it.
type Store struct {
	gen atomic.Pointer[generation]
}

// generation is one memdb instance. Restoring a Raft snapshot replaces the
// whole database, and watch channels of the old one would never fire
// again, so each generation carries a channel that is closed when it is
// replaced: blocking queries watch it too and re-run on the new one.
type generation struct {
	db       *memdb.MemDB
	abandonC chan struct{}
}

// NewStore returns an empty store.
func NewStore() *Store {
	s := &Store{}
	s.gen.Store(newGeneration())
	return s
}

func newGeneration() *generation {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		// The schema is a constant of this package; tests build it.
		panic(fmt.Sprintf("state: invalid schema: %v", err))
	}
	return &generation{db: db, abandonC: make(chan struct{})}
}

// Snapshot returns a consistent, immutable view of every table. It is cheap
// (memdb's radix trees are persistent) and never blocks the writer.
func (s *Store) Snapshot() *Snapshot {
	g := s.gen.Load()
	return &Snapshot{txn: g.db.Txn(false), abandonC: g.abandonC}
}

// writeTxn starts the FSM's write transaction on the current generation.
func (s *Store) writeTxn() *memdb.Txn {
	return s.gen.Load().db.Txn(true)
}

// replace swaps in a restored generation and wakes everyone watching the
// old one.
func (s *Store) replace(g *generation) {
	old := s.gen.Swap(g)
	close(old.abandonC)
}
