package server

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/droverhq/drover/state"
)

// `drover server -recover`: a data dir that was a cluster member and lost
// or damaged its raft.db refuses to start (checkRaftStart), since Raft
// would bootstrap a new, empty cluster under the old identity. -recover
// rebuilds the Raft state from the newest snapshot in the data dir that
// passes its checks, of either kind:
//
//   - raft's own, in <data-dir>/raft/snapshots (every server has them),
//   - automatic snapshots, in <data-dir>/snapshots (written while it led).
//
// The damaged raft.db is moved aside, never deleted. Writes after the
// snapshot were only in the lost raft.db: a member of a multi-server
// cluster gets them back from the leader, a single server loses them.
// -recover on an intact data dir does nothing, so a flag left in a
// service definition is harmless.

// recoverRaftState runs -recover before the server opens anything. It
// returns nil when there was nothing to recover.
func recoverRaftState(dataDir string, logger *slog.Logger, now time.Time) (*state.Recovered, error) {
	raftDir := filepath.Join(dataDir, "raft")
	why, err := state.RecoveryNeeded(raftDir)
	if err != nil {
		return nil, fmt.Errorf("-recover: %w", err)
	}
	if why == "" {
		logger.Info("-recover: raft.db is intact, nothing to recover; starting as usual")
		return nil, nil
	}
	// A snapshot names the servers of its Raft configuration by ID: only
	// the data dir of one of them (its server-id) can start from it.
	if _, err := os.Stat(filepath.Join(dataDir, clusterMemberFile)); err != nil {
		return nil, fmt.Errorf("-recover: %s was never a member of a cluster (no %s), so there is nothing to recover; "+
			"to start a cluster from a snapshot file, start a new server and run 'drover operator snapshot restore FILE'", dataDir, clusterMemberFile)
	}
	files, err := listAutoSnapshots(dataDir)
	if err != nil {
		return nil, fmt.Errorf("-recover: %w", err)
	}
	rec, err := state.Recover(raftDir, files, now)
	if rec != nil {
		for _, s := range rec.Skipped {
			logger.Warn("-recover: skipped a snapshot that fails its checks", "snapshot", s)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("-recover: %s, and %w", why, err)
	}
	logger.Warn("-recover: rebuilt the Raft state from a snapshot; writes after it are lost unless the cluster's leader has them",
		"reason", why, "snapshot", rec.From.Path, "index", rec.From.Index, "term", rec.From.Term, "moved_raft_db", rec.MovedDB)
	return rec, nil
}

// Recovered says which snapshot -recover started this server from, nil
// when it did not.
func (s *Server) Recovered() *state.Recovered { return s.recovered }

// recoverHint names -recover's snapshots for the refusal of a data dir
// that lost its Raft state.
func recoverHint(dataDir string, d state.DiskState) string {
	files, _ := listAutoSnapshots(dataDir)
	n := len(d.Snapshots) + len(files)
	if n == 0 {
		return fmt.Sprintf("there is no snapshot to recover from (none in %s or %s); with a snapshot file saved elsewhere, "+
			"start this server on a fresh data dir and run 'drover operator snapshot restore FILE'",
			d.SnapshotsDir, filepath.Join(dataDir, autoSnapshotDir))
	}
	var newest []string
	if len(files) > 0 {
		newest = append(newest, files[len(files)-1])
	}
	if len(d.Snapshots) > 0 {
		newest = append(newest, d.Snapshots[len(d.Snapshots)-1])
	}
	return fmt.Sprintf("or start it with -recover to rebuild the state from the newest of its %d local snapshot(s) (newest of each kind: %s; raft's own are in %s, automatic ones in %s; "+
		"the damaged raft.db is moved aside, writes after the snapshot are lost unless the cluster's leader has them); "+
		"or restore a snapshot file onto a fresh cluster with 'drover operator snapshot restore FILE'",
		n, strings.Join(newest, ", "), d.SnapshotsDir, filepath.Join(dataDir, autoSnapshotDir))
}
