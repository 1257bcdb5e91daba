package state_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/state"
)

// gcWorld builds state for the garbage collection tests through the
// FSM's own commands, each at a given time: the FSM stamps records with
// the command's Now, which is what the thresholds are judged by.
type gcWorld struct {
	*fsmHarness
}

func newGCWorld(t *testing.T) *gcWorld {
	w := &gcWorld{newFSM(t)}
	w.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n1"), Now: t0})
	return w
}

// versions registers n versions of a job, one a minute from at, each
// from its own commit.
func (w *gcWorld) versions(id string, n int, at time.Time) {
	for v := range n {
		w.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob(id, fmt.Sprintf("%s-c%d", id, v), 1), Now: at.Add(time.Duration(v) * time.Minute)})
	}
}

func (w *gcWorld) batchJob(id string, at time.Time) {
	j := testJob(id, id+"-c0", 1)
	j.Spec.Type = jobspec.JobTypeBatch
	w.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: j, Now: at})
}

// child registers a periodic job's child, as the leader launches it.
func (w *gcWorld) child(id, parent string, at time.Time) {
	j := testJob(id, "", 1)
	j.Source, j.ParentID, j.Spec.Type = nil, parent, jobspec.JobTypeBatch
	w.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: j, Now: at})
}

func (w *gcWorld) stable(id string, v uint64) {
	w.must(state.MsgJobStable, &state.JobStableRequest{JobID: id, Version: v, Stable: true, Now: t0})
}

func (w *gcWorld) stop(id string, at time.Time) {
	w.must(state.MsgJobDeregister, &state.JobDeregisterRequest{JobID: id, Now: at})
}

// alloc places an allocation of a job version with the given statuses,
// all at time at.
func (w *gcWorld) alloc(id, job string, version uint64, eval, desired, client string, at time.Time, edit ...func(*cluster.Allocation)) {
	a := testAlloc(id, job, "n1", eval)
	a.JobVersion, a.DesiredStatus = version, desired
	for _, e := range edit {
		e(a)
	}
	w.must(state.MsgPlanApply, &state.PlanApplyRequest{Allocs: []*cluster.Allocation{a}, Now: at})
	if client != cluster.AllocClientPending {
		w.must(state.MsgAllocClientUpdate, &state.AllocClientUpdateRequest{Allocs: []state.AllocClientState{{ID: id, ClientStatus: client}}, Now: at})
	}
}

func (w *gcWorld) eval(id, job, status string, at time.Time) {
	e := testEval(id, job)
	e.Status = status
	w.must(state.MsgEvalUpsert, &state.EvalUpsertRequest{Evals: []*cluster.Evaluation{e}, Now: at})
}

func (w *gcWorld) deployment(id, job string, version uint64, status string, at time.Time) {
	w.must(state.MsgDeploymentUpsert, &state.DeploymentUpsertRequest{Deployment: &cluster.Deployment{
		ID: id, JobID: job, JobVersion: version, Status: status,
		TaskGroups: map[string]*cluster.DeploymentGroup{"web": {DesiredTotal: 1}},
	}, Now: at})
}

// gcWant is a GCRequest in short: IDs, and versions as "job@v".
type gcWant struct {
	allocs, evals, jobs, deployments, versions []string
}

func summarize(r *state.GCRequest) gcWant {
	var g gcWant
	g.allocs, g.evals, g.deployments = r.Allocs, r.Evals, r.Deployments
	for _, j := range r.Jobs {
		g.jobs = append(g.jobs, j.JobID)
	}
	for _, v := range r.JobVersions {
		g.versions = append(g.versions, fmt.Sprintf("%s@%d", v.JobID, v.Version))
	}
	return g
}

func (g gcWant) String() string {
	return fmt.Sprintf("allocs %v\nevals %v\njobs %v\ndeployments %v\nversions %v", g.allocs, g.evals, g.jobs, g.deployments, g.versions)
}

func TestGCCandidates(t *testing.T) {
	const (
		run      = cluster.AllocDesiredRun
		stop     = cluster.AllocDesiredStop
		pending  = cluster.AllocClientPending
		running  = cluster.AllocClientRunning
		complete = cluster.AllocClientComplete
		failed   = cluster.AllocClientFailed
		lost     = cluster.AllocClientLost
	)
	old := t0                      // older than every threshold at now
	now := t0.Add(5 * time.Hour)   //
	young := now.Add(-time.Minute) // newer than every threshold
	cfg := state.DefaultGCConfig()
	versionsOf := func(job string, vs ...int) []string {
		var out []string
		for _, v := range vs {
			out = append(out, fmt.Sprintf("%s@%d", job, v))
		}
		return out
	}

	for _, tc := range []struct {
		name  string
		cfg   *state.GCConfig
		setup func(w *gcWorld)
		want  gcWant
	}{{
		name: "empty state",
		setup: func(w *gcWorld) {
		},
	}, {
		name: "terminal allocations after the threshold, never a running or wanted one",
		setup: func(w *gcWorld) {
			w.versions("web", 1, old)
			w.alloc("a-stopped-old", "web", 0, "e1", stop, complete, old)
			w.alloc("a-stopped-young", "web", 0, "e1", stop, complete, young)
			w.alloc("a-stop-still-running", "web", 0, "e1", stop, running, old)
			w.alloc("a-stop-never-started", "web", 0, "e1", stop, pending, old)
			w.alloc("a-running", "web", 0, "e1", run, running, old)
			w.alloc("a-pending", "web", 0, "e1", run, pending, old)
		},
		want: gcWant{allocs: []string{"a-stop-never-started", "a-stopped-old"}},
	}, {
		name: "a periodic job's finished children are purged after job_gc_threshold, nothing else of theirs",
		setup: func(w *gcWorld) {
			w.child("nightly/periodic-1", "nightly", old)
			w.alloc("c1", "nightly/periodic-1", 0, "ec1", run, complete, old)
			w.eval("ec1", "nightly/periodic-1", cluster.EvalStatusComplete, old)
			w.child("nightly/periodic-2", "nightly", old)
			w.alloc("c2", "nightly/periodic-2", 0, "ec2", run, running, old)
			w.child("nightly/periodic-3", "nightly", old)
			w.alloc("c3", "nightly/periodic-3", 0, "ec3", run, complete, young)
			w.child("nightly/periodic-4", "nightly", old)
			w.alloc("c4", "nightly/periodic-4", 0, "ec4", run, failed, old)
			w.eval("ec4", "nightly/periodic-4", cluster.EvalStatusPending, old) // its reschedule
			w.batchJob("plain", old)
			w.alloc("p1", "plain", 0, "ep", run, complete, old)
		},
		want: gcWant{jobs: []string{"nightly/periodic-1"}},
	}, {
		name: "the scheduler's failed, lost and batch allocations stay while the job runs",
		setup: func(w *gcWorld) {
			w.versions("web", 1, old)
			w.batchJob("batch", old)
			w.alloc("web-failed", "web", 0, "e1", run, failed, old)
			w.alloc("web-lost", "web", 0, "e1", run, lost, old)
			w.alloc("web-failed-replaced", "web", 0, "e1", run, failed, old)
			w.alloc("web-replacement", "web", 0, "e1", run, running, old, func(a *cluster.Allocation) { a.PreviousAllocation = "web-failed-replaced" })
			w.alloc("web-complete", "web", 0, "e1", run, complete, old) // a service is placed anew
			w.alloc("web-old-group", "web", 0, "e1", run, failed, old, func(a *cluster.Allocation) { a.TaskGroup = "gone" })
			w.alloc("batch-complete", "batch", 0, "e2", run, complete, old)
			w.alloc("batch-failed-stopped", "batch", 0, "e2", stop, failed, old)
		},
		want: gcWant{allocs: []string{"batch-failed-stopped", "web-complete", "web-failed-replaced", "web-old-group"}},
	}, {
		name: "a stopped job's failed allocations go",
		setup: func(w *gcWorld) {
			w.versions("web", 1, old)
			w.alloc("web-failed", "web", 0, "e1", run, failed, old)
			w.stop("web", young)
		},
		want: gcWant{allocs: []string{"web-failed"}},
	}, {
		name: "evaluations: terminal, old, and with every allocation collected",
		setup: func(w *gcWorld) {
			w.versions("web", 1, old)
			w.eval("e-complete", "web", cluster.EvalStatusComplete, old)
			w.eval("e-failed", "web", cluster.EvalStatusFailed, old)
			w.eval("e-canceled", "web", cluster.EvalStatusCanceled, old)
			w.eval("e-young", "web", cluster.EvalStatusComplete, young)
			w.eval("e-pending", "web", cluster.EvalStatusPending, old)
			w.eval("e-blocked", "web", cluster.EvalStatusBlocked, old)
			w.eval("e-with-running", "web", cluster.EvalStatusComplete, old)
			w.eval("e-with-young-alloc", "web", cluster.EvalStatusComplete, old)
			w.alloc("a-done", "web", 0, "e-complete", stop, complete, old)
			w.alloc("a-running", "web", 0, "e-with-running", run, running, old)
			w.alloc("a-young", "web", 0, "e-with-young-alloc", stop, complete, young)
		},
		want: gcWant{allocs: []string{"a-done"}, evals: []string{"e-canceled", "e-complete", "e-failed"}},
	}, {
		name: "deployments: terminal, old, unused, and not a live job's newest",
		setup: func(w *gcWorld) {
			w.versions("web", 3, old)
			w.deployment("d0-successful", "web", 0, cluster.DeploymentSuccessful, old)
			w.deployment("d1-failed-young", "web", 1, cluster.DeploymentFailed, young)
			w.deployment("d2-running", "web", 2, cluster.DeploymentRunning, old)
			w.versions("api", 2, old)
			w.deployment("da0-cancelled", "api", 0, cluster.DeploymentCancelled, old)
			w.deployment("da1-in-use", "api", 1, cluster.DeploymentFailed, old)
			w.alloc("a-in-da1", "api", 1, "e1", run, running, old, func(a *cluster.Allocation) { a.DeploymentID = "da1-in-use" })
			w.versions("db", 1, old)
			w.deployment("dd0-newest", "db", 0, cluster.DeploymentSuccessful, old)
		},
		want: gcWant{deployments: []string{"d0-successful", "da0-cancelled"}},
	}, {
		name: "versions beyond job_tracked_versions",
		setup: func(w *gcWorld) {
			w.versions("web", 10, old)
			w.versions("small", 6, old)
		},
		want: gcWant{versions: versionsOf("web", 3, 2, 1, 0)},
	}, {
		name: "versions still needed stay: run by an allocation, newest stable, deployment's revert target, a commit's rollout",
		setup: func(w *gcWorld) {
			w.versions("web", 12, old)
			w.stable("web", 0)
			w.stable("web", 1) // the newest stable: kept
			w.alloc("a-v2", "web", 2, "e1", run, running, old)
			w.alloc("a-v3-stopped", "web", 3, "e1", stop, complete, young) // terminal: does not keep v3
			w.alloc("a-v3-failed-held", "web", 4, "e1", run, failed, young)
			w.must(state.MsgSyncStatusUpsert, &state.SyncStatusRequest{Status: &cluster.SyncStatus{Source: "prod", Commits: []cluster.CommitOutcome{{
				Commit: "web-c5", Outcome: cluster.CommitApplied, Health: cluster.HealthProgressing,
				Rollouts: []cluster.JobVersionRef{{ID: "web", Version: 5}},
			}}}, Now: old})
		},
		want: gcWant{versions: versionsOf("web", 3, 0)},
	}, {
		name: "an active deployment keeps its version and the stable one it reverts to",
		setup: func(w *gcWorld) {
			w.versions("web", 10, old)
			w.stable("web", 1)
			w.stable("web", 8) // the newest stable, but above the deployment
			w.deployment("d2", "web", 2, cluster.DeploymentRunning, old)
		},
		want: gcWant{versions: versionsOf("web", 3, 0)},
	}, {
		name: "a stop by hand keeps the version it stopped",
		cfg:  &state.GCConfig{JobTrackedVersions: 1, EvalGCThreshold: time.Hour, DeploymentGCThreshold: time.Hour, JobGCThreshold: 100 * time.Hour},
		setup: func(w *gcWorld) {
			w.versions("web", 3, old)
			w.stop("web", old)
		},
		want: gcWant{versions: versionsOf("web", 1, 0)},
	}, {
		name: "stopped jobs are purged after job_gc_threshold when nothing of them runs",
		setup: func(w *gcWorld) {
			w.versions("gone", 2, old)
			w.alloc("gone-a", "gone", 1, "gone-e", stop, complete, old)
			w.eval("gone-e", "gone", cluster.EvalStatusComplete, old)
			w.deployment("gone-d", "gone", 1, cluster.DeploymentCancelled, old)
			w.stop("gone", old)

			w.versions("recent", 1, old)
			w.stop("recent", young)

			w.versions("still-running", 1, old)
			w.stop("still-running", old)
			w.alloc("sr-a", "still-running", 0, "e1", stop, running, old)

			w.versions("eval-pending", 1, old)
			w.stop("eval-pending", old)
			w.eval("ep-e", "eval-pending", cluster.EvalStatusPending, old)

			w.versions("live", 1, old)
		},
		want: gcWant{allocs: []string{"gone-a"}, evals: []string{"gone-e"}, jobs: []string{"gone"}, deployments: []string{"gone-d"}},
	}, {
		name: "forced: thresholds ignored, never what runs",
		cfg:  ptr(cfg.Force()),
		setup: func(w *gcWorld) {
			w.versions("web", 8, young)
			w.alloc("a-young", "web", 7, "e-young", stop, complete, young)
			w.alloc("a-running", "web", 7, "e-running", run, running, young)
			w.eval("e-young", "web", cluster.EvalStatusComplete, young)
			w.eval("e-running", "web", cluster.EvalStatusComplete, young)
			w.versions("stopped", 1, young)
			w.stop("stopped", young)
		},
		want: gcWant{allocs: []string{"a-young"}, evals: []string{"e-young"}, jobs: []string{"stopped"}, versions: versionsOf("web", 1, 0)},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newGCWorld(t)
			tc.setup(w)
			c := cfg
			if tc.cfg != nil {
				c = *tc.cfg
			}
			got := summarize(state.GCCandidates(w.snap(), c, now))
			if got.String() != tc.want.String() {
				t.Errorf("candidates:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestGCCandidatesDeterministic(t *testing.T) {
	w := newGCWorld(t)
	for j := range 20 {
		w.versions(fmt.Sprintf("job-%02d", j), 9, t0)
		w.stop(fmt.Sprintf("job-%02d", j), t0)
	}
	now := t0.Add(10 * time.Hour)
	a := asJSON(t, state.GCCandidates(w.snap(), state.DefaultGCConfig(), now))
	for range 5 {
		if b := asJSON(t, state.GCCandidates(w.snap(), state.DefaultGCConfig(), now)); a != b {
			t.Fatalf("two runs on one snapshot differ:\n%s\n%s", a, b)
		}
	}
}

// TestGCApply applies the candidates and checks what is left, and what
// the job history keeps of the versions.
func TestGCApply(t *testing.T) {
	w := newGCWorld(t)
	w.versions("web", 10, t0)
	w.alloc("a-done", "web", 9, "e1", cluster.AllocDesiredStop, cluster.AllocClientComplete, t0)
	w.eval("e1", "web", cluster.EvalStatusComplete, t0)
	w.versions("gone", 2, t0)
	w.stop("gone", t0)
	now := t0.Add(5 * time.Hour)

	req := state.GCCandidates(w.snap(), state.DefaultGCConfig(), now)
	resp, ok := w.must(state.MsgGC, req).(*state.GCResponse)
	if !ok {
		t.Fatalf("response %T", resp)
	}
	want := state.GCResponse{Allocs: 1, Evals: 1, Jobs: 1, JobVersions: 4}
	if *resp != want {
		t.Errorf("response %+v, want %+v", *resp, want)
	}
	s := w.snap()
	if s.Alloc("a-done") != nil || s.Eval("e1") != nil || s.Job("default", "gone") != nil {
		t.Error("collected records are still there")
	}
	var left []uint64
	for _, v := range s.JobVersions("default", "web") {
		left = append(left, v.Version)
	}
	if !slices.Equal(left, []uint64{9, 8, 7, 6, 5, 4}) {
		t.Errorf("versions left %v, want 9..4", left)
	}
	// Every version's commit is still known: from the version or from
	// its summary.
	var commits []string
	for _, h := range s.JobHistory("default", "web") {
		commits = append(commits, fmt.Sprintf("%d:%s", h.Version, h.Source.Commit))
		if !h.CollectedAt.Equal(now) || h.SubmitTime.IsZero() || h.JobModifyIndex == 0 {
			t.Errorf("summary %+v", h)
		}
	}
	if got := strings.Join(commits, " "); got != "0:web-c0 1:web-c1 2:web-c2 3:web-c3" {
		t.Errorf("web history %s", got)
	}
	var gone []string
	for _, h := range s.JobHistory("default", "gone") {
		gone = append(gone, fmt.Sprintf("%d:%v", h.Version, h.Stop))
	}
	if got := strings.Join(gone, " "); got != "0:false 1:false 2:true" {
		t.Errorf("purged job's history %s, want its three versions with the stop", got)
	}
	if s.Index(state.TableJobHistory) != w.index {
		t.Errorf("job history index %d, want %d", s.Index(state.TableJobHistory), w.index)
	}

	// Applying the same request again changes nothing.
	before := dump(t, w.snap())
	again := w.must(state.MsgGC, req).(*state.GCResponse)
	if *again != (state.GCResponse{}) {
		t.Errorf("second apply collected %+v", *again)
	}
	if after := dump(t, w.snap()); after != before {
		t.Error("a second apply of the same request changed state")
	}
}

// TestGCApplySkipsWhatNoLongerQualifies: between the leader's snapshot
// and the commit, things change; the FSM checks every candidate again.
func TestGCApplySkipsWhatNoLongerQualifies(t *testing.T) {
	w := newGCWorld(t)
	w.versions("web", 8, t0)
	w.alloc("a1", "web", 7, "e1", cluster.AllocDesiredStop, cluster.AllocClientComplete, t0)
	w.eval("e1", "web", cluster.EvalStatusComplete, t0)
	w.versions("stopped", 1, t0)
	w.stop("stopped", t0)
	w.versions("api", 1, t0)
	w.deployment("d-old", "api", 0, cluster.DeploymentSuccessful, t0)
	w.deployment("d-new", "api", 0, cluster.DeploymentSuccessful, t0)
	now := t0.Add(5 * time.Hour)
	req := state.GCCandidates(w.snap(), state.DefaultGCConfig(), now)
	if g := summarize(req); len(g.allocs) != 1 || len(g.evals) != 1 || len(g.jobs) != 1 || len(g.versions) != 2 || len(g.deployments) != 1 {
		t.Fatalf("candidates:\n%s", g)
	}
	// Meanwhile: the allocation is placed again (in-place update) and
	// runs, version 1 gets an allocation, and the stopped job is
	// registered again. A request for a live job's newest deployment,
	// and one for records already gone, collect nothing.
	w.alloc("a1", "web", 7, "e1", cluster.AllocDesiredRun, cluster.AllocClientRunning, now)
	w.alloc("a-v1", "web", 1, "e2", cluster.AllocDesiredRun, cluster.AllocClientRunning, now)
	w.versions("stopped", 1, now)
	w.must(state.MsgGC, &state.GCRequest{Deployments: []string{"d-new"}, Now: now}) // the newest: skipped
	w.must(state.MsgGC, &state.GCRequest{Allocs: []string{"unknown"}, Evals: []string{"unknown"}, Jobs: []state.JobRef{{JobID: "unknown"}},
		JobVersions: []state.JobVersionRef{{JobID: "unknown", Version: 3}}, Now: now}) // gone already: skipped

	resp := w.must(state.MsgGC, req).(*state.GCResponse)
	want := state.GCResponse{Deployments: 1, JobVersions: 1}
	if *resp != want {
		t.Errorf("response %+v, want %+v", *resp, want)
	}
	s := w.snap()
	if s.Alloc("a1") == nil || s.Eval("e1") == nil || s.Job("default", "stopped") == nil || s.JobVersion("default", "web", 1) == nil {
		t.Error("a candidate that no longer qualified was collected")
	}
	if s.JobVersion("default", "web", 0) != nil || s.Deployment("d-old") != nil || s.Deployment("d-new") == nil {
		t.Error("what still qualified was not collected")
	}
}

func TestGCApplyRejectsMalformed(t *testing.T) {
	w := newGCWorld(t)
	for name, req := range map[string]*state.GCRequest{
		"job without ID":     {Jobs: []state.JobRef{{Namespace: "default"}}},
		"version without ID": {JobVersions: []state.JobVersionRef{{Version: 1}}},
		"too many IDs":       {Allocs: make([]string, 10*state.GCBatchSize+1)},
	} {
		resp := w.apply(state.MsgGC, req)
		if err, ok := resp.(error); !ok || !strings.Contains(err.Error(), "invalid") {
			t.Errorf("%s: %v, want invalid", name, resp)
		}
	}
}

func TestGCRequestSplitKeepsOrder(t *testing.T) {
	req := &state.GCRequest{
		Allocs:      []string{"a1", "a2", "a3"},
		Evals:       []string{"e1", "e2"},
		Jobs:        []state.JobRef{{JobID: "j1"}},
		Deployments: []string{"d1"},
		JobVersions: []state.JobVersionRef{{JobID: "j2", Version: 1}, {JobID: "j2", Version: 2}},
		Now:         t0,
	}
	parts := req.Split(2)
	if len(parts) != 5 {
		t.Fatalf("%d parts, want 5", len(parts))
	}
	var order []string
	for _, p := range parts {
		if p.Size() > 2 || !p.Now.Equal(t0) {
			t.Errorf("part %+v", p)
		}
		g := summarize(p)
		for _, l := range [][]string{g.allocs, g.evals, g.jobs, g.deployments, g.versions} {
			order = append(order, l...)
		}
	}
	if got := strings.Join(order, " "); got != "a1 a2 a3 e1 e2 j1 d1 j2@1 j2@2" {
		t.Errorf("order %s", got)
	}
	if n := len((&state.GCRequest{}).Split(10)); n != 0 {
		t.Errorf("an empty request splits into %d commands", n)
	}
}

// TestJobHistoryBounds: the history keeps the newest summaries per job
// and in all.
func TestJobHistoryBounds(t *testing.T) {
	w := newGCWorld(t)
	w.versions("a", 12, t0)
	w.versions("b", 12, t0)
	now := t0.Add(time.Hour)
	req := state.GCCandidates(w.snap(), state.GCConfig{JobTrackedVersions: 1}, now)
	req.HistoryPerJob, req.HistoryTotal = 8, 12
	w.must(state.MsgGC, req)
	s := w.snap()
	ha, hb := s.JobHistory("default", "a"), s.JobHistory("default", "b")
	if len(ha)+len(hb) != 12 || len(hb) != 8 {
		t.Fatalf("kept %d of a and %d of b, want 12 in all, 8 of b", len(ha), len(hb))
	}
	// The oldest go first: a's, which were registered before b's.
	if ha[0].Version != 7 || hb[0].Version != 3 {
		t.Errorf("oldest kept: a@%d b@%d, want a@7 b@3", ha[0].Version, hb[0].Version)
	}
}

func TestGCSnapshotRoundTripKeepsHistory(t *testing.T) {
	w := newGCWorld(t)
	w.versions("web", 9, t0)
	w.must(state.MsgGC, state.GCCandidates(w.snap(), state.DefaultGCConfig(), t0.Add(time.Hour)))
	want := asJSON(t, w.snap().JobHistory("default", "web"))
	if !strings.Contains(want, "web-c2") {
		t.Fatalf("no history to round-trip: %s", want)
	}
	var buf bytes.Buffer
	persist(t, w.fsm, &buf)
	dst := newFSM(t)
	if err := dst.fsm.Restore(readCloser(&buf)); err != nil {
		t.Fatal(err)
	}
	if got := asJSON(t, dst.snap().JobHistory("default", "web")); got != want {
		t.Errorf("restored history:\n%s\nwant:\n%s", got, want)
	}
	if got, want := dst.snap().Index(state.TableJobHistory), w.snap().Index(state.TableJobHistory); got != want {
		t.Errorf("restored index %d, want %d", got, want)
	}
}

// BenchmarkGCCandidates: a pass over 10,000 jobs (8 versions each) and
// 50,000 allocations, half of them terminal.
func BenchmarkGCCandidates(b *testing.B) {
	h := newFSM(b)
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n1"), Now: t0})
	const jobs, allocs = 10000, 50000
	for j := range jobs {
		id := fmt.Sprintf("job-%05d", j)
		for v := range 8 {
			h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: testJob(id, fmt.Sprintf("c%d", v), 1), Now: t0})
		}
	}
	var batch []*cluster.Allocation
	for i := range allocs {
		a := testAlloc(fmt.Sprintf("alloc-%06d", i), fmt.Sprintf("job-%05d", i%jobs), "n1", fmt.Sprintf("eval-%d", i%jobs))
		a.JobVersion = 7
		if i%2 == 0 {
			a.DesiredStatus = cluster.AllocDesiredStop
		}
		batch = append(batch, a)
		if len(batch) == 1000 {
			h.must(state.MsgPlanApply, &state.PlanApplyRequest{Allocs: batch, Now: t0})
			batch = nil
		}
	}
	snap := h.snap()
	now := t0.Add(5 * time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	var req *state.GCRequest
	for b.Loop() {
		req = state.GCCandidates(snap, state.DefaultGCConfig(), now)
	}
	b.StopTimer()
	if len(req.Allocs) != allocs/2 || len(req.JobVersions) != 2*jobs {
		b.Fatalf("%d allocations, %d versions", len(req.Allocs), len(req.JobVersions))
	}
}
