package deploymentwatcher

import (
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	versions := []*cluster.Job{
		{ID: "web", Version: 0, Stable: true},
		{ID: "web", Version: 1, Stable: true},
		{ID: "web", Version: 2, Stop: true, Stable: true},
		{ID: "web", Version: 3},
	}
	dep := func(status string, groups map[string]*cluster.DeploymentGroup) *cluster.Deployment {
		return &cluster.Deployment{ID: "d", JobID: "web", JobVersion: 3, Status: status, TaskGroups: groups}
	}
	grp := func(total, healthy, unhealthy int, by time.Time, revert bool) *cluster.DeploymentGroup {
		return &cluster.DeploymentGroup{DesiredTotal: total, PlacedAllocs: healthy + unhealthy, HealthyAllocs: healthy,
			UnhealthyAllocs: unhealthy, RequireProgressBy: by, ProgressDeadline: 10 * time.Minute, AutoRevert: revert}
	}
	later := now.Add(time.Minute)
	tests := []struct {
		name     string
		d        *cluster.Deployment
		status   string
		desc     string
		stable   bool
		revertTo int // -1: none
		next     time.Time
	}{
		{"in progress", dep("running", map[string]*cluster.DeploymentGroup{"g": grp(3, 1, 0, later, false)}), "", "", false, -1, later},
		{"all healthy", dep("running", map[string]*cluster.DeploymentGroup{"g": grp(3, 3, 0, later, false)}), "successful", DescSuccessful, true, -1, time.Time{}},
		{"one group still going", dep("running", map[string]*cluster.DeploymentGroup{"a": grp(1, 1, 0, later, false), "b": grp(2, 0, 0, later, false)}), "", "", false, -1, later},
		{"unhealthy allocation", dep("running", map[string]*cluster.DeploymentGroup{"g": grp(3, 1, 1, later, false)}), "failed", DescUnhealthy, false, -1, time.Time{}},
		{"unhealthy with auto_revert", dep("running", map[string]*cluster.DeploymentGroup{"g": grp(3, 1, 1, later, true)}), "failed", DescUnhealthy + " - rolling back to job version 1", false, 1, time.Time{}},
		{"progress deadline passed", dep("running", map[string]*cluster.DeploymentGroup{"g": grp(3, 1, 0, now, false)}), "failed", DescProgressDeadline, false, -1, time.Time{}},
		{"progress deadline, but done", dep("running", map[string]*cluster.DeploymentGroup{"g": grp(3, 3, 0, now.Add(-time.Hour), false)}), "successful", DescSuccessful, true, -1, time.Time{}},
		{"canaries healthy, manual promotion", dep("running", map[string]*cluster.DeploymentGroup{"g": {DesiredTotal: 3, DesiredCanaries: 1, HealthyAllocs: 1}}), "running", DescNeedsPromotion, false, -1, time.Time{}},
		{"canaries still becoming healthy", dep("running", map[string]*cluster.DeploymentGroup{"g": {DesiredTotal: 3, DesiredCanaries: 2, HealthyAllocs: 1}}), "", "", false, -1, time.Time{}},
		{"promoted, rest rolling", dep("running", map[string]*cluster.DeploymentGroup{"g": {DesiredTotal: 3, DesiredCanaries: 1, Promoted: true, HealthyAllocs: 2}}), "", "", false, -1, time.Time{}},
		{"promoted and all healthy", dep("running", map[string]*cluster.DeploymentGroup{"g": {DesiredTotal: 3, DesiredCanaries: 1, Promoted: true, HealthyAllocs: 3}}), "successful", DescSuccessful, true, -1, time.Time{}},
		{"unhealthy canary fails", dep("running", map[string]*cluster.DeploymentGroup{"g": {DesiredTotal: 3, DesiredCanaries: 1, UnhealthyAllocs: 1, AutoRevert: true}}), "failed", DescUnhealthy + " - rolling back to job version 1", false, 1, time.Time{}},
		{"paused waits for the operator", dep("paused", map[string]*cluster.DeploymentGroup{"g": grp(3, 1, 1, now, true)}), "", "", false, -1, time.Time{}},
		{"finished", dep("failed", map[string]*cluster.DeploymentGroup{"g": grp(3, 1, 1, now, true)}), "", "", false, -1, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(Input{Deployment: tt.d, Versions: versions, Now: now})
			if got.Status != tt.status || got.Description != tt.desc || got.MarkStable != tt.stable || !got.Next.Equal(tt.next) {
				t.Errorf("got %+v, want status %q desc %q stable %v next %v", got, tt.status, tt.desc, tt.stable, tt.next)
			}
			switch {
			case tt.revertTo < 0 && got.RevertTo != nil:
				t.Errorf("revert to version %d, want none", got.RevertTo.Version)
			case tt.revertTo >= 0 && (got.RevertTo == nil || got.RevertTo.Version != uint64(tt.revertTo)):
				t.Errorf("revert to %+v, want version %d", got.RevertTo, tt.revertTo)
			}
		})
	}
}

func TestDecideAutoPromote(t *testing.T) {
	groups := func(autoB bool) map[string]*cluster.DeploymentGroup {
		return map[string]*cluster.DeploymentGroup{
			"a": {DesiredTotal: 2, DesiredCanaries: 1, HealthyAllocs: 1, AutoPromote: true},
			"b": {DesiredTotal: 2, DesiredCanaries: 1, HealthyAllocs: 1, AutoPromote: autoB},
			"c": {DesiredTotal: 1, HealthyAllocs: 0},
		}
	}
	d := &cluster.Deployment{Status: "running", TaskGroups: groups(true)}
	if got := Decide(Input{Deployment: d, Now: time.Now()}); !got.Promote || got.Status != "" {
		t.Errorf("every canary group allows auto_promote: got %+v, want promote", got)
	}
	d = &cluster.Deployment{Status: "running", TaskGroups: groups(false)}
	if got := Decide(Input{Deployment: d, Now: time.Now()}); got.Promote || got.Description != DescNeedsPromotion {
		t.Errorf("one group without auto_promote: got %+v, want manual promotion", got)
	}
	d.StatusDescription = DescNeedsPromotion
	if got := Decide(Input{Deployment: d, Now: time.Now()}); got.Status != "" {
		t.Errorf("already says so: got %+v, want nothing", got)
	}
}

func TestDecideNoStableVersion(t *testing.T) {
	d := &cluster.Deployment{JobVersion: 0, Status: "running", TaskGroups: map[string]*cluster.DeploymentGroup{
		"g": {DesiredTotal: 1, PlacedAllocs: 1, UnhealthyAllocs: 1, AutoRevert: true},
	}}
	got := Decide(Input{Deployment: d, Versions: []*cluster.Job{{Version: 0}}, Now: time.Now()})
	if got.RevertTo != nil || got.Description != DescUnhealthy+" - no stable job version to auto revert to" {
		t.Errorf("got %+v", got)
	}
}

// TestDecideUnhealthyReplaced: in a group with a progress_deadline, a
// failed allocation the scheduler replaces (reschedule attempts left, or
// already replaced) does not fail the deployment, as in Nomad; one with
// no attempt left, a running one its checks find unhealthy, or any
// unhealthy one without a progress deadline does.
func TestDecideUnhealthyReplaced(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	later := now.Add(time.Minute)
	policy := func(attempts int) *jobspec.ReschedulePolicy {
		return &jobspec.ReschedulePolicy{Attempts: attempts, Interval: time.Hour, Delay: time.Second, DelayFunction: "constant"}
	}
	versions := func(p *jobspec.ReschedulePolicy) []*cluster.Job {
		return []*cluster.Job{{ID: "web", Version: 0, Stable: true},
			{ID: "web", Version: 1, Spec: &jobspec.Job{ID: "web", Groups: []*jobspec.Group{{Name: "g", Count: 2, Reschedule: p}}}}}
	}
	unhealthy := false
	alloc := func(status, next string) *cluster.Allocation {
		return &cluster.Allocation{ID: "a1", TaskGroup: "g", DeploymentID: "d", ClientStatus: status, NextAllocation: next,
			ModifyTime: now, DeploymentStatus: &cluster.AllocDeploymentStatus{Healthy: &unhealthy}}
	}
	dep := func(deadline time.Duration, healthy int) *cluster.Deployment {
		return &cluster.Deployment{ID: "d", JobID: "web", JobVersion: 1, Status: "running", TaskGroups: map[string]*cluster.DeploymentGroup{
			"g": {DesiredTotal: 2, PlacedAllocs: 2, HealthyAllocs: healthy, UnhealthyAllocs: 1, ProgressDeadline: deadline, RequireProgressBy: later}}}
	}
	tests := []struct {
		name     string
		d        *cluster.Deployment
		versions []*cluster.Job
		alloc    *cluster.Allocation
		status   string
	}{
		{"failed, attempts left: wait for the replacement", dep(time.Minute, 1), versions(policy(1)), alloc("failed", ""), ""},
		{"failed and replaced: wait for the replacement", dep(time.Minute, 1), versions(policy(0)), alloc("failed", "a2"), ""},
		{"replacement healthy: successful", dep(time.Minute, 2), versions(policy(1)), alloc("failed", "a2"), "successful"},
		{"failed, no attempt left: fails", dep(time.Minute, 1), versions(policy(0)), alloc("failed", ""), "failed"},
		{"running but unhealthy: fails", dep(time.Minute, 1), versions(policy(1)), alloc("running", ""), "failed"},
		{"no progress deadline: the first unhealthy fails", dep(0, 1), versions(policy(1)), alloc("failed", ""), "failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(Input{Deployment: tt.d, Versions: tt.versions, Allocs: []*cluster.Allocation{tt.alloc}, Now: now})
			if got.Status != tt.status {
				t.Errorf("status %q (%s), want %q", got.Status, got.Description, tt.status)
			}
		})
	}
}
