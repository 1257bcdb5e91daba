package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// Garbage collection end to end (issue 14 point 4): the real binary, Raft
// on disk, the API and CLI on loopback.

// gcJobHCL is a small service job; with no client nodes its evaluations
// block, so each write costs the register and its evaluation, nothing
// more.
func gcJobHCL(id string) string {
	return fmt.Sprintf(`
job %q {
  datacenters = ["dc1"]
  group "web" {
    count = 1
    task "server" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`, id)
}

func parseE2EJob(t testing.TB, src string) *jobspec.Job {
	t.Helper()
	f, diags := jobspec.Parse("job.nomad.hcl", []byte(src), nil)
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	return f.Job
}

// gcCommit is the fake commit of a job's version v: each write carries
// the Source a reconciler would send, so that history has a commit per
// version to keep.
func gcCommit(job string, v int) string {
	sum := sha1.Sum(fmt.Appendf(nil, "%s@%d", job, v))
	return hex.EncodeToString(sum[:])
}

// TestE2EGCKeepsTrackedVersions is the acceptance test: 8,400 writes to
// 50 jobs, the leader collecting every second meanwhile, then `drover
// system gc`: every job has at most job_tracked_versions (6) versions
// left, and `drover history` still lists the commit of every version.
func TestE2EGCKeepsTrackedVersions(t *testing.T) {
	if testing.Short() {
		t.Skip("8,400 writes through a real server; not in -short")
	}
	const jobs, writes = 50, 8400
	conf := filepath.Join(t.TempDir(), "server.hcl")
	writeFile(t, conf, `gc_interval = "1s"
job_tracked_versions = 6
`)
	s := startServer(t, "-config", conf)

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, jobs)
	for j := range jobs {
		id := fmt.Sprintf("job-%02d", j)
		spec := parseE2EJob(t, gcJobHCL(id))
		wg.Go(func() {
			// One writer per job: its versions come in order, and all
			// 50 at once keep Raft's batches full.
			for v := range writes / jobs {
				spec.Meta = map[string]string{"revision": fmt.Sprint(v)} // a new version each time
				src := &cluster.Source{Name: "prod", Repo: "https://git.example.com/ops/jobs.git", Ref: "refs/heads/main",
					Commit: gcCommit(id, v), Author: "Ada", CommitTime: start, Subject: fmt.Sprintf("%s revision %d", id, v), Path: id + ".nomad.hcl"}
				resp, err := s.client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: spec, Source: src})
				if err != nil {
					errs <- fmt.Errorf("%s write %d: %w", id, v, err)
					return
				}
				if resp.Version != uint64(v) {
					errs <- fmt.Errorf("%s write %d made version %d", id, v, resp.Version)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	t.Logf("%d job writes to %d jobs in %v (%.0f writes/s)", writes, jobs, elapsed.Round(time.Millisecond), float64(writes)/elapsed.Seconds())

	// Let the scheduler catch up: a job whose newest evaluation has not
	// run yet still has an active deployment of an older version, which
	// keeps that version (its rollout may still need it).
	gcWaitFor(t, "no pending evaluations", func() bool {
		evals, _, err := s.client.Evaluations().List(ctx, nil)
		if err != nil {
			return false
		}
		for _, e := range evals {
			if e.Status == cluster.EvalStatusPending {
				return false
			}
		}
		return true
	})
	r := s.cli(t, "", "system", "gc", "-json")
	if r.code != exitOK {
		t.Fatalf("drover system gc: %s", r)
	}
	var counts api.GCResponse
	if err := json.Unmarshal([]byte(r.stdout), &counts); err != nil {
		t.Fatalf("drover system gc -json: %v\n%s", err, r.stdout)
	}
	t.Logf("the forced collection removed %+v (the periodic one ran meanwhile)", counts)

	stubs, _, err := s.client.Jobs().List(ctx, nil)
	if err != nil || len(stubs) != jobs {
		t.Fatalf("%d jobs (%v), want %d", len(stubs), err, jobs)
	}
	for _, st := range stubs {
		versions, _, err := s.client.Jobs().Versions(ctx, st.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(versions) == 0 || len(versions) > 6 {
			t.Errorf("%s keeps %d versions, want at most 6", st.ID, len(versions))
		}
		if st.Version != uint64(writes/jobs-1) {
			t.Errorf("%s is at version %d, want %d", st.ID, st.Version, writes/jobs-1)
		}
	}

	// Every version's commit is still in history, the collected ones
	// marked so.
	r = s.cli(t, "", "history", "job-07", "-json")
	if r.code != exitOK {
		t.Fatalf("drover history: %s", r)
	}
	var entries []historyEntry
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != writes/jobs {
		t.Fatalf("history lists %d versions of job-07, want %d", len(entries), writes/jobs)
	}
	collected := 0
	for i, e := range entries {
		v := writes/jobs - 1 - i // newest first
		if e.Version != uint64(v) || e.Source == nil || e.Source.Commit != gcCommit("job-07", v) {
			t.Fatalf("history row %d: version %d, source %+v; want version %d from commit %s", i, e.Version, e.Source, v, gcCommit("job-07", v))
		}
		if e.Collected {
			collected++
		}
	}
	if collected != writes/jobs-6 {
		t.Errorf("%d versions marked collected, want %d", collected, writes/jobs-6)
	}
	r = s.cli(t, "", "history", "job-07")
	if r.code != exitOK || !strings.Contains(r.stdout, shortSHA(gcCommit("job-07", 0))) || !strings.Contains(r.stdout, "collected") {
		t.Errorf("drover history job-07 does not show version 0's commit as collected:\n%s", r)
	}
}

// TestE2EGCTerminalAllocations: a stopped job's allocations are kept for
// eval_gc_threshold after they stopped, then collected by the leader's
// loop; the job itself stays until job_gc_threshold.
func TestE2EGCTerminalAllocations(t *testing.T) {
	const threshold = 3 * time.Second
	conf := filepath.Join(t.TempDir(), "server.hcl")
	writeFile(t, conf, `gc_interval = "300ms"
eval_gc_threshold = "3s"
deployment_gc_threshold = "3s"
`)
	s := startServer(t, "-config", conf)
	s.addNodes(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	job := parseE2EJob(t, gcJobHCL("web"))
	job.Groups[0].Count = 2
	if _, err := s.client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: job}); err != nil {
		t.Fatal(err)
	}
	gcWaitFor(t, "two allocations of web", func() bool {
		allocs, _, err := s.client.Jobs().Allocations(ctx, "web", nil)
		return err == nil && len(allocs) == 2
	})
	if r := s.cli(t, "", "job", "stop", "-detach", "web"); r.code != exitOK {
		t.Fatalf("drover job stop: %s", r)
	}
	var stopped []*cluster.Allocation
	gcWaitFor(t, "web's allocations to stop", func() bool {
		allocs, _, err := s.client.Jobs().Allocations(ctx, "web", nil)
		if err != nil || len(allocs) != 2 {
			return false
		}
		for _, a := range allocs {
			if !a.Terminal() {
				return false
			}
		}
		stopped = allocs
		return true
	})
	// Three passes of the loop later, within the threshold, they stay
	// (checked only while surely within it: a slow machine may have seen
	// the stop late).
	time.Sleep(time.Second)
	allocs, _, err := s.client.Jobs().Allocations(ctx, "web", nil)
	if age := time.Since(stopped[0].ModifyTime); err == nil && age < threshold-500*time.Millisecond && len(allocs) != 2 {
		t.Fatalf("%d allocations %v after they stopped, want 2 until eval_gc_threshold", len(allocs), age)
	}
	gcWaitFor(t, "web's allocations to be collected", func() bool {
		allocs, _, err := s.client.Jobs().Allocations(ctx, "web", nil)
		return err == nil && len(allocs) == 0
	})
	for _, a := range stopped {
		if age := time.Since(a.ModifyTime); age < threshold {
			t.Errorf("allocation %s collected %v after it stopped, before eval_gc_threshold", a.ID, age)
		}
	}
	if r := s.cli(t, "", "job", "status", "web"); r.code != exitOK {
		t.Errorf("the stopped job is gone before job_gc_threshold: %s", r)
	}
}

// gcWaitFor polls cond every 100ms for up to a minute.
func gcWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
