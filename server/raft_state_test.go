package server_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
	"github.com/droverhq/drover/state"
	"github.com/droverhq/drover/state/statetest"
)

// TestLostRaftStateRefusesToStart: a server whose raft.db is gone, empty
// or cut short refuses to start, before it bootstraps a new cluster under
// its old identity (issue 14); a normal restart resumes.
func TestLostRaftStateRefusesToStart(t *testing.T) {
	cases := []struct {
		name    string
		damage  func(t *testing.T, raftDir string)
		want    string
		created bool // whether raft.db is expected to exist after New
	}{
		{"raft.db removed", func(t *testing.T, dir string) { must(t, os.Remove(filepath.Join(dir, "raft.db"))) },
			"raft.db is missing", false},
		{"raft dir removed", func(t *testing.T, dir string) { must(t, os.RemoveAll(dir)) },
			"raft.db is missing", false},
		{"raft.db empty", func(t *testing.T, dir string) { must(t, os.Truncate(filepath.Join(dir, "raft.db"), 0)) },
			"raft.db is empty", true},
		{"raft.db truncated", func(t *testing.T, dir string) { must(t, os.Truncate(filepath.Join(dir, "raft.db"), 64<<10)) },
			"the file was cut short", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := servertest.Single(t)
			cfg := s.Config
			must(t, s.Stop())
			raftDir := filepath.Join(cfg.DataDir, "raft")
			if tc.name == "raft.db truncated" {
				growRaftDB(t, cfg)
			}
			tc.damage(t, raftDir)

			_, err := server.New(cfg, statetest.Logger(t))
			if err == nil {
				t.Fatal("New started on a data dir that lost its Raft state")
			}
			for _, want := range []string{tc.want, "fresh data dir", "snapshot"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
			if tc.name == "raft.db truncated" && !errors.Is(err, state.ErrDamagedStore) {
				t.Errorf("not ErrDamagedStore: %v", err)
			}
			_, statErr := os.Stat(filepath.Join(raftDir, "raft.db"))
			if exists := statErr == nil; exists != tc.created {
				t.Errorf("raft.db exists after New: %v, want %v", exists, tc.created)
			}
			if fi, err := os.Stat(filepath.Join(raftDir, "raft.db")); err == nil && tc.name == "raft.db empty" && fi.Size() != 0 {
				t.Errorf("New wrote %d bytes into the empty raft.db: it bootstrapped", fi.Size())
			}
		})
	}
}

// growRaftDB restarts the server and writes until raft.db is well past
// 64 KiB, so that truncating it cuts pages off.
func growRaftDB(t *testing.T, cfg server.Config) {
	t.Helper()
	s := servertest.Start(t, cfg)
	servertest.WaitFor(t, "a leader", func() bool { return s.State().IsLeader() })
	registerNodes(t, s.Client, 100)
	must(t, s.Stop())
	fi, err := os.Stat(filepath.Join(cfg.DataDir, "raft", "raft.db"))
	must(t, err)
	if fi.Size() <= 64<<10 {
		t.Fatalf("raft.db is only %d bytes", fi.Size())
	}
}

// TestRestartResumes: a normal restart resumes at the index it stopped at.
func TestRestartResumes(t *testing.T) {
	s := servertest.Single(t)
	if s.ResumedAt() != 0 {
		t.Fatalf("a new server resumed at %d", s.ResumedAt())
	}
	registerNodes(t, s.Client, 2)
	last := s.State().LastIndex()
	cfg := s.Config
	must(t, s.Stop())
	s2 := servertest.Start(t, cfg)
	if s2.ResumedAt() < last {
		t.Fatalf("resumed at %d, want >= %d", s2.ResumedAt(), last)
	}
}

// TestFailedFirstStartMayStartAgain: a first start that failed after it
// created the server's identity (its HTTP port was taken) never had Raft
// state, and starts again.
func TestFailedFirstStartMayStartAgain(t *testing.T) {
	cfg := servertest.Config(t, "s0")
	cfg.BootstrapExpect = 1
	taken := servertest.Single(t)
	bad := cfg
	bad.HTTPAddr = taken.HTTPAddr()
	if _, err := server.New(bad, statetest.Logger(t)); err == nil {
		t.Fatal("New bound a taken port")
	}
	for _, f := range []string{"server-id", "tls/server.pem"} {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, f)); err != nil {
			t.Fatalf("the failed start left no %s: the case is not exercised", f)
		}
	}
	s := servertest.Start(t, cfg)
	servertest.WaitFor(t, "a leader", func() bool { return s.State().IsLeader() })
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
