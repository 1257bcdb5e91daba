package state

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/raft"
)

// A snapshot file is what `drover operator snapshot save` writes and
// `restore` reads: self-describing, so that `inspect` checks it offline,
// without a server.
//
//	drover-snapshot v1\n          magic line
//	{...}\n                       SnapshotFileMeta as one JSON line
//	<state stream>                meta.state_size bytes, the FSM's format (fsm_snapshot.go)
//	sha256:<64 hex digits>\n      SHA-256 of every byte before this line
//
// The checksum comes last so that a server streams the file as raft
// reads its snapshot from disk, without a second pass; it covers the
// header too, so an altered index or term is caught like an altered
// record.
const (
	snapshotFileMagic = "drover-snapshot v1\n"
	// SnapshotFileFormat is the format version this Drover writes and
	// reads.
	SnapshotFileFormat = 1
	trailerPrefix      = "sha256:"
	trailerLen         = len(trailerPrefix) + 2*sha256.Size + 1
	// maxMetaLine bounds the JSON header, which holds a few fields and the
	// Raft configuration: a file whose first line does not end within it
	// is not a snapshot.
	maxMetaLine = 1 << 20
)

// ErrBadSnapshot is returned for a snapshot file that is truncated,
// altered, of another format, or not a snapshot at all. Nothing was
// restored.
var ErrBadSnapshot = errors.New("state: bad snapshot file")

// SnapshotFileMeta is the header of a snapshot file.
type SnapshotFileMeta struct {
	Format        int    `json:"format"`
	DroverVersion string `json:"drover_version,omitempty"`
	// Index and Term are the Raft position of the state.
	Index uint64    `json:"index"`
	Term  uint64    `json:"term"`
	Time  time.Time `json:"time"`
	// ServerID is the server that took the snapshot.
	ServerID string `json:"server_id"`
	// StateSize is the length of the state stream in bytes.
	StateSize int64 `json:"state_size"`
	// Servers and ConfigurationIndex are the Raft configuration the
	// snapshot was taken in: `drover server -recover` starts from it.
	// A restore onto another cluster keeps that cluster's own.
	Servers            []Server `json:"servers"`
	ConfigurationIndex uint64   `json:"configuration_index"`
}

// SnapshotInfo is what a verified snapshot file holds.
type SnapshotInfo struct {
	Meta SnapshotFileMeta `json:"meta"`
	// Size is the size of the whole file; SHA256 its checksum.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Records counts the data records of the state stream (index entries
	// aside); Tables counts them per table, with jobs, the latest version
	// of each job, which a restore derives from job_versions.
	Records uint64         `json:"records"`
	Tables  map[string]int `json:"tables"`
}

// SaveSnapshot makes Raft take a snapshot of the state now and writes it
// to w as a snapshot file; version is the Drover version recorded in it.
// On a follower it saves the follower's own state, which may lag the
// leader's.
//
// Once the first byte is written, an error leaves w with a file that
// fails its checksum, never with one that passes but is incomplete.
func (r *Replicated) SaveSnapshot(ctx context.Context, w io.Writer, version string) (*SnapshotFileMeta, error) {
	f := r.raft.Snapshot()
	if err := r.wait(ctx, f); err != nil {
		return nil, r.mapErr(ctx, "snapshot", err)
	}
	meta, rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("snapshot: open: %w", err)
	}
	defer rc.Close()
	fm := SnapshotFileMeta{
		Format:             SnapshotFileFormat,
		DroverVersion:      version,
		Index:              meta.Index,
		Term:               meta.Term,
		Time:               time.Now().UTC().Truncate(time.Millisecond),
		ServerID:           r.cfg.NodeID,
		StateSize:          meta.Size,
		ConfigurationIndex: meta.ConfigurationIndex,
	}
	for _, s := range meta.Configuration.Servers {
		fm.Servers = append(fm.Servers, Server{ID: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	if err := writeSnapshotFile(ctx, w, fm, rc); err != nil {
		return nil, err
	}
	return &fm, nil
}

// writeSnapshotFile writes the magic line, the header, the state stream
// (exactly meta.StateSize bytes of it) and the checksum.
func writeSnapshotFile(ctx context.Context, w io.Writer, meta SnapshotFileMeta, stream io.Reader) error {
	h := sha256.New()
	mw := io.MultiWriter(w, h)
	line, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("snapshot: encode header: %w", err)
	}
	if _, err := io.WriteString(mw, snapshotFileMagic); err != nil {
		return fmt.Errorf("snapshot: write: %w", err)
	}
	if _, err := mw.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("snapshot: write: %w", err)
	}
	n, err := io.Copy(mw, &ctxReader{ctx: ctx, r: io.LimitReader(stream, meta.StateSize)})
	if err != nil {
		return fmt.Errorf("snapshot: write: %w", err)
	}
	if n != meta.StateSize {
		return fmt.Errorf("snapshot: raft's snapshot has %d bytes, its metadata says %d", n, meta.StateSize)
	}
	if _, err := fmt.Fprintf(w, "%s%x\n", trailerPrefix, h.Sum(nil)); err != nil {
		return fmt.Errorf("snapshot: write: %w", err)
	}
	return nil
}

// ctxReader ends a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// InspectSnapshot reads a whole snapshot file and checks it: the format,
// that the state stream decodes record by record into the tables a
// restore would build, and the checksum. It needs no server. A
// truncated or altered file is an ErrBadSnapshot that says which.
//
// It reads the file twice, checksum first, so that nothing is decoded
// from bytes the checksum does not vouch for: r must seek.
func InspectSnapshot(r io.ReadSeeker) (*SnapshotInfo, error) {
	info, _, err := readSnapshotFile(r)
	return info, err
}

// ReadSnapshotMeta reads only the header of a snapshot file, without
// checking the rest: what -recover uses to pick the newest file before
// it verifies that one.
func ReadSnapshotMeta(r io.Reader) (*SnapshotFileMeta, error) {
	br := bufio.NewReader(r)
	meta, _, err := readSnapshotHeader(br)
	return meta, err
}

func badSnapshot(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadSnapshot, fmt.Sprintf(format, args...))
}

// readSnapshotHeader reads the magic line and the header, returning the
// bytes read for the checksum.
func readSnapshotHeader(br *bufio.Reader) (*SnapshotFileMeta, []byte, error) {
	magic := make([]byte, len(snapshotFileMagic))
	if n, err := io.ReadFull(br, magic); err != nil || string(magic) != snapshotFileMagic {
		if n > 0 && bytes.HasPrefix([]byte(snapshotFileMagic), magic[:n]) {
			return nil, nil, badSnapshot("the file ends after %d bytes, inside its first line: truncated", n)
		}
		return nil, nil, badSnapshot("not a Drover snapshot file (it does not start with %q)", bytes.TrimSpace([]byte(snapshotFileMagic)))
	}
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) && len(line) <= maxMetaLine {
			continue
		}
		if errors.Is(err, io.EOF) {
			return nil, nil, badSnapshot("the file ends inside its header: truncated")
		}
		return nil, nil, badSnapshot("header line longer than %d bytes", maxMetaLine)
	}
	var meta SnapshotFileMeta
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&meta); err != nil {
		// Unknown fields are refused on purpose: a header written by a
		// newer format carries a higher Format, which is the clearer
		// error; anything else is damage.
		var probe struct {
			Format int `json:"format"`
		}
		if json.Unmarshal(line, &probe) == nil && probe.Format > SnapshotFileFormat {
			return nil, nil, badSnapshot("snapshot format %d is newer than this Drover reads (%d): use a newer drover", probe.Format, SnapshotFileFormat)
		}
		return nil, nil, badSnapshot("header: %v (the file was altered or damaged)", err)
	}
	switch {
	case meta.Format > SnapshotFileFormat:
		return nil, nil, badSnapshot("snapshot format %d is newer than this Drover reads (%d): use a newer drover", meta.Format, SnapshotFileFormat)
	case meta.Format != SnapshotFileFormat:
		return nil, nil, badSnapshot("header: format %d is not a snapshot format", meta.Format)
	case meta.StateSize <= 0 || meta.StateSize > 1<<40:
		return nil, nil, badSnapshot("header: state size %d is out of range (the file was altered or damaged)", meta.StateSize)
	}
	return &meta, append([]byte(snapshotFileMagic), line...), nil
}

// verifySnapshotFile reads a whole snapshot file once: the header, the
// length of the state and the checksum over everything. It decodes no
// record, so a damaged length inside the state cannot make it allocate
// much. It returns the file's info without counts, and where the state
// starts.
func verifySnapshotFile(r io.Reader) (*SnapshotInfo, int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	meta, head, err := readSnapshotHeader(br)
	if err != nil {
		return nil, 0, err
	}
	h := sha256.New()
	h.Write(head)
	n, err := io.CopyN(h, br, meta.StateSize)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, badSnapshot("read: %v", err)
	}
	if n < meta.StateSize {
		return nil, 0, badSnapshot("truncated: the file ends %d bytes into its state, which has %d", n, meta.StateSize)
	}
	trailer := make([]byte, trailerLen)
	if _, err := io.ReadFull(br, trailer); err != nil {
		return nil, 0, badSnapshot("truncated: the checksum line at the end is missing or cut short")
	}
	if string(trailer[:len(trailerPrefix)]) != trailerPrefix || trailer[trailerLen-1] != '\n' {
		return nil, 0, badSnapshot("no checksum line after the state (the file was altered or damaged)")
	}
	if extra, _ := io.Copy(io.Discard, br); extra > 0 {
		return nil, 0, badSnapshot("%d bytes after the checksum line (the file was altered, or two files were joined)", extra)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if got := string(trailer[len(trailerPrefix) : trailerLen-1]); got != sum {
		return nil, 0, badSnapshot("checksum mismatch: the file says sha256 %s, its content hashes to %s (the file was altered or damaged)", got, sum)
	}
	size := int64(len(head)) + meta.StateSize + int64(trailerLen)
	return &SnapshotInfo{Meta: *meta, Size: size, SHA256: sum}, int64(len(head)), nil
}

// readSnapshotFile verifies a snapshot file (first pass: the checksum)
// and then decodes its state into a generation that nothing has seen
// yet (second pass). On any error nothing is returned: a caller never
// restores part of a file.
func readSnapshotFile(r io.ReadSeeker) (*SnapshotInfo, *generation, error) {
	start, err := r.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot: %w", err)
	}
	info, head, err := verifySnapshotFile(r)
	if err != nil {
		return nil, nil, err
	}
	if _, err := r.Seek(start+head, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("snapshot: %w", err)
	}
	g, err := readSnapshot(io.LimitReader(r, info.Meta.StateSize))
	if err != nil {
		// The checksum holds, so this is what the writer wrote: a Drover
		// whose records this one cannot read.
		return nil, nil, badSnapshot("the state does not decode although its checksum holds (written by another Drover version?): %v", err)
	}
	info.Tables = map[string]int{}
	txn := g.db.Txn(false)
	for _, table := range dataTables {
		it, err := txn.Get(table, "id")
		if err != nil {
			return nil, nil, fmt.Errorf("snapshot: count %s: %w", table, err)
		}
		n := 0
		for raw := it.Next(); raw != nil; raw = it.Next() {
			n++
		}
		info.Tables[table] = n
		if table != TableJobs {
			info.Records += uint64(n)
		}
	}
	return info, g, nil
}

// RestoreSnapshot replaces the whole cluster state with a snapshot file's,
// on the leader; raft then sends it to every follower (InstallSnapshot).
// The file is verified to the last byte before anything changes: a
// truncated or altered file is an ErrBadSnapshot and the state is as it
// was.
//
// What belongs to this cluster and not to the one the snapshot came from
// stays: the server member records and the TLS keyring (sealed under this
// cluster's key). Everything else is the snapshot's: jobs, allocations,
// evaluations, deployments, nodes, sync status, ACL policies and tokens
// (so the snapshot cluster's tokens work here, and this cluster's do no
// more) and the audit log. Every table's index is set above any index
// this cluster served before, so that blocking queries wake and no index
// goes backwards.
//
// hashicorp/raft documents a user restore as disaster recovery: the
// leader runs ahead of its followers until they installed the snapshot.
//
// rd is read twice (see InspectSnapshot): the server streams an upload
// to a file first.
func (r *Replicated) RestoreSnapshot(ctx context.Context, rd io.ReadSeeker) (*SnapshotInfo, error) {
	if !r.IsLeader() {
		addr, id := r.Leader()
		return nil, fmt.Errorf("restore: %w (leader %q at %q)", ErrNotLeader, id, addr)
	}
	info, g, err := readSnapshotFile(rd)
	if err != nil {
		return nil, err
	}
	// raft.Restore takes max(last index, snapshot index) + 1 as the
	// restore's own index; the same floor for the tables keeps them at or
	// below it.
	floor := max(r.raft.LastIndex(), info.Meta.Index) + 1
	if err := adoptCluster(g, r.store.Snapshot(), floor); err != nil {
		return nil, err
	}
	// raft copies the stream into a snapshot of its own and panics if the
	// FSM then fails to restore it, so it gets a stream this package just
	// encoded from tables it just built, never the caller's bytes.
	tmp, err := os.CreateTemp(r.cfg.DataDir, ".restore-*.state")
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer func() {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
	}()
	if err := (&Snapshot{txn: g.db.Txn(false)}).encode(tmp); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	timeout, err := enqueueTimeout(ctx)
	if err != nil {
		return nil, err
	}
	if timeout == 0 {
		// raft.Restore cannot be cancelled; it must not wait forever.
		timeout = 10 * time.Minute
	}
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: info.Meta.Index, Term: info.Meta.Term, Size: size}
	if err := r.raft.Restore(meta, tmp, timeout); err != nil {
		return nil, r.mapErr(ctx, "restore", err)
	}
	r.logger.Info("restored a snapshot", "snapshot_index", info.Meta.Index, "snapshot_server", info.Meta.ServerID,
		"records", info.Records, "index", r.raft.LastIndex())
	return info, nil
}

// adoptCluster makes a restored generation this cluster's: its members
// and keyring records replace the snapshot's, and every table's index
// becomes floor.
func adoptCluster(g *generation, keep *Snapshot, floor uint64) error {
	txn := g.db.Txn(true)
	defer txn.Abort()
	for _, table := range []string{TableMembers, TableTLSKeyring, TableIdentityKey, TableSealKey} {
		if _, err := txn.DeleteAll(table, "id"); err != nil {
			return fmt.Errorf("restore: clear %s: %w", table, err)
		}
		it, err := keep.txn.Get(table, "id")
		if err != nil {
			return fmt.Errorf("restore: read %s: %w", table, err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if err := txn.Insert(table, raw); err != nil {
				return fmt.Errorf("restore: keep %s: %w", table, err)
			}
		}
	}
	for _, table := range dataTables {
		if err := txn.Insert(tableIndex, &indexEntry{Table: table, Index: floor}); err != nil {
			return fmt.Errorf("restore: index of %s: %w", table, err)
		}
	}
	txn.Commit()
	return nil
}
