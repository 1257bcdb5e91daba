package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/jobspec"
)

// TestE2ECorruptEntryStopsOneReplica is issue 14's silent skip of a
// corrupt entry, on the real binary: three servers hold 20 jobs; one is
// stopped and a byte inside one job's entry in its raft.db is changed
// (bbolt checks its pages, not the values in them, so the store opens
// fine). Started again, that server stops with exit 1 naming the entry's
// index, instead of serving 19 jobs or a changed one; the other two serve
// the right data throughout; and the damaged server, started afresh and
// re-joined with the server join token, copies the right state from them.
func TestE2ECorruptEntryStopsOneReplica(t *testing.T) {
	t.Parallel()
	env := hermeticEnv()
	var dirs, https, rafts []string
	for range 3 {
		dirs, https, rafts = append(dirs, t.TempDir()), append(https, freeAddr(t)), append(rafts, freeAddr(t))
	}
	joinToken := filepath.Join(dirs[0], "server.join-token")
	serverArgs := func(i int, dir string) []string {
		args := []string{"server", "-data-dir", dir, "-http-addr", https[i], "-raft-addr", rafts[i],
			"-node-name", fmt.Sprintf("s%d", i+1), "-log-level", "warn"}
		if i == 0 {
			return append(args, "-bootstrap-expect", "1")
		}
		return append(args, "-join", https[0], "-join-token-file", joinToken)
	}
	procs := make([]*proc, 3)
	for i := range 3 {
		procs[i] = startProc(t, fmt.Sprintf("server s%d", i+1), env, serverArgs(i, dirs[i])...)
		if i == 0 {
			waitFile(t, managementTokenFile(dirs[0]), procs[0])
			waitFile(t, joinToken, procs[0])
		}
	}
	_, clients := managementClients(t, dirs[0], https)
	ctx := func() context.Context {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t.Cleanup(cancel)
		return c
	}
	waitErr(t, "three servers", 60*time.Second, func() error {
		peers, err := clients[0].Status().Peers(ctx())
		if err == nil && len(peers) != 3 {
			err = fmt.Errorf("%d peers", len(peers))
		}
		return err
	})

	// 20 jobs, each with a marker only its own entry holds.
	marker := func(i int) string { return fmt.Sprintf("marker-%02d-intact", i) }
	var victimIndex uint64
	for i := range 20 {
		f, diags := jobspec.Parse("j.hcl", []byte(fmt.Sprintf(`job "job-%02d" {
  datacenters = ["dc1"]
  meta { check = %q }
  group "g" {
    count = 0
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}`, i, marker(i))), nil)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		resp, err := clients[0].Jobs().Register(ctx(), &api.JobRegisterRequest{Job: f.Job})
		if err != nil {
			t.Fatal(err)
		}
		if i == 7 {
			victimIndex = resp.JobModifyIndex
		}
	}
	// s3 holds them all before it stops.
	waitErr(t, "s3 to hold 20 jobs", 30*time.Second, func() error {
		jobs, _, err := clients[2].Jobs().List(ctx(), &api.QueryOptions{Stale: true})
		if err == nil && len(jobs) != 20 {
			err = fmt.Errorf("%d jobs", len(jobs))
		}
		return err
	})
	procs[2].stop(syscall.SIGTERM)

	// Change one byte of job-07's marker wherever raft.db holds it:
	// inside the value, where only the entry's checksum can tell.
	db := filepath.Join(dirs[2], "raft", "raft.db")
	raw, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	old, changed := []byte(marker(7)), []byte(strings.Replace(marker(7), "intact", "INTACT", 1))
	if n := bytes.Count(raw, old); n == 0 {
		t.Fatalf("job-07's entry is not in s3's raft.db (compacted into a snapshot?)")
	}
	if err := os.WriteFile(db, bytes.ReplaceAll(raw, old, changed), 0o600); err != nil {
		t.Fatal(err)
	}

	// Started again, s3 stops loudly, naming the entry.
	r := runDrover(t, dirs[2], env, serverArgs(2, dirs[2])...)
	t.Logf("s3 restarted on its damaged log:\n%s", r)
	if r.code != 1 {
		t.Fatalf("s3 on a damaged log: exit %d, want 1\n%s", r.code, r)
	}
	m := regexp.MustCompile(`raft log entry (\d+) is corrupt: checksum mismatch`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("s3's error does not name the corrupt entry:\n%s", r)
	}
	if got, _ := strconv.ParseUint(m[1], 10, 64); got != victimIndex {
		t.Fatalf("s3 names entry %d; job-07 was written at %d", got, victimIndex)
	}
	if !strings.Contains(r.stderr, "-join") || !strings.Contains(r.stderr, "join-token") {
		t.Fatalf("s3's error does not say how to recover:\n%s", r.stderr)
	}

	// The others serve every job, unchanged.
	check := func(c *api.Client, stale bool) error {
		for i := range 20 {
			j, _, err := c.Jobs().Info(ctx(), fmt.Sprintf("job-%02d", i), &api.QueryOptions{Stale: stale})
			if err != nil {
				return err
			}
			if got := j.Spec.Meta["check"]; got != marker(i) {
				return fmt.Errorf("job-%02d's marker is %q", i, got)
			}
		}
		return nil
	}
	for i := range 2 {
		if err := check(clients[i], true); err != nil {
			t.Fatalf("s%d: %v", i+1, err)
		}
	}

	// Re-joined on a fresh data dir (the damaged one kept aside), s3
	// copies the state from the others.
	fresh := t.TempDir()
	procs[2] = startProc(t, "server s3 (rejoined)", env, serverArgs(2, fresh)...)
	waitErr(t, "the rejoined s3 to serve every job, unchanged", 60*time.Second, func() error {
		return check(clients[2], true)
	})
	peers, err := clients[0].Status().Peers(ctx())
	if err != nil || len(peers) != 3 {
		t.Fatalf("peers after the rejoin: %v %v (want 3: the stale s3 replaced)", peers, err)
	}
}
