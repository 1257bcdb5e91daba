package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

// Snapshots through the API, Nomad's routes:
//
//	GET /v1/operator/snapshot   streams a snapshot file (state.SaveSnapshot)
//	PUT /v1/operator/snapshot   restores one (state.RestoreSnapshot)
//
// Both need a management token, as in Nomad: a snapshot holds every ACL
// token's hash and the sealed keyring, and a restore replaces everything.

// snapshotPath is the route of both.
const snapshotPath = "/v1/operator/snapshot"

func (s *Server) snapshotRoutes(mux *router) {
	mux.handle("GET "+snapshotPath, CapManagement, s.read(s.snapshotSave))
	mux.handle("PUT "+snapshotPath, CapManagement, s.write(s.snapshotRestore))
}

// isSnapshotRestore picks the one request whose body is a snapshot file:
// it may be as large as SnapshotRestoreMaxBytes (withBodyLimit) and is
// declared application/octet-stream instead of JSON (browser.go).
func isSnapshotRestore(r *http.Request) bool {
	return r.Method == http.MethodPut && r.URL.Path == snapshotPath
}

// snapshotSave streams a snapshot file. Errors before the first byte are
// answered as usual; once the file is streaming, an error aborts the
// connection, so that the client sees a broken transfer, and a file cut
// short fails its checksum anyway.
func (s *Server) snapshotSave(w http.ResponseWriter, r *http.Request) error {
	lw := &lazyHeaderWriter{w: w, start: func() {
		w.Header().Set("Content-Type", api.SnapshotContentType)
		w.Header().Set("Content-Disposition", `attachment; filename="drover.snap"`)
		s.setMeta(w, s.raft.AppliedIndex())
		w.WriteHeader(http.StatusOK)
	}}
	meta, err := s.raft.SaveSnapshot(r.Context(), lw, s.cfg.Version)
	if err != nil {
		if !lw.started {
			return err
		}
		s.logger.Warn("snapshot save failed while streaming", "err", err, "bytes", lw.n)
		panic(http.ErrAbortHandler)
	}
	s.logger.Info("snapshot saved through the API", "index", meta.Index, "term", meta.Term, "bytes", lw.n)
	return nil
}

// lazyHeaderWriter sends the status and headers with the first byte.
type lazyHeaderWriter struct {
	w       http.ResponseWriter
	start   func()
	started bool
	n       int64
}

func (l *lazyHeaderWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.start()
	}
	n, err := l.w.Write(p)
	l.n += int64(n)
	return n, err
}

// snapshotRestore takes a snapshot file as the request body and restores
// it. The body goes to a temporary file in the data dir first: the file
// is verified to its last byte (checksum, then every record) before
// anything changes, and an upload cut short changes nothing.
func (s *Server) snapshotRestore(w http.ResponseWriter, r *http.Request) error {
	dir := filepath.Join(s.cfg.DataDir, autoSnapshotDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	f, err := os.CreateTemp(dir, ".restore-upload-*")
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}()
	n, err := io.Copy(f, r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errorf(http.StatusBadRequest, "read the snapshot file after %d bytes: %v", n, err)
	}
	if n == 0 {
		return errorf(http.StatusBadRequest, "the request has no body: send a snapshot file (drover operator snapshot restore FILE)")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	info, err := s.raft.RestoreSnapshot(r.Context(), f)
	if errors.Is(err, state.ErrBadSnapshot) {
		return errorf(http.StatusBadRequest, "%v; nothing was restored", err)
	}
	if err != nil {
		return err
	}
	s.afterRestore(time.Now())
	idx := s.raft.LastIndex()
	s.logger.Warn("the cluster state was replaced by a snapshot restore", "snapshot_index", info.Meta.Index,
		"snapshot_server", info.Meta.ServerID, "snapshot_time", info.Meta.Time, "index", idx)
	return s.reply(w, idx, &api.SnapshotRestoreResponse{
		SnapshotIndex: info.Meta.Index, SnapshotServer: info.Meta.ServerID, SnapshotTime: info.Meta.Time.Format(time.RFC3339),
		Index: idx, Tables: info.Tables,
	})
}

// afterRestore makes the leader's in-memory duties follow the restored
// state: the heartbeat tracker knows only the nodes it had, so the
// restored ones get a fresh TTL with the failover grace, as at a change
// of leader (their agents may be on their way to this cluster); blocked
// evaluations run again on the restored nodes.
func (s *Server) afterRestore(now time.Time) {
	s.hb.trackAll(now)
	select {
	case s.unblockC <- struct{}{}:
	default:
	}
}

// trackAll replaces the deadlines with one for every node that is not
// down, TTL and both graces from now. It does nothing when not leading.
func (h *heartbeats) trackAll(now time.Time) {
	grace := h.s.cfg.HeartbeatTTL + h.s.cfg.HeartbeatGrace + h.s.cfg.FailoverHeartbeatGrace
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.deadlines == nil {
		return
	}
	h.deadlines = map[string]time.Time{}
	for _, n := range h.s.raft.Store().Snapshot().Nodes() {
		if n.Status != cluster.NodeStatusDown {
			h.deadlines[n.ID] = now.Add(grace)
		}
	}
	h.kick()
}
