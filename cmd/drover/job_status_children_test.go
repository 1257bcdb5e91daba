package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// TestRenderDispatchedJobStatus: a parameterized job lists its
// dispatched jobs, newest first, under Nomad's heading; a finished
// batch child says how it ended.
func TestRenderDispatchedJobStatus(t *testing.T) {
	spec := &jobspec.Job{ID: "encode", Name: "encode", Type: jobspec.JobTypeBatch, Priority: 50, Datacenters: []string{"dc1"},
		Groups:        []*jobspec.Group{{Name: "g"}},
		Parameterized: &jobspec.Parameterized{Payload: "required", MetaRequired: []string{"input"}}}
	parent := &jobStatusView{
		Job: &cluster.Job{Namespace: "default", ID: "encode", Spec: spec, Status: cluster.JobStatusRunning, SubmitTime: ago(2 * time.Hour)},
		Children: []*api.JobListStub{
			{ID: "encode/dispatch-1773493766-0a1b2c3d", ParentID: "encode", Status: "dead", SubmitTime: ago(time.Hour)},
			{ID: "encode/dispatch-1773497366-deadbeef", ParentID: "encode", Status: "running", SubmitTime: ago(time.Minute)},
		},
	}
	empty := &jobStatusView{Job: parent.Job}
	childSpec := *spec
	childSpec.ID, childSpec.Name, childSpec.Parameterized = "encode/dispatch-1773493766-0a1b2c3d", "encode/dispatch-1773493766-0a1b2c3d", nil
	alloc := func(id, status, next string) *cluster.Allocation {
		return &cluster.Allocation{ID: id + "-0000-0000-0000-000000000000", NodeName: "n1", TaskGroup: "g", DesiredStatus: "run",
			ClientStatus: status, NextAllocation: next, CreateTime: ago(time.Hour), ModifyTime: ago(time.Hour)}
	}
	child := func(allocs ...*cluster.Allocation) *jobStatusView {
		return &jobStatusView{Job: &cluster.Job{Namespace: "default", ID: childSpec.ID, Spec: &childSpec, Status: cluster.JobStatusDead,
			ParentID: "encode", SubmitTime: ago(time.Hour)}, Allocations: allocs}
	}
	for _, tc := range []struct {
		name string
		v    *jobStatusView
	}{
		{"job_status_dispatched", parent},
		{"job_status_dispatched_none", empty},
		{"job_status_batch_complete", child(alloc("aaaaaaaa", "failed", "bbbbbbbb"), alloc("bbbbbbbb", "complete", ""))},
		{"job_status_batch_failed", child(alloc("aaaaaaaa", "failed", ""))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			renderJobStatus(&b, tc.v, renderNow)
			checkGolden(t, tc.name, b.Bytes())
		})
	}
}
