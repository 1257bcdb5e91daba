package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Automatic snapshots: while a server leads, it writes a snapshot file
// every SnapshotInterval into <data-dir>/snapshots and keeps the newest
// SnapshotRetain, the files `drover operator snapshot restore` and
// `drover server -recover` take. Followers have raft's own snapshots
// (<data-dir>/raft/snapshots), which -recover takes too.

const (
	autoSnapshotDir    = "snapshots"
	autoSnapshotPrefix = "drover-"
	autoSnapshotSuffix = ".snap"
	// autoSnapshotTime is fixed-width, so that names sort by time.
	autoSnapshotTime = "20060102T150405Z"
)

// autoSnapshotName names a file by when it was taken and its index.
func autoSnapshotName(t time.Time, index uint64) string {
	return fmt.Sprintf("%s%s-%d%s", autoSnapshotPrefix, t.UTC().Format(autoSnapshotTime), index, autoSnapshotSuffix)
}

// autoSnapshotTaken parses when a file named by autoSnapshotName was
// taken; ok is false for any other name.
func autoSnapshotTaken(name string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(name, autoSnapshotPrefix)
	if !ok || !strings.HasSuffix(rest, autoSnapshotSuffix) || len(rest) < len(autoSnapshotTime) {
		return time.Time{}, false
	}
	t, err := time.Parse(autoSnapshotTime, rest[:len(autoSnapshotTime)])
	return t, err == nil
}

// listAutoSnapshots returns the automatic snapshot files in dataDir,
// oldest first.
func listAutoSnapshots(dataDir string) ([]string, error) {
	dir := filepath.Join(dataDir, autoSnapshotDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if _, ok := autoSnapshotTaken(e.Name()); ok && e.Type().IsRegular() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(out)
	return out, nil
}

// runAutoSnapshots is a leader duty. The first snapshot is due an
// interval after the newest file in the data dir (a leader that changes
// often still writes them), but at the earliest a minute into the term,
// so that a flapping leadership does not write one each time.
func (s *Server) runAutoSnapshots(ctx context.Context) {
	interval := s.cfg.SnapshotInterval
	if interval <= 0 {
		return
	}
	// A crash while writing leaves a temporary file; only this duty
	// writes them.
	if tmps, _ := filepath.Glob(filepath.Join(s.cfg.DataDir, autoSnapshotDir, ".auto-*.tmp")); len(tmps) > 0 {
		for _, p := range tmps {
			_ = os.Remove(p)
		}
	}
	now := time.Now()
	due := now.Add(interval)
	if files, _ := listAutoSnapshots(s.cfg.DataDir); len(files) > 0 {
		if t, ok := autoSnapshotTaken(filepath.Base(files[len(files)-1])); ok {
			due = t.Add(interval)
			if earliest := now.Add(min(interval, time.Minute)); due.Before(earliest) {
				due = earliest
			}
		}
	}
	timer := time.NewTimer(time.Until(due))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if path, err := s.writeAutoSnapshot(ctx, time.Now()); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.logger.Error("automatic snapshot failed", "err", err)
		} else {
			s.logger.Info("automatic snapshot written", "path", path)
		}
		timer.Reset(interval)
	}
}

// writeAutoSnapshot writes one snapshot file, mode 0600, atomically (a
// temporary file in the same directory, synced, then renamed: a crash
// leaves no half file under a snapshot's name), and prunes old ones.
func (s *Server) writeAutoSnapshot(ctx context.Context, now time.Time) (string, error) {
	dir := filepath.Join(s.cfg.DataDir, autoSnapshotDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".auto-*.tmp")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	meta, err := s.raft.SaveSnapshot(ctx, tmp, s.cfg.Version)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, autoSnapshotName(now, meta.Index))
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename itself durable
		_ = d.Close()
	}
	return path, s.pruneAutoSnapshots()
}

// pruneAutoSnapshots removes all but the newest SnapshotRetain files.
func (s *Server) pruneAutoSnapshots() error {
	files, err := listAutoSnapshots(s.cfg.DataDir)
	if err != nil {
		return err
	}
	var errs []error
	for len(files) > max(s.cfg.SnapshotRetain, 1) {
		if err := os.Remove(files[0]); err != nil {
			errs = append(errs, err)
		}
		files = files[1:]
	}
	return errors.Join(errs...)
}

// validateSnapshots checks the snapshot settings of Config.
func (c Config) validateSnapshots() []error {
	var errs []error
	if c.SnapshotInterval < 0 || c.SnapshotInterval > 0 && c.SnapshotInterval < time.Second {
		errs = append(errs, fmt.Errorf("snapshot interval %s: want at least 1s (or 0 to turn automatic snapshots off)", c.SnapshotInterval))
	}
	if c.SnapshotInterval > 0 && c.SnapshotRetain < 1 {
		errs = append(errs, errors.New("snapshot retain must be at least 1"))
	}
	if c.SnapshotRestoreMaxBytes <= 0 {
		errs = append(errs, errors.New("snapshot restore max bytes must be positive"))
	}
	return errs
}
