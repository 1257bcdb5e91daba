package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/server/servertest"
	"github.com/droverhq/drover/state"
)

// uiRequest is one HTTP request a UI page makes on load.
type uiRequest struct {
	method, path, body string
	// want is the status the request must get.
	want int
}

// uiPages lists, per page, the requests a browser makes to show it: the
// html/template shell, then the API calls ui/assets/app.js makes on load
// (its renderers). Not counted: app.js and style.css (static embedded
// files, revalidated by the browser) and the event stream the page then
// follows (a long-lived stream, not part of the render).
func uiPages(jobID, allocID string) map[string][]uiRequest {
	get := func(p string) uiRequest { return uiRequest{method: "GET", path: p, want: 200} }
	job := "/v1/job/" + jobID
	return map[string][]uiRequest{
		"sources":  {get("/ui/sources"), get("/v1/sync")},
		"timeline": {get("/ui/timeline"), get("/v1/sync"), get("/v1/jobs"), get("/v1/deployments")},
		"jobs":     {get("/ui/jobs"), get("/v1/jobs")},
		"job": {get("/ui/job?id=" + jobID), get(job), get(job + "/versions"), get(job + "/history"),
			get(job + "/allocations"), get(job + "/deployments"), get("/v1/jobs?namespace=default&prefix=" + jobID)},
		"allocation":  {get("/ui/allocation?id=" + allocID), get("/v1/allocation/" + allocID)},
		"nodes":       {get("/ui/nodes"), get("/v1/nodes")},
		"deployments": {get("/ui/deployments"), get("/v1/deployments"), get("/v1/acl/token/self/capabilities?namespace=default")},
	}
}

// BenchmarkUIPages measures each UI page's server time with 1,000 jobs
// and 10,000 allocations on 50 nodes in state (issue 17: under 200 ms):
// one op is one load of the page, its requests issued one after the
// other over real HTTP to a real server (app.js issues the job page's
// in parallel, so this is the upper bound), each response read to its
// end. The state is written through Raft, as the scheduler and agents
// write it. ms/page-p50 and ms/page-max are over the ops.
func BenchmarkUIPages(b *testing.B) {
	srv := servertest.Single(b, bigJobServer(10_000))
	jobID, allocID := fillUIState(b, srv)
	base := "http://" + srv.HTTPAddr()
	client := &http.Client{Timeout: time.Minute}
	pages := uiPages(jobID, allocID)
	checkUIState(b, client, base)
	names := []string{"sources", "timeline", "jobs", "job", "allocation", "nodes", "deployments"}
	load := func(b *testing.B, reqs []uiRequest) (time.Duration, int) {
		var bytesRead int
		start := time.Now()
		for _, rq := range reqs {
			req, err := http.NewRequestWithContext(b.Context(), rq.method, base+rq.path, strings.NewReader(rq.body))
			if err != nil {
				b.Fatal(err)
			}
			if rq.body != "" {
				req.Header.Set("Content-Type", "application/json") // as app.js sends it
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != rq.want {
				b.Fatalf("%s %s: %d (want %d), %v", rq.method, rq.path, resp.StatusCode, rq.want, err)
			}
			bytesRead += int(n)
		}
		return time.Since(start), bytesRead
	}
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			load(b, pages[name]) // warm: connections, first JSON encodings
			var took []time.Duration
			var size int
			b.ResetTimer()
			for range b.N {
				d, n := load(b, pages[name])
				took = append(took, d)
				size = n
			}
			b.StopTimer()
			slices.Sort(took)
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(ms(took[len(took)/2]), "ms/page-p50")
			b.ReportMetric(ms(took[len(took)-1]), "ms/page-max")
			b.ReportMetric(float64(len(pages[name])), "requests/page")
			b.ReportMetric(float64(size)/1024, "KiB/page")
		})
	}
}

// fillUIState writes, through the leader's Raft log, 50 nodes, 1,000
// service jobs (every other from a commit) of 10 running allocations
// each, a deployment for each of the first 20 jobs (some with canaries
// waiting for promotion) and two sources with 20 recent commits each. It
// returns a job with a deployment and one of its allocations.
func fillUIState(b *testing.B, srv *servertest.Server) (jobID, allocID string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), 5*time.Minute)
	defer cancel()
	r := srv.State()
	now := time.Now().UTC()
	apply := func(t state.MessageType, req any) {
		if _, _, err := r.Apply(ctx, t, req); err != nil {
			b.Fatalf("apply %v: %v", t, err)
		}
	}
	const nodes, jobs, perJob = 50, 1000, 10
	var nodeIDs, nodeNames []string
	for i := range nodes {
		n := testNode(i + 1)
		n.Resources = cluster.NodeResources{CPU: 1 << 20, MemoryMB: 1 << 20, DiskMB: 1 << 20}
		apply(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: n, Now: now})
		nodeIDs, nodeNames = append(nodeIDs, n.ID), append(nodeNames, n.Name)
	}
	spec := parseJob(b, webJob("web", perJob, `meta { team = "payments" }`))
	commit := func(i int) string { return fmt.Sprintf("%040x", 0xc0ffee00+i) }
	var plan []*cluster.Allocation
	var allocIDs []string
	for j := range jobs {
		id := fmt.Sprintf("job-%04d", j)
		s := *spec
		s.ID, s.Name = id, id
		job := &cluster.Job{Namespace: "default", ID: id, Spec: &s}
		if j%2 == 0 {
			job.Source = &cluster.Source{Name: "apps", Repo: "https://git.example.com/apps.git", Ref: "main",
				Commit: commit(j % 20), Author: "Ada Lovelace", CommitTime: now, Subject: "deploy " + id, Path: "jobs/" + id + ".hcl"}
		}
		apply(state.MsgJobRegister, &state.JobRegisterRequest{Job: job, Now: now})
		for k := range perJob {
			n := (j*perJob + k) % nodes
			aid := fmt.Sprintf("%08x-0000-4000-8000-%012x", j, k)
			plan = append(plan, &cluster.Allocation{
				ID: aid, Namespace: "default", JobID: id, TaskGroup: "web", Name: fmt.Sprintf("%s.web[%d]", id, k),
				NodeID: nodeIDs[n], NodeName: nodeNames[n], EvalID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", j),
				Resources:     cluster.AllocResources{Tasks: map[string]jobspec.Resources{"server": {CPU: 100, MemoryMB: 128}}},
				DesiredStatus: cluster.AllocDesiredRun,
			})
			allocIDs = append(allocIDs, aid)
		}
		if len(plan) >= 500 {
			apply(state.MsgPlanApply, &state.PlanApplyRequest{Allocs: plan, Now: now})
			plan = nil
		}
	}
	if len(plan) > 0 {
		apply(state.MsgPlanApply, &state.PlanApplyRequest{Allocs: plan, Now: now})
	}
	// The agents' reports: running, with a task's events.
	for first := 0; first < len(allocIDs); first += 500 {
		req := &state.AllocClientUpdateRequest{Now: now}
		for _, id := range allocIDs[first:min(first+500, len(allocIDs))] {
			req.Allocs = append(req.Allocs, state.AllocClientState{
				ID: id, ClientStatus: cluster.AllocClientRunning,
				TaskStates: map[string]*cluster.TaskState{"server": {State: cluster.TaskStateRunning, StartedAt: now, Events: []cluster.TaskEvent{
					{Type: "Received", Time: now, Message: "task received by client"},
					{Type: "Started", Time: now, Message: "task started by client"},
				}}},
			})
		}
		apply(state.MsgAllocClientUpdate, req)
	}
	for d := range 20 {
		dep := &cluster.Deployment{
			ID: fmt.Sprintf("%08x-dddd-4000-8000-000000000000", d), Namespace: "default", JobID: fmt.Sprintf("job-%04d", d),
			Status: cluster.DeploymentSuccessful, TaskGroups: map[string]*cluster.DeploymentGroup{
				"web": {DesiredTotal: perJob, PlacedAllocs: perJob, HealthyAllocs: perJob},
			},
		}
		if d%4 == 0 {
			dep.Status = cluster.DeploymentRunning
			dep.TaskGroups["web"].DesiredCanaries = 1
			dep.TaskGroups["web"].PlacedCanaries = []string{fmt.Sprintf("%08x-0000-4000-8000-%012x", d, 0)}
		}
		apply(state.MsgDeploymentUpsert, &state.DeploymentUpsertRequest{Deployment: dep, Now: now})
	}
	for _, src := range []string{"apps", "infra"} {
		st := &cluster.SyncStatus{Source: src, Repo: "https://git.example.com/" + src + ".git", Ref: "main",
			LastSeen: commit(19), LastApplied: commit(18), LastAppliedAt: now}
		for c := 19; c >= 0; c-- {
			o := cluster.CommitOutcome{Commit: commit(c), Subject: fmt.Sprintf("change %d", c), Outcome: cluster.CommitApplied, Time: now, Health: cluster.HealthHealthy}
			for j := c; j < jobs; j += 20 * 5 { // 10 jobs per commit
				o.Rollouts = append(o.Rollouts, cluster.JobVersionRef{Namespace: "default", ID: fmt.Sprintf("job-%04d", j)})
			}
			if c == 19 {
				o.Outcome, o.Health, o.Rollouts = cluster.CommitRejected, "", nil
				o.Errors = []string{`jobs/web.hcl:3:7: Unsupported argument; An argument named "cuont" is not expected here.`}
			}
			st.Commits = append(st.Commits, o)
		}
		apply(state.MsgSyncStatusUpsert, &state.SyncStatusRequest{Status: st, Now: now})
	}
	return "job-0004", allocIDs[4*perJob]
}

// checkUIState fails the benchmark unless GET /v1/jobs lists the 1,000
// jobs, each with 10 running allocations.
func checkUIState(b *testing.B, client *http.Client, base string) {
	b.Helper()
	resp, err := client.Get(base + "/v1/jobs")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var list []*api.JobListStub
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		b.Fatal(err)
	}
	running := 0
	for _, j := range list {
		running += j.Summary["web"][cluster.AllocClientRunning]
	}
	if len(list) != 1000 || running != 10_000 {
		b.Fatalf("state holds %d jobs and %d running allocations, want 1,000 and 10,000", len(list), running)
	}
}
