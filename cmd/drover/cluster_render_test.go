package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// The cluster commands' human output, golden-tested on constructed
// records: what a user reads is reviewed as a diff of testdata/ when it
// changes. Run `go test ./cmd/drover -run TestRender -update` to rewrite.

// renderNow is the fixed "now" of every golden file, in UTC so that the
// files do not depend on the machine's zone.
var renderNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func ago(d time.Duration) time.Time { return renderNow.Add(-d) }

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/drover -run TestRender -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test ./cmd/drover -run TestRender -update and review the diff)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

func fixtureSpec() *jobspec.Job {
	return &jobspec.Job{
		ID: "web", Name: "web", Type: jobspec.JobTypeService, Namespace: "default", Priority: 50,
		Datacenters: []string{"dc1", "dc2"},
		Groups: []*jobspec.Group{
			{Name: "frontend", Count: 3, Tasks: []*jobspec.Task{{Name: "nginx", Driver: "docker", Resources: jobspec.Resources{CPU: 500, MemoryMB: 256}}}},
			{Name: "cache", Count: 1, Tasks: []*jobspec.Task{{Name: "redis", Driver: "docker", Resources: jobspec.Resources{CPU: 200, MemoryMB: 128}}}},
		},
	}
}

func fixtureAlloc(id, name, group, node, nodeName, desired, client string, version, index uint64, created time.Duration) *cluster.Allocation {
	return &cluster.Allocation{
		ID: id, Namespace: "default", JobID: "web", JobVersion: version, TaskGroup: group, Name: name,
		NodeID: node, NodeName: nodeName, EvalID: "5d2a6c1e-0000-4000-8000-000000000001",
		Resources:     cluster.AllocResources{Tasks: map[string]jobspec.Resources{"nginx": {CPU: 500, MemoryMB: 256}}},
		DesiredStatus: desired, ClientStatus: client,
		CreateIndex: index, ModifyIndex: index + 1, CreateTime: ago(created), ModifyTime: ago(created / 2),
	}
}

const (
	node1 = "1f3a9c2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f"
	node2 = "2e4b8d1f-6c3a-4f9b-8d2e-3b4c5d6e7f80"
	node3 = "3d5c7e2a-5b4f-4a8c-9e3f-4c5d6e7f8091"
)

func fixtureJobStatus() *jobStatusView {
	return &jobStatusView{
		Job: &cluster.Job{
			Namespace: "default", ID: "web", Spec: fixtureSpec(), Version: 4, Status: cluster.JobStatusRunning,
			Source: &cluster.Source{
				Name: "prod", Repo: "https://github.com/acme/deploy.git", Ref: "main",
				Commit: "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", Author: "Ada Lovelace", AuthorEmail: "ada@example.com",
				Subject: "web: nginx 1.27 and a third replica", Path: "jobs/web.nomad.hcl",
			},
			SubmitTime: ago(2*time.Hour + 5*time.Minute),
		},
		Summary: map[string]map[string]int{
			"frontend": {"running": 2, "pending": 1, "failed": 1},
			"cache":    {"running": 1},
			"old":      {"complete": 2},
		},
		Allocations: []*cluster.Allocation{
			fixtureAlloc("a1b2c3d4-1111-4000-8000-000000000001", "web.frontend[0]", "frontend", node1, "worker-1", "run", "running", 4, 120, 2*time.Hour),
			fixtureAlloc("b2c3d4e5-2222-4000-8000-000000000002", "web.frontend[1]", "frontend", node2, "worker-2", "run", "running", 4, 121, 2*time.Hour),
			fixtureAlloc("c3d4e5f6-3333-4000-8000-000000000003", "web.frontend[2]", "frontend", node3, "", "run", "pending", 4, 130, 45*time.Second),
			fixtureAlloc("d4e5f6a7-4444-4000-8000-000000000004", "web.frontend[2]", "frontend", node3, "worker-3", "stop", "failed", 3, 90, 26*time.Hour+3*time.Hour),
			fixtureAlloc("e5f6a7b8-5555-4000-8000-000000000005", "web.cache[0]", "cache", node1, "worker-1", "run", "running", 4, 120, 2*time.Hour),
		},
		Evaluations: []*cluster.Evaluation{
			{ID: "e1", Status: cluster.EvalStatusComplete, ModifyIndex: 100, QueuedAllocations: map[string]int{"frontend": 9}},
			{ID: "e2", Status: cluster.EvalStatusBlocked, ModifyIndex: 131, QueuedAllocations: map[string]int{"frontend": 1}},
			{ID: "e3", Status: cluster.EvalStatusPending, ModifyIndex: 140},
		},
		LatestDeployment: &cluster.Deployment{
			ID: "7c6b5a49-0000-4000-8000-000000000000", JobID: "web", JobVersion: 4, Status: cluster.DeploymentRunning,
			StatusDescription: "Deployment is running",
			TaskGroups: map[string]*cluster.DeploymentGroup{
				"frontend": {DesiredTotal: 3, PlacedAllocs: 3, HealthyAllocs: 2},
				"cache":    {DesiredTotal: 1, PlacedAllocs: 1, HealthyAllocs: 1},
			},
		},
	}
}

func TestRenderJobStatus(t *testing.T) {
	stopped := &jobStatusView{
		Job: &cluster.Job{Namespace: "default", ID: "batch-report", Spec: &jobspec.Job{ID: "batch-report", Name: "batch-report",
			Type: jobspec.JobTypeBatch, Priority: 70, Groups: []*jobspec.Group{{Name: "run"}}}, Version: 0, Stop: true,
			Status: cluster.JobStatusDead, SubmitTime: ago(10 * 24 * time.Hour)},
		Evaluations: []*cluster.Evaluation{{ID: "e", Status: cluster.EvalStatusComplete, QueuedAllocations: map[string]int{"run": 1}}},
	}
	// A Git-managed job stopped by hand: version 5 is the stop, version
	// 4 came from the commit.
	byHand := fixtureJobStatus()
	byHand.BeforeStop = byHand.Job
	byHand.Job = &cluster.Job{Namespace: "default", ID: "web", Spec: fixtureSpec(), Version: 5, Stop: true,
		Status: cluster.JobStatusDead, SubmitTime: ago(time.Minute)}
	byHand.LatestDeployment = nil
	byHand.Allocations = byHand.Allocations[:2]
	for _, a := range byHand.Allocations {
		a.DesiredStatus, a.ClientStatus = cluster.AllocDesiredStop, cluster.AllocClientComplete
	}
	byHand.Summary = map[string]map[string]int{"frontend": {"complete": 2}}

	// A periodic job from Git: its next launch in its zone, and the
	// children launched so far.
	src := *fixtureJobStatus().Job.Source
	src.Path, src.Subject = "jobs/report.nomad.hcl", "Add the nightly report"
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// As decoded from the server's JSON: the zone's offset, not its name.
	nextLaunch := time.Date(2026, 3, 15, 3, 0, 0, 0, ny).In(time.FixedZone("", -4*3600))
	periodic := &jobStatusView{
		Job: &cluster.Job{Namespace: "default", ID: "nightly-report", Spec: &jobspec.Job{ID: "nightly-report", Name: "nightly-report",
			Type: jobspec.JobTypeBatch, Priority: 50, Datacenters: []string{"dc1"}, Groups: []*jobspec.Group{{Name: "report"}},
			Periodic: &jobspec.Periodic{Crons: []string{"0 3 * * *"}, TimeZone: "America/New_York", ProhibitOverlap: true, Enabled: true}},
			Status: cluster.JobStatusPending, SubmitTime: ago(time.Hour), Source: &src},
		NextPeriodicLaunch: &nextLaunch,
		Children: []*api.JobListStub{
			{ID: "nightly-report/periodic-1700000000", ParentID: "nightly-report", Status: "dead", SubmitTime: ago(25 * time.Hour)},
			{ID: "nightly-report/periodic-1700086400", ParentID: "nightly-report", Status: "running", SubmitTime: ago(time.Hour)},
		},
	}
	for _, tc := range []struct {
		name string
		v    *jobStatusView
	}{
		{"job_status_managed", fixtureJobStatus()},
		{"job_status_unmanaged_stopped", stopped},
		{"job_status_stopped_by_hand", byHand},
		{"job_status_periodic", periodic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			renderJobStatus(&b, tc.v, renderNow)
			checkGolden(t, tc.name, b.Bytes())
		})
	}
}

func TestRenderJobList(t *testing.T) {
	jobs := []*api.JobListStub{
		{ID: "web", Type: jobspec.JobTypeService, Priority: 50, Status: "running", Version: 4, SubmitTime: ago(time.Hour),
			Source: &cluster.Source{Commit: "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"}},
		{ID: "cleanup", Type: jobspec.JobTypeBatch, Priority: 30, Status: "dead", Version: 12, SubmitTime: ago(49 * time.Hour)},
		{ID: "monitoring-agent", Type: jobspec.JobTypeSystem, Priority: 90, Status: "pending", SubmitTime: ago(time.Minute)},
		// A Git-managed job stopped by hand: the stop has no source, the
		// version before it came from a commit of source "apps".
		{ID: "api", Type: jobspec.JobTypeService, Priority: 50, Status: "dead", Version: 3, Stop: true, SubmitTime: ago(2 * time.Minute),
			BeforeStop: &cluster.Source{Name: "apps", Repo: "https://github.com/acme/deploy.git", Commit: "abc1234def567890abc1234def567890abc12345"}},
		// A periodic job is launched (its children are jobs of their
		// own); a parameterized one is stored, never dispatched until
		// Drover dispatches jobs; once stopped, nothing is left to launch.
		{ID: "nightly-report", Type: jobspec.JobTypeBatch, Priority: 50, Status: "pending", SubmitTime: ago(time.Hour),
			Source: &cluster.Source{Commit: "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"}},
		{ID: "resize", Type: jobspec.JobTypeBatch, Priority: 50, Status: "pending", NotLaunched: "parameterized", SubmitTime: ago(time.Hour)},
		{ID: "weekly-resize", Type: jobspec.JobTypeBatch, Priority: 50, Status: "dead", Version: 1, Stop: true, NotLaunched: "parameterized", SubmitTime: ago(time.Hour)},
	}
	var b bytes.Buffer
	renderJobList(&b, jobs, renderNow)
	b.WriteString("--- empty:\n")
	renderJobList(&b, nil, renderNow)
	checkGolden(t, "job_list", b.Bytes())
}

// TestRenderHistory: versions from commits (a retry, a corrected
// record), a stop by a commit, a stop by hand of a Git-managed job
// (which no commit made, so it is not "unmanaged") and a version
// submitted by hand.
func TestRenderHistory(t *testing.T) {
	src := func(sha, subject string, retry int) *cluster.Source {
		return &cluster.Source{Name: "apps", Commit: sha, Author: "Ada Lovelace", Subject: subject, CommitTime: ago(3 * time.Hour), Retry: retry}
	}
	entries := []historyEntry{
		{JobID: "web", Version: 4, Stop: true, SubmitTime: ago(time.Minute), Outcome: "stopped"},
		{JobID: "web", Version: 3, SubmitTime: ago(time.Hour), Source: src("abc1234def567890", "web: nginx 1.27", 1), Outcome: "deployment successful"},
		{JobID: "web", Version: 2, SubmitTime: ago(2 * time.Hour), Source: src("abc1234def567890", "web: nginx 1.27", 0), Outcome: "deployment failed",
			Corrected: "recorded failed; corrected"},
		{JobID: "web", Version: 1, SubmitTime: ago(5 * time.Hour), Outcome: "superseded"},
		{JobID: "legacy", Version: 1, Stop: true, SubmitTime: ago(time.Hour), Source: src("0123456789abcdef", "Remove legacy", 0), Outcome: "stopped"},
	}
	var b bytes.Buffer
	renderHistory(&b, entries, renderNow)
	checkGolden(t, "history", b.Bytes())
}

// TestRolloutOutcomeCountsFailures: a version whose allocations failed
// with no replacement says how many, in words that agree with the count.
func TestRolloutOutcomeCountsFailures(t *testing.T) {
	failed := func(id string) *cluster.Allocation {
		return &cluster.Allocation{ID: id, JobVersion: 1, ClientStatus: cluster.AllocClientFailed}
	}
	for _, tc := range []struct {
		allocs []*cluster.Allocation
		want   string
	}{
		{[]*cluster.Allocation{failed("a")}, "failed (1 allocation failed)"},
		{[]*cluster.Allocation{failed("a"), failed("b")}, "failed (2 allocations failed)"},
	} {
		// An older version: judged by its allocations alone.
		if got := rolloutOutcome(&cluster.Job{ID: "web", Version: 1}, false, nil, tc.allocs); got != tc.want {
			t.Errorf("%d failed allocations: %q, want %q", len(tc.allocs), got, tc.want)
		}
	}
}

func TestRenderAllocStatus(t *testing.T) {
	a := fixtureAlloc("c3d4e5f6-3333-4000-8000-000000000003", "web.frontend[2]", "frontend", node3, "worker-3", "run", "running", 4, 130, 3*time.Hour)
	a.ClientDescription = "Tasks are running"
	a.PreviousAllocation = "d4e5f6a7-4444-4000-8000-000000000004"
	a.RescheduleEvents = []cluster.RescheduleEvent{{PrevAlloc: a.PreviousAllocation, PrevNode: node2}}
	a.Resources = cluster.AllocResources{
		Tasks: map[string]jobspec.Resources{
			"nginx":    {CPU: 500, MemoryMB: 256, MemoryMaxMB: 512},
			"log-ship": {CPU: 100, MemoryMB: 64},
		},
		Ports: []cluster.AllocatedPort{{Label: "http", Value: 23456, To: 80}, {Label: "metrics", Value: 9102, HostIP: "10.0.0.3"}},
	}
	started := ago(3 * time.Hour)
	a.TaskStates = map[string]*cluster.TaskState{
		"nginx": {State: cluster.TaskStateRunning, Restarts: 1, StartedAt: started,
			Events: []cluster.TaskEvent{
				{Type: "Received", Time: started, Message: "Task received by client"},
				{Type: "Task Setup", Time: started, Message: "Building task directory"},
				{Type: "Started", Time: started.Add(2 * time.Second), Message: "Task started by client"},
				{Type: "Terminated", Time: ago(time.Hour), ExitCode: 137, Signal: 9, Message: "OOM killed"},
				{Type: "Restarting", Time: ago(time.Hour - time.Second), Message: "Task restarting in 15s"},
				{Type: "Started", Time: ago(time.Hour - 16*time.Second), Message: "Task started by client"},
			}},
	}
	var b bytes.Buffer
	renderAllocStatus(&b, a, renderNow)
	b.WriteString("--- ambiguous prefix:\n")
	renderAllocMatches(&b, []*cluster.Allocation{a, fixtureAlloc("c3d4e5f6-9999-4000-8000-000000000009", "web.frontend[0]", "frontend", node1, "worker-1", "stop", "complete", 2, 40, 72*time.Hour)}, renderNow)
	checkGolden(t, "alloc_status", b.Bytes())
}

func TestRenderNodeStatus(t *testing.T) {
	stubs := []*api.NodeListStub{
		{ID: node2, Name: "worker-2", Datacenter: "dc1", NodeClass: "gpu", Status: cluster.NodeStatusDown, SchedulingEligibility: cluster.NodeIneligible},
		{ID: node1, Name: "worker-1", Datacenter: "dc1", Status: cluster.NodeStatusReady, SchedulingEligibility: cluster.NodeEligible, RunningAllocs: 2},
		{ID: node3, Name: "worker-3", Datacenter: "dc2", NodePool: "edge", Status: cluster.NodeStatusReady, SchedulingEligibility: cluster.NodeIneligible, Drain: true},
	}
	v := &nodeStatusView{
		Node: &cluster.Node{
			ID: node1, Name: "worker-1", Datacenter: "dc1", HTTPAddr: "10.0.0.1:4646",
			Attributes: map[string]string{"kernel.name": "linux", "cpu.arch": "amd64", "os.name": "debian"},
			Resources:  cluster.NodeResources{CPU: 14400, MemoryMB: 33792},
			Reserved:   cluster.NodeResources{CPU: 400, MemoryMB: 1024},
			Drivers: map[string]cluster.DriverInfo{
				"exec":     {Detected: true, Healthy: true},
				"docker":   {Detected: true, Healthy: false, Description: "Docker daemon is not reachable"},
				"raw_exec": {Detected: false},
				"java":     {Detected: true, Healthy: true},
			},
			Status: cluster.NodeStatusReady, StatusUpdatedAt: ago(26 * time.Minute), SchedulingEligibility: cluster.NodeEligible,
		},
		Allocations: []*cluster.Allocation{
			fixtureAlloc("a1b2c3d4-1111-4000-8000-000000000001", "web.frontend[0]", "frontend", node1, "worker-1", "run", "running", 4, 120, 2*time.Hour),
			fixtureAlloc("e5f6a7b8-5555-4000-8000-000000000005", "web.cache[0]", "cache", node1, "worker-1", "run", "running", 4, 121, 2*time.Hour),
			// Stopped: it holds nothing any more.
			fixtureAlloc("f6a7b8c9-6666-4000-8000-000000000006", "web.frontend[1]", "frontend", node1, "worker-1", "stop", "complete", 3, 80, 30*time.Hour),
		},
	}
	var b bytes.Buffer
	renderNodeList(&b, stubs)
	b.WriteString("--- one node:\n")
	renderNodeStatus(&b, v, renderNow)
	checkGolden(t, "node_status", b.Bytes())
}

// TestRenderMonitor plays an evaluation through the monitor's steps as
// the blocking queries would see it.
func TestRenderMonitor(t *testing.T) {
	evalID := "5d2a6c1e-0000-4000-8000-000000000001"
	pending := &cluster.Evaluation{ID: evalID, JobID: "web", TriggeredBy: cluster.EvalTriggerJobRegister, Status: cluster.EvalStatusPending}
	complete := *pending
	complete.Status = cluster.EvalStatusComplete
	allocs := []*cluster.Allocation{
		fixtureAlloc("b2c3d4e5-2222-4000-8000-000000000002", "web.frontend[1]", "frontend", node2, "worker-2", "run", "pending", 0, 12, 0),
		fixtureAlloc("a1b2c3d4-1111-4000-8000-000000000001", "web.frontend[0]", "frontend", node1, "worker-1", "run", "pending", 0, 12, 0),
		// Another evaluation's allocation is not this one's news.
		{ID: "99999999-0000", EvalID: "other", TaskGroup: "frontend"},
	}
	failed := complete
	failed.FailedTGAllocs = map[string]*cluster.AllocMetric{
		"frontend": {NodesEvaluated: 3, NodesFiltered: 3, CoalescedFailures: 5, ConstraintFiltered: map[string]int{"${attr.kernel.name} = windows": 3}},
		"cache":    {NodesEvaluated: 3, NodesExhausted: 2, DimensionExhausted: map[string]int{"memory": 2}},
	}
	failed.BlockedEval = "6e3b7d2f-0000-4000-8000-000000000002"
	broken := *pending
	broken.Status, broken.StatusDescription = cluster.EvalStatusFailed, "maximum attempts reached (5)"
	nodeEval := *pending
	nodeEval.NodeID, nodeEval.TriggeredBy = node3, cluster.EvalTriggerNodeUpdate

	nodeDone := nodeEval
	nodeDone.Status = cluster.EvalStatusComplete

	// A step is what one blocking query returned: the evaluation and the
	// job's allocations.
	type step struct {
		eval   *cluster.Evaluation
		allocs []*cluster.Allocation
	}
	at := func(s int) time.Time { return renderNow.Add(time.Duration(s) * time.Second) }
	for _, tc := range []struct {
		name  string
		steps []step
		code  int
	}{
		// The second look at the complete evaluation adds nothing.
		{"monitor_placed", []step{{pending, nil}, {&complete, allocs}, {&complete, allocs}}, exitOK},
		// Done before the first look: no status change to report.
		{"monitor_failed_placement", []step{{&failed, nil}}, exitPlacementFailed},
		{"monitor_eval_failed", []step{{pending, nil}, {&broken, nil}}, exitError},
		{"monitor_node_trigger", []step{{&nodeEval, nil}, {&nodeDone, nil}}, exitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			writeMonitorLines(&b, at(0), []monitorLine{{lineHead, `Monitoring evaluation "5d2a6c1e"`}})
			seen := monitorSeen{}
			for i, s := range tc.steps {
				var lines []monitorLine
				lines, seen = monitorStep(seen, s.eval, s.allocs)
				writeMonitorLines(&b, at(i), lines)
			}
			last := tc.steps[len(tc.steps)-1].eval
			writeMonitorLines(&b, at(len(tc.steps)), monitorDone(last))
			checkGolden(t, tc.name, b.Bytes())
			if got := (monitorResult{Evaluation: last}).exitCode(); got != tc.code {
				t.Errorf("exit code %d, want %d", got, tc.code)
			}
		})
	}
}

func TestRenderDryRun(t *testing.T) {
	metric := &cluster.AllocMetric{NodesEvaluated: 3, NodesFiltered: 3, CoalescedFailures: 5,
		ConstraintFiltered: map[string]int{"${attr.kernel.name} = windows": 3}}
	for _, tc := range []struct {
		name string
		resp *api.JobPlanResponse
		hint jobFileOptions
	}{
		{"plan_dry_run_ok", &api.JobPlanResponse{JobModifyIndex: 42}, jobFileOptions{path: "web.nomad.hcl"}},
		{"plan_dry_run_failed", &api.JobPlanResponse{
			FailedTGAllocs: map[string]*cluster.AllocMetric{"frontend": metric},
			Explanations: map[string][]string{
				"frontend": {`Task Group "frontend" (failed to place 6 allocations):`, `Constraint "${attr.kernel.name} = windows": 3 nodes excluded by filter`},
				"cache":    {`Task Group "cache" (failed to place 1 allocation):`, "Resources exhausted on 2 nodes: memory exhausted on 2 nodes"},
			},
		}, jobFileOptions{path: "jobs/my web.hcl", vars: map[string]string{"image": "nginx:1.27", "motd": "it's up"}, varFiles: []string{"prod.vars.hcl"}}},
		// An older server without explanations: the metrics are worded here.
		{"plan_dry_run_metrics_only", &api.JobPlanResponse{JobModifyIndex: 7, FailedTGAllocs: map[string]*cluster.AllocMetric{"frontend": metric}}, jobFileOptions{path: "-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			renderDryRun(&b, tc.resp, runHint(tc.hint))
			checkGolden(t, tc.name, b.Bytes())
		})
	}
}
