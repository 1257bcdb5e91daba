package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/jobspec"
)

// metaJob is a job with no allocations whose meta holds note: a way to
// put entries of a chosen size into the Raft log.
func metaJob(t testing.TB, id, note string) *jobspec.Job {
	t.Helper()
	f, diags := jobspec.Parse(id+".hcl", []byte(fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  meta { note = %q }
  group "g" {
    count = 0
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}`, id, note)), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return f.Job
}

// TestServerRefusesLostRaftState is issue 14's silent re-bootstrap on the
// real binary: a server whose raft.db was removed, or emptied, refuses to
// start with exit 1 and a hint, instead of bootstrapping an empty cluster
// under the same name; nothing is created in its place.
func TestServerRefusesLostRaftState(t *testing.T) {
	for _, damage := range []string{"removed", "emptied", "truncated"} {
		t.Run(damage, func(t *testing.T) {
			dataDir, httpAddr, raftAddr := t.TempDir(), freeAddr(t), freeAddr(t)
			s := startServerAt(t, dataDir, httpAddr, raftAddr)
			if damage == "truncated" {
				// Enough entries that half the store holds some of them.
				for i := range 150 {
					if _, err := s.client.Jobs().Register(t.Context(), &api.JobRegisterRequest{Job: metaJob(t, fmt.Sprintf("job-%03d", i), strings.Repeat("x", 1000))}); err != nil {
						t.Fatal(err)
					}
				}
			}
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
			case "truncated":
				fi, err := os.Stat(db)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(db, fi.Size()/2&^4095); err != nil {
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
			if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
				t.Fatalf("a damaged store must be a clear error, not a panic:\n%s", out)
			}
			if fi, err := os.Stat(db); damage == "removed" && err == nil || damage == "emptied" && (err != nil || fi.Size() != 0) {
				t.Fatalf("raft.db was recreated or written: %v %v", fi, err)
			}
		})
	}
}
