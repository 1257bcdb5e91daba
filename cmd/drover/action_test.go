package main

import (
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

func TestPickActionAlloc(t *testing.T) {
	alloc := func(id, group, status string, idx uint64) *cluster.Allocation {
		return &cluster.Allocation{ID: id, TaskGroup: group, ClientStatus: status, DesiredStatus: cluster.AllocDesiredRun, CreateIndex: idx}
	}
	allocs := []*cluster.Allocation{
		alloc("aaaa1111", "web", cluster.AllocClientRunning, 5),
		alloc("aaaa2222", "web", cluster.AllocClientRunning, 9),
		alloc("bbbb1111", "db", cluster.AllocClientRunning, 3),
		alloc("cccc1111", "web", cluster.AllocClientPending, 20),
	}
	for _, tc := range []struct {
		name, group, alloc, want, err string
	}{
		{"newest running", "", "", "aaaa2222", ""},
		{"of a group", "db", "", "bbbb1111", ""},
		{"by prefix", "", "aaaa1", "aaaa1111", ""},
		{"ambiguous prefix", "", "aaaa", "", "ambiguous"},
		{"pending is not running", "", "cccc", "", "no running allocation"},
		{"no such group", "cache", "", "", `group "cache"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, msg := pickActionAlloc(allocs, tc.group, tc.alloc)
			if tc.want != "" && (a == nil || a.ID != tc.want) || tc.want == "" && (a != nil || !strings.Contains(msg, tc.err)) {
				t.Fatalf("got %v %q, want %q %q", a, msg, tc.want, tc.err)
			}
		})
	}
}

func TestPickActionTask(t *testing.T) {
	spec := &jobspec.Job{Groups: []*jobspec.Group{{Name: "web", Tasks: []*jobspec.Task{
		{Name: "app", Actions: []jobspec.Action{{Name: "flush", Command: "/bin/true"}, {Name: "status", Command: "/bin/true"}}},
		{Name: "proxy", Actions: []jobspec.Action{{Name: "status", Command: "/bin/true"}}},
		{Name: "log"},
	}}}}
	for _, tc := range []struct {
		name, task, action, want, err string
	}{
		{"the one task that declares it", "", "flush", "app", ""},
		{"named task", "proxy", "status", "proxy", ""},
		{"several declare it", "", "status", "", "choose one with -task"},
		{"named task lacks it", "log", "flush", "", `task "log" of group "web" has no action "flush" (declared: app: flush, app: status, proxy: status)`},
		{"nobody declares it", "", "nope", "", `group "web" has no action "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, msg := pickActionTask(spec, "web", tc.task, tc.action)
			if got != tc.want || tc.err != "" && !strings.Contains(msg, tc.err) {
				t.Fatalf("got %q %q, want %q %q", got, msg, tc.want, tc.err)
			}
		})
	}
	if _, msg := pickActionTask(nil, "web", "", "x"); !strings.Contains(msg, "no group") {
		t.Fatalf("no spec: %q", msg)
	}
}
