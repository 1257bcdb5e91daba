package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestServerRefusesLostRaftState is issue 14's silent re-bootstrap on the
// real binary: a server whose raft.db was removed, or emptied, refuses to
// start with exit 1 and a hint, instead of bootstrapping an empty cluster
// under the same name; nothing is created in its place.
func TestServerRefusesLostRaftState(t *testing.T) {
	for _, damage := range []string{"removed", "emptied"} {
		t.Run(damage, func(t *testing.T) {
			dataDir, httpAddr, raftAddr := t.TempDir(), freeAddr(t), freeAddr(t)
			s := startServerAt(t, dataDir, httpAddr, raftAddr)
			s.proc.stop(syscall.SIGTERM)
			db := filepath.Join(dataDir, "raft", "raft.db")
			switch damage {
			case "removed":
				if err := os.Remove(db); err != nil {
					t.Fatal(err)
				}
			case "emptied":
				if err := os.Truncate(db, 0); err != nil {
					t.Fatal(err)
				}
			}
			r := runDrover(t, dataDir, hermeticEnv(), "server", "-bootstrap-expect", "1", "-data-dir", dataDir,
				"-http-addr", httpAddr, "-raft-addr", raftAddr, "-node-name", "e2e")
			if r.code != 1 {
				t.Fatalf("restart with its raft.db %s: exit %d, want 1\n%s", damage, r.code, r)
			}
			out := r.stdout + r.stderr
			if !strings.Contains(out, "raft.db") || !strings.Contains(out, "fresh data dir") || strings.Contains(out, "bootstrapped a new") {
				t.Fatalf("the refusal does not name raft.db and the way out:\n%s", out)
			}
			if fi, err := os.Stat(db); damage == "removed" && err == nil || damage == "emptied" && (err != nil || fi.Size() != 0) {
				t.Fatalf("raft.db was recreated or written: %v %v", fi, err)
			}
		})
	}
}
