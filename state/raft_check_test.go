package state

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// writeRaftDB writes a raft.db in dir holding n log entries of about 1 KiB
// each, what a job register weighs.
func writeRaftDB(t testing.TB, dir string, n int) string {
	t.Helper()
	path := filepath.Join(dir, raftDBFile)
	s, err := raftboltdb.New(raftboltdb.Options{Path: path, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("j"), 1024)
	for i := 0; i < n; i += 500 {
		var logs []*raft.Log
		for j := i; j < min(i+500, n); j++ {
			logs = append(logs, &raft.Log{Index: uint64(j + 1), Term: 1, Type: raft.LogCommand, Data: data, AppendedAt: time.Unix(0, 0)})
		}
		if err := s.StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckRaftDB(t *testing.T) {
	dir := t.TempDir()
	path := writeRaftDB(t, dir, 2000)
	if err := checkRaftDB(path); err != nil {
		t.Fatalf("a sound store: %v", err)
	}
	d, err := Inspect(dir)
	if err != nil || !d.DBExists || d.LastLogIndex != 2000 || !d.HasState() {
		t.Fatalf("Inspect = %+v, %v", d, err)
	}

	if err := os.Truncate(path, 64<<10); err != nil {
		t.Fatal(err)
	}
	if err := checkRaftDB(path); !errors.Is(err, ErrDamagedStore) {
		t.Fatalf("a truncated store: %v", err)
	}
	if _, err := Inspect(dir); !errors.Is(err, ErrDamagedStore) {
		t.Fatalf("Inspect of a truncated store: %v", err)
	}

	// A missing or empty file passes: raft-boltdb creates it, and the
	// caller decides with Inspect whether that is expected.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	if err := checkRaftDB(path); err != nil {
		t.Fatalf("an empty file: %v", err)
	}
	if d, err := Inspect(dir); err != nil || !d.DBExists || d.DBSize != 0 || d.HasState() {
		t.Fatalf("Inspect of an empty file = %+v, %v", d, err)
	}
	if d, err := Inspect(filepath.Join(dir, "nothing")); err != nil || d.DBExists || d.HasState() {
		t.Fatalf("Inspect of a missing dir = %+v, %v", d, err)
	}
}

// TestCheckRaftDBGarbage: a file that is not a bbolt database at all.
func TestCheckRaftDBGarbage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, raftDBFile)
	if err := os.WriteFile(path, bytes.Repeat([]byte{0xab}, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkRaftDB(path); !errors.Is(err, ErrDamagedStore) {
		t.Fatalf("garbage: %v", err)
	}
}

// BenchmarkCheckRaftDB measures the consistency check Open runs, on a
// store of 10,000 entries of 1 KiB.
func BenchmarkCheckRaftDB(b *testing.B) {
	path := writeRaftDB(b, b.TempDir(), 10000)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size())/(1<<20), "MiB")
	for b.Loop() {
		if err := checkRaftDB(path); err != nil {
			b.Fatal(err)
		}
	}
}
