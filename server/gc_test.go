package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
	"github.com/droverhq/drover/state"
)

// The garbage collection settings have Nomad's names at the top level
// of the server's config file, and Nomad's defaults.
func TestGCConfig(t *testing.T) {
	def := server.DefaultConfig()
	if def.GC != state.DefaultGCConfig() || def.GC.JobTrackedVersions != 6 || def.GC.EvalGCThreshold != time.Hour ||
		def.GC.DeploymentGCThreshold != time.Hour || def.GC.JobGCThreshold != 4*time.Hour || def.GCInterval != 5*time.Minute {
		t.Errorf("defaults %+v, interval %v", def.GC, def.GCInterval)
	}
	cfg := server.DefaultConfig()
	src := `
job_tracked_versions    = 10
eval_gc_threshold       = "30m"
deployment_gc_threshold = "2h"
job_gc_threshold        = "24h"
gc_interval             = "1m"
`
	if err := server.ParseConfigFile(&cfg, "server.hcl", []byte(src)); err != nil {
		t.Fatal(err)
	}
	want := state.GCConfig{JobTrackedVersions: 10, EvalGCThreshold: 30 * time.Minute, DeploymentGCThreshold: 2 * time.Hour, JobGCThreshold: 24 * time.Hour}
	if cfg.GC != want || cfg.GCInterval != time.Minute {
		t.Errorf("parsed %+v, interval %v; want %+v, 1m", cfg.GC, cfg.GCInterval, want)
	}

	err := server.ParseConfigFile(&cfg, "server.hcl", []byte("\njob_gc_threshold = \"four hours\"\n"))
	if err == nil || !strings.Contains(err.Error(), "server.hcl:2,20") || !strings.Contains(err.Error(), "Invalid job_gc_threshold") {
		t.Errorf("bad duration: %v", err)
	}

	for name, edit := range map[string]func(*server.Config){
		"job_tracked_versions": func(c *server.Config) { c.GC.JobTrackedVersions = 0 },
		"must not be negative": func(c *server.Config) { c.GC.EvalGCThreshold = -time.Second },
		"gc_interval":          func(c *server.Config) { c.GCInterval = 0 },
	} {
		c := server.DefaultConfig()
		c.DataDir = t.TempDir()
		edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
}

// TestGCPeriodicCollectsTerminalAllocations: the leader's loop collects
// a stopped job's allocations (and evaluations) once they have been
// terminal for eval_gc_threshold, and leaves running ones alone.
func TestGCPeriodicCollectsTerminalAllocations(t *testing.T) {
	const threshold = 3 * time.Second
	s := servertest.Single(t, noHeartbeats, func(c *server.Config) {
		c.GCInterval = 200 * time.Millisecond
		c.GC.EvalGCThreshold = threshold
		c.GC.DeploymentGCThreshold = threshold
		c.GC.JobGCThreshold = time.Hour // the stopped job itself stays
	})
	c := s.Client
	registerNodes(t, c, 2)
	for _, id := range []string{"web", "api"} {
		if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob(id, 2, ""))}); err != nil {
			t.Fatal(err)
		}
		waitEvals(t, c, id)
	}
	// api's allocations run, as their agent would report.
	apiAllocs, _, err := c.Jobs().Allocations(ctxT(t), "api", nil)
	if err != nil || len(apiAllocs) != 2 {
		t.Fatalf("api allocations: %d, %v", len(apiAllocs), err)
	}
	for _, a := range apiAllocs {
		up := &cluster.Allocation{ID: a.ID, ClientStatus: cluster.AllocClientRunning,
			TaskStates: map[string]*cluster.TaskState{"server": {State: cluster.TaskStateRunning}}}
		if _, err := asNode(c, a.NodeID).Nodes().UpdateAllocs(ctxT(t), a.NodeID, []*cluster.Allocation{up}); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := c.Jobs().Deregister(ctxT(t), "web", false); err != nil {
		t.Fatal(err)
	}
	var stopped []*cluster.Allocation
	servertest.WaitFor(t, "web's allocations to be stopped", func() bool {
		allocs, _, err := c.Jobs().Allocations(ctxT(t), "web", nil)
		if err != nil || len(allocs) != 2 || len(liveAllocs(allocs)) != 0 {
			return false
		}
		stopped = allocs
		return true
	})
	// Within the threshold they stay, though the loop ran several times
	// since (checked only while surely within it: a slow machine may
	// have seen the stop late).
	time.Sleep(time.Second)
	allocs, _, err := c.Jobs().Allocations(ctxT(t), "web", nil)
	if age := time.Since(stopped[0].ModifyTime); err == nil && age < threshold-500*time.Millisecond && len(allocs) != 2 {
		t.Fatalf("web has %d allocations %v after they stopped, want 2 until eval_gc_threshold", len(allocs), age)
	}
	servertest.WaitFor(t, "web's allocations and evaluations to be collected", func() bool {
		allocs, _, err := c.Jobs().Allocations(ctxT(t), "web", nil)
		if err != nil || len(allocs) != 0 {
			return false
		}
		evals, _, err := c.Jobs().Evaluations(ctxT(t), "web", nil)
		return err == nil && len(evals) == 0
	})
	for _, a := range stopped {
		if age := time.Since(a.ModifyTime); age < threshold {
			t.Errorf("allocation %s collected %v after it stopped, before the threshold %v", a.ID, age, threshold)
		}
	}
	// Running allocations, and the stopped job (job_gc_threshold), stay.
	allocs, _, err = c.Jobs().Allocations(ctxT(t), "api", nil)
	if err != nil || len(allocs) != 2 {
		t.Errorf("api has %d allocations (%v), want its 2 running ones", len(allocs), err)
	}
	if j, _, err := c.Jobs().Info(ctxT(t), "web", nil); err != nil || !j.Stop {
		t.Errorf("stopped job web: %v, %v; want it kept until job_gc_threshold", j, err)
	}
}

// TestSystemGC: PUT /v1/system/gc collects at once, ignoring the
// thresholds, keeps job_tracked_versions, and every collected version
// stays in the job's history with its commit.
func TestSystemGC(t *testing.T) {
	s := servertest.Single(t, noHeartbeats) // no nodes: every evaluation blocks
	c := s.Client
	for i := range 10 {
		job := parseJob(t, webJob("web", 1+i, ""))
		src := &cluster.Source{Name: "prod", Repo: "file:///repo", Commit: fmt.Sprintf("%040d", i), Author: "Ada", Subject: fmt.Sprint("scale ", i)}
		if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: job, Source: src}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("old", 1, ""))}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Jobs().Deregister(ctxT(t), "old", false); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, c, "web")
	waitEvals(t, c, "old")

	resp, err := c.System().GarbageCollect(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if resp.JobVersions != 4 || resp.Jobs != 1 {
		t.Errorf("collected %+v, want 4 job versions and 1 job", *resp)
	}
	versions, _, err := c.Jobs().Versions(ctxT(t), "web", nil)
	if err != nil || len(versions) != 6 {
		t.Fatalf("web has %d versions (%v), want 6", len(versions), err)
	}
	history, _, err := c.Jobs().History(ctxT(t), "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range history {
		got = append(got, fmt.Sprintf("%d:%s", h.Version, h.Source.Commit[38:]))
	}
	if want := []string{"3:03", "2:02", "1:01", "0:00"}; !slices.Equal(got, want) {
		t.Errorf("web history %v, want %v", got, want)
	}
	if _, _, err := c.Jobs().Versions(ctxT(t), "old", nil); !api.IsNotFound(err) {
		t.Errorf("purged job's versions: %v, want 404", err)
	}
	if h, _, err := c.Jobs().History(ctxT(t), "old", nil); err != nil || len(h) != 2 || !h[0].Stop {
		t.Errorf("purged job's history: %d summaries (%v), want its 2 versions, newest (the stop) first", len(h), err)
	}

	again, err := c.System().GarbageCollect(ctxT(t))
	if err != nil || again.JobVersions != 0 || again.Jobs != 0 {
		t.Errorf("second collection: %+v, %v; want no versions or jobs", again, err)
	}
}

// TestSystemGCFromFollower: a follower forwards the forced collection
// to the leader.
func TestSystemGCFromFollower(t *testing.T) {
	servers := servertest.Cluster(t, 3, noHeartbeats)
	leader := servertest.Leader(servers)
	var follower *servertest.Server
	for _, s := range servers {
		if s != leader {
			follower = s
			break
		}
	}
	for i := range 8 {
		if _, err := leader.Client.Jobs().Register(ctxT(t), &api.JobRegisterRequest{Job: parseJob(t, webJob("web", 1+i, ""))}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := follower.Client.System().GarbageCollect(ctxT(t))
	if err != nil || resp.JobVersions != 2 {
		t.Fatalf("through a follower: %+v, %v; want 2 versions collected", resp, err)
	}
}
