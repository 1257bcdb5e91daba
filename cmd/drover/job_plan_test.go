package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	"github.com/droverhq/drover/scheduler"
	"github.com/droverhq/drover/server/servertest"
)

// planRolloutJob is a three-node service whose rollout goes through
// followers before the leader. rollout is the body of its rollout block.
func planRolloutJob(version, rollout string) string {
	return fmt.Sprintf(`job "db" {
  datacenters = ["dc1"]
  group "db" {
    count = 3
    constraint {
      distinct_hosts = true
    }
    update {
      max_parallel = 1
    }
    rollout {
%s
    }
    task "server" {
      driver = "exec"
      env {
        VERSION = %q
      }
      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`, rollout, version)
}

// planRolloutCluster starts an in-process server with node-a (the leader),
// node-b and node-c (followers).
func planRolloutCluster(t *testing.T) *servertest.Server {
	t.Helper()
	s := servertest.Single(t)
	for i, role := range []string{"leader", "follower", "follower"} {
		n := &cluster.Node{ID: fmt.Sprintf("%d0000000-0000-4000-8000-000000000000", i+1), Name: "node-" + string(rune('a'+i)), Datacenter: "dc1",
			Attributes: map[string]string{"kernel.name": "linux"}, Meta: map[string]string{"role": role},
			Resources: cluster.NodeResources{CPU: 4000, MemoryMB: 8192},
			Drivers:   map[string]cluster.DriverInfo{"exec": {Detected: true, Healthy: true}}}
		if _, err := s.Client.Nodes().Register(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestJobPlanRolloutOrder(t *testing.T) {
	s := planRolloutCluster(t)
	ctx := context.Background()
	addr := clientOptions{address: s.Client.Address()}
	dir := t.TempDir()
	path := filepath.Join(dir, "db.nomad.hcl")
	byRole := `      order_by = "${meta.role}"
      order    = ["follower", "leader"]`

	// Before the job runs there is nothing to replace.
	writeFile(t, path, planRolloutJob("1", byRole))
	var c capture
	if code := jobPlan(ctx, jobPlanOptions{client: addr, file: jobFileOptions{path: path}}, c.stdio()); code != exitChanges {
		t.Fatalf("plan of a new job: exit %d\nstderr: %s", code, c.err.String())
	}
	if want := `Rollout order for group "db" (order_by ${meta.role}): no allocations to replace yet.`; !strings.Contains(c.out.String(), want) {
		t.Errorf("plan of a new job lacks %q:\n%s", want, c.out.String())
	}
	c = capture{}
	if code := jobRun(ctx, jobRunOptions{client: addr, file: jobFileOptions{path: path}, clock: func() time.Time { return renderNow }, evalOnly: true}, c.stdio()); code != exitOK {
		t.Fatalf("job run: exit %d\nstderr: %s", code, c.err.String())
	}

	// A new version: followers first, by name, then the leader.
	writeFile(t, path, planRolloutJob("2", byRole))
	c = capture{}
	if code := jobPlan(ctx, jobPlanOptions{client: addr, file: jobFileOptions{path: path}}, c.stdio()); code != exitChanges {
		t.Fatalf("plan of version 2: exit %d\nstderr: %s", code, c.err.String())
	}
	want := `Rollout order for group "db" (order_by ${meta.role}):
  1. node-b  follower
  2. node-c  follower
  3. node-a  leader

Scheduler dry-run:`
	if !strings.Contains(c.out.String(), want) {
		t.Errorf("plan lacks\n%s\ngot:\n%s", want, c.out.String())
	}

	// By node name, with a node the cluster does not have: a warning at
	// the element, and the plan goes on.
	writeFile(t, path, planRolloutJob("2", `      order = ["node-c", "node-x", "node-a"]`))
	c = capture{}
	if code := jobPlan(ctx, jobPlanOptions{client: addr, file: jobFileOptions{path: path}}, c.stdio()); code != exitChanges {
		t.Fatalf("plan by node name: exit %d\nstderr: %s", code, c.err.String())
	}
	warn := path + `:12:26: Warning: rollout.order of group "db" names node "node-x", which is not in the cluster`
	if !strings.Contains(c.err.String(), warn) {
		t.Errorf("stderr lacks %q:\n%s", warn, c.err.String())
	}
	want = `Rollout order for group "db" (by node name):
  1. node-c
  2. node-a
  3. node-b  (not in order: last)
`
	if !strings.Contains(c.out.String(), want) {
		t.Errorf("plan lacks\n%s\ngot:\n%s", want, c.out.String())
	}
}

func TestPlanRenderRolloutOrder(t *testing.T) {
	job := &jobspec.Job{ID: "db", Groups: []*jobspec.Group{
		{Name: "db", Rollout: &jobspec.Rollout{OrderBy: "${meta.role}", Order: []string{"follower", "leader"}}},
		{Name: "plain"},
		{Name: "cache", Rollout: &jobspec.Rollout{Order: []string{"node-c"}}},
		{Name: "canary", Update: &jobspec.UpdateStrategy{MaxParallel: 1, Canary: 1},
			Rollout: &jobspec.Rollout{OrderBy: "${meta.role}", Order: []string{"follower"}}},
		{Name: "new", Rollout: &jobspec.Rollout{Order: []string{"node-a"}}},
	}}
	orders := map[string][]scheduler.OrderedNode{
		"db": {
			{Node: "node-b", Value: "follower", Listed: true},
			{Node: "node-c", Value: "follower", Listed: true},
			{Node: "node-a", Value: "leader", Listed: true},
			{Node: "node-long-name", Value: "witness"},
			{Node: "node-e"},
		},
		"cache": {
			{Node: "node-c", Value: "node-c", Listed: true},
			{Node: "node-a", Value: "node-a"},
		},
		"canary": {
			{Node: "node-b", Value: "follower", Listed: true},
			{Node: "node-a", Value: "leader"},
		},
		"new": {},
	}
	var b bytes.Buffer
	renderRolloutOrder(&b, job, orders)
	checkGolden(t, "plan_rollout_order", b.Bytes())

	// An older server sends no order: nothing is printed.
	b.Reset()
	if renderRolloutOrder(&b, job, nil); b.Len() != 0 {
		t.Errorf("without the server's order: %q", b.String())
	}
}
