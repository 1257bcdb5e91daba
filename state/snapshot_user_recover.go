package state

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"
)

// RecoverSource is a snapshot a server can rebuild its Raft state from.
type RecoverSource struct {
	// Path is a raft snapshot directory (<raft-dir>/snapshots/<id>) or a
	// snapshot file (an automatic snapshot, or one saved with `drover
	// operator snapshot save`).
	Path  string
	File  bool
	Index uint64
	Term  uint64
}

// Recovered says what Recover did.
type Recovered struct {
	From RecoverSource
	// MovedDB is where the lost or damaged raft.db went; empty when there
	// was none.
	MovedDB string
	// Skipped lists newer snapshots that failed their checks, with why.
	Skipped []string
}

// RecoveryNeeded reports why the raft.db in raftDir cannot be started
// from: missing, empty, damaged, or without log entries. An empty reason
// means it is intact and there is nothing to recover.
func RecoveryNeeded(raftDir string) (string, error) {
	d, err := Inspect(raftDir)
	switch {
	case errors.Is(err, ErrDamagedStore):
		return err.Error(), nil
	case err != nil:
		return "", err
	case !d.DBExists:
		return d.DBPath + " is missing", nil
	case d.DBSize == 0:
		return d.DBPath + " is empty", nil
	}
	if err := checkRaftDB(d.DBPath); err != nil {
		if errors.Is(err, ErrDamagedStore) {
			return err.Error(), nil
		}
		return "", err
	}
	if d.LastLogIndex == 0 {
		return d.DBPath + " holds no log entries", nil
	}
	return "", nil
}

// Recover rebuilds the Raft state in raftDir from the newest snapshot
// that passes its checks: raft's own snapshots in raftDir/snapshots, or
// one of files (snapshot files, as automatic snapshots are written). It
// moves raft.db aside (to raft.db.recovered-<time>; it never deletes
// it), puts a file snapshot into raft's snapshot store, and starts a new
// raft.db at the snapshot's term, so that Open then starts from that
// snapshot with the Raft configuration it was taken in.
//
// Writes after the snapshot are lost: they were in the raft.db that is
// gone. On a member of a multi-server cluster the leader sends them
// again once the server is back; a single server loses them.
func Recover(raftDir string, files []string, now time.Time) (*Recovered, error) {
	snaps, err := raft.NewFileSnapshotStoreWithLogger(raftDir, 1<<20, hclog.NewNullLogger())
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	metas, err := snaps.List()
	if err != nil {
		return nil, fmt.Errorf("recover: list raft snapshots: %w", err)
	}
	var cands []RecoverSource
	for _, m := range metas {
		cands = append(cands, RecoverSource{Path: filepath.Join(raftDir, snapshotsDir, m.ID), Index: m.Index, Term: m.Term})
	}
	for _, f := range files {
		meta, err := readMetaFile(f)
		if err != nil {
			continue // not a snapshot file, or damaged: not a candidate
		}
		cands = append(cands, RecoverSource{Path: f, File: true, Index: meta.Index, Term: meta.Term})
	}
	// Newest first; at the same index raft's own, which needs no copy.
	sortSources(cands)
	if len(cands) == 0 {
		return nil, fmt.Errorf("recover: no snapshot to recover from in %s or among the automatic snapshots", filepath.Join(raftDir, snapshotsDir))
	}

	res := &Recovered{}
	var chosen *RecoverSource
	var g *generation
	var fileMeta *SnapshotInfo
	for i := range cands {
		c := cands[i]
		var err error
		if c.File {
			fileMeta, g, err = readSnapshotFilePath(c.Path)
		} else {
			err = checkRaftSnapshot(snaps, filepath.Base(c.Path))
		}
		if err != nil {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: %v", c.Path, err))
			continue
		}
		chosen = &c
		break
	}
	if chosen == nil {
		return res, fmt.Errorf("recover: no snapshot passes its checks: %v", res.Skipped)
	}
	res.From = *chosen

	dbPath := filepath.Join(raftDir, raftDBFile)
	if _, err := os.Stat(dbPath); err == nil {
		res.MovedDB = dbPath + ".recovered-" + now.UTC().Format("20060102T150405Z")
		if err := os.Rename(dbPath, res.MovedDB); err != nil {
			return res, fmt.Errorf("recover: move %s aside: %w", dbPath, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return res, fmt.Errorf("recover: %w", err)
	}

	if chosen.File {
		if err := installFileSnapshot(snaps, fileMeta, g); err != nil {
			return res, err
		}
	}
	// raft reads its current term from raft.db; a new one at term 0
	// under a snapshot of term T would have the server campaign below
	// the terms its log already holds.
	store, err := raftboltdb.New(raftboltdb.Options{Path: dbPath, BoltOptions: &bolt.Options{Timeout: 5 * time.Second}})
	if err != nil {
		return res, fmt.Errorf("recover: create %s: %w", dbPath, err)
	}
	if err := store.SetUint64([]byte("CurrentTerm"), chosen.Term); err != nil {
		_ = store.Close()
		return res, fmt.Errorf("recover: %w", err)
	}
	if err := store.Close(); err != nil {
		return res, fmt.Errorf("recover: %w", err)
	}
	return res, nil
}

func sortSources(c []RecoverSource) {
	slices.SortStableFunc(c, func(a, b RecoverSource) int {
		if a.Index != b.Index {
			return cmp.Compare(b.Index, a.Index)
		}
		switch {
		case !a.File && b.File:
			return -1
		case a.File && !b.File:
			return 1
		}
		return 0
	})
}

func readMetaFile(path string) (*SnapshotFileMeta, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadSnapshotMeta(f)
}

func readSnapshotFilePath(path string) (*SnapshotInfo, *generation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return readSnapshotFile(f)
}

// checkRaftSnapshot opens one of raft's snapshots (which checks its
// CRC) and decodes it, as raft will at start.
func checkRaftSnapshot(snaps *raft.FileSnapshotStore, id string) error {
	_, rc, err := snaps.Open(id)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = readSnapshot(rc)
	return err
}

// installFileSnapshot writes a verified snapshot file's state into raft's
// snapshot store, with the Raft configuration the file recorded.
func installFileSnapshot(snaps *raft.FileSnapshotStore, info *SnapshotInfo, g *generation) error {
	var conf raft.Configuration
	for _, s := range info.Meta.Servers {
		suffrage := raft.Nonvoter
		if s.Voter {
			suffrage = raft.Voter
		}
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: suffrage, ID: raft.ServerID(s.ID), Address: raft.ServerAddress(s.Addr)})
	}
	if len(conf.Servers) == 0 {
		return fmt.Errorf("recover: the snapshot file records no Raft configuration")
	}
	// The transport only encodes the peers of the legacy metadata field:
	// an in-memory one, used for nothing else, does that.
	_, trans := raft.NewInmemTransport("")
	defer trans.Close()
	sink, err := snaps.Create(raft.SnapshotVersionMax, info.Meta.Index, info.Meta.Term, conf, info.Meta.ConfigurationIndex, trans)
	if err != nil {
		return fmt.Errorf("recover: create raft snapshot: %w", err)
	}
	if err := (&Snapshot{txn: g.db.Txn(false)}).encode(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("recover: write raft snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("recover: write raft snapshot: %w", err)
	}
	return nil
}
