package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/reconciler"
)

func boolp(b bool) *bool { return &b }

// fixtureRollout is a rolling update of web's frontend (max_parallel = 1)
// in its second batch: one replacement healthy, one becoming healthy.
func fixtureRollout(status, desc string, healthy, unhealthy int) *deploymentStatusView {
	placed := healthy + unhealthy
	if unhealthy == 0 && healthy < 3 {
		placed++ // the batch in flight
	}
	d := &cluster.Deployment{
		ID: "8e2b1c4d-0000-4000-8000-000000000001", Namespace: "default", JobID: "web", JobVersion: 5,
		Status: status, StatusDescription: desc,
		TaskGroups: map[string]*cluster.DeploymentGroup{
			"frontend": {AutoRevert: true, DesiredTotal: 3, PlacedAllocs: placed, HealthyAllocs: healthy, UnhealthyAllocs: unhealthy,
				ProgressDeadline: 10 * time.Minute, RequireProgressBy: renderNow.Add(9 * time.Minute)},
		},
		CreateIndex: 40, ModifyIndex: 52, CreateTime: ago(2 * time.Minute), ModifyTime: ago(5 * time.Second),
	}
	a1 := fixtureAlloc("a1000000-0000-4000-8000-000000000001", "web.frontend[0]", "frontend", node1, "client-1", "run", "running", 5, 41, 2*time.Minute)
	a1.DeploymentID = d.ID
	a1.DeploymentStatus = &cluster.AllocDeploymentStatus{Healthy: boolp(true), Timestamp: ago(90 * time.Second)}
	a2 := fixtureAlloc("a2000000-0000-4000-8000-000000000002", "web.frontend[1]", "frontend", node2, "client-2", "run", "running", 5, 45, 85*time.Second)
	a2.DeploymentID = d.ID
	if unhealthy > 0 {
		a2.DeploymentStatus = &cluster.AllocDeploymentStatus{Healthy: boolp(false), Timestamp: ago(20 * time.Second)}
	}
	return &deploymentStatusView{Deployment: d, Allocations: []*cluster.Allocation{a1, a2}}
}

func TestRenderDeploymentStatus(t *testing.T) {
	for _, tt := range []struct {
		name string
		v    *deploymentStatusView
	}{
		{"deployment_status_running", fixtureRollout(cluster.DeploymentRunning, "Deployment is running", 1, 0)},
		{"deployment_status_failed_revert", fixtureRollout(cluster.DeploymentFailed, "Failed due to unhealthy allocations - rolling back to job version 4", 1, 1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			renderDeploymentStatus(&buf, tt.v, renderNow)
			checkGolden(t, tt.name, buf.Bytes())
		})
	}
}

func TestRenderDeploymentStatusCanaries(t *testing.T) {
	v := fixtureRollout(cluster.DeploymentRunning, "Deployment is running but requires manual promotion", 1, 0)
	g := v.Deployment.TaskGroups["frontend"]
	g.DesiredCanaries, g.PlacedCanaries = 1, []string{v.Allocations[0].ID}
	v.Allocations[0].DeploymentStatus.Canary = true
	var buf bytes.Buffer
	renderDeploymentStatus(&buf, v, renderNow)
	checkGolden(t, "deployment_status_canary", buf.Bytes())
}

func TestRenderDeploymentList(t *testing.T) {
	older := fixtureRollout(cluster.DeploymentSuccessful, "Deployment completed successfully", 3, 0).Deployment
	older.ID, older.JobVersion, older.CreateIndex, older.CreateTime = "7a1f0000-0000-4000-8000-000000000002", 4, 20, ago(3*time.Hour)
	cur := fixtureRollout(cluster.DeploymentFailed, "Failed due to progress deadline", 1, 0).Deployment
	ds := []*cluster.Deployment{older, cur}
	sortDeployments(ds)
	var buf bytes.Buffer
	renderDeploymentList(&buf, ds, renderNow)
	checkGolden(t, "deployment_list", buf.Bytes())
	buf.Reset()
	renderDeploymentList(&buf, nil, renderNow)
	if buf.String() != "No deployments\n" {
		t.Errorf("empty list: %q", buf.String())
	}
}

func TestProgressLinesShowDeploymentProgress(t *testing.T) {
	v := fixtureRollout(cluster.DeploymentRunning, "Deployment is running", 1, 0)
	ro := reconciler.Rollout{Version: 5, Deployment: v.Deployment, Allocs: v.Allocations, Latest: &cluster.Job{ID: "web", Version: 5,
		Spec: &jobspec.Job{ID: "web", Type: jobspec.JobTypeService, Groups: []*jobspec.Group{{Name: "frontend", Count: 3}}}}}
	got := progressLines([]progressWave{{Jobs: []progressJob{{ID: "web", Version: 5, Rollout: &ro, Health: reconciler.Assess(ro)}}}})
	want := []string{
		"web version 5: deployment 8e2b1c4d running (Deployment is running)",
		"web/frontend: 2/3 running, 2 placed, 1/3 healthy",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines %+v, want %q", len(got), got, want)
	}
	for i := range want {
		if got[i].Text != want[i] {
			t.Errorf("line %d:\ngot  %q\nwant %q", i, got[i].Text, want[i])
		}
	}
}
