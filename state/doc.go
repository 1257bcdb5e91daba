// Package state is the servers' replicated view of the cluster: a Raft
// finite state machine (FSM) over in-memory, indexed tables of nodes, job
// versions, allocations, evaluations, deployments and Git sync status, and
// the wiring that runs it on a Raft node with a durable log.
//
// # Layers
//
//   - Store holds the tables (hashicorp/go-memdb). Readers take a Snapshot:
//     an immutable view that never changes under them. Blocking runs a query
//     and, when its index is not newer than the caller's, waits on memdb
//     watch channels for a write to one of the named tables.
//   - FSM applies typed commands (commands.go) to the Store. Every command
//     is one message-type byte followed by a JSON body. The FSM never reads
//     the clock: the leader stamps Now into every request so that replicas
//     replaying the same log end in the same state.
//   - Replicated (raft.go) runs the FSM on hashicorp/raft with a TCP
//     transport, a bbolt log and stable store (raft.db) and a file snapshot
//     store in Config.DataDir.
//
// Records in the tables are never changed in place: a write stores a
// modified copy, so a Snapshot taken earlier keeps seeing the old record.
// Callers must treat every record they get from a Snapshot as read-only.
//
// # Dependency pins
//
// We run hashicorp/raft v1.7.3 with hashicorp/raft-boltdb/v2 v2.3.1, the
// pair Nomad and Consul ship. raft v1.8.0 moved to hashicorp/go-metrics in
// a way that raft-boltdb/v2 does not build against yet. The alternative, a
// LogStore/StableStore of our own on go.etcd.io/bbolt, would put the one
// piece where a bug loses acknowledged writes in our hands instead of
// reusing the store those projects have run for years; we revisit when
// raft-boltdb catches up with raft v1.8. go.etcd.io/bbolt is raised from
// the v1.3.5 that raft-boltdb/v2 asks for to v1.4.3, a current release
// with the same API. Fsync stays on (Options.NoSync false): a write is
// acknowledged only once it is on disk on a quorum of servers.
//
// # Encoding
//
// Commands and snapshots are JSON. The records were designed for JSON:
// jobspec.Job hashes its canonical JSON encoding and carries driver config
// as map[string]any, which msgpack decodes into map[any]any and integer
// types that would no longer encode, or hash, the same. msgpack decodes an
// agent update about twice as fast (BenchmarkCommandCodec), and decoding
// is a third of the FSM's time per allocation update, but JSON already
// clears the throughput target (BenchmarkStateApply). The FSM's single
// goroutine and memdb's index copies cost the rest.
package state
