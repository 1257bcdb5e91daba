package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server/servertest"
)

// apiJob is a job "api" with a group service "api" on port "http" and a
// task service "api-admin" on port "admin", count n.
func apiJob(n int) string {
	return fmt.Sprintf(`
job "api" {
  datacenters = ["dc1"]
  update {
    max_parallel = 0
  }
  group "api" {
    count = %d
    network {
      port "http" {}
      port "admin" {}
    }
    service {
      name = "api"
      port = "http"
      tags = ["v1", "http"]
      provider = "nomad"
      meta {
        team = "core"
      }
    }
    task "server" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      service {
        name = "api-admin"
        port = "admin"
      }
      resources {
        cpu    = 100
        memory = 128
      }
    }
  }
}
`, n)
}

// serviceNode registers a node with a network_ip, as an agent does.
func serviceNode(t *testing.T, c *api.Client) *cluster.Node {
	t.Helper()
	n := testNode(1)
	n.Attributes[cluster.NodeAttrIP] = "127.0.0.1"
	if _, err := asNode(c, n.ID).Nodes().Register(ctxT(t), n); err != nil {
		t.Fatal(err)
	}
	return n
}

// runAllocs reports every live allocation of the job as running, as the
// node's agent would once its tasks started, and returns them.
func runAllocs(t *testing.T, c *api.Client, node *cluster.Node, jobID string, status string) []*cluster.Allocation {
	t.Helper()
	ctx := ctxT(t)
	allocs, _, err := c.Jobs().Allocations(ctx, jobID, nil)
	if err != nil {
		t.Fatal(err)
	}
	allocs = liveAllocs(allocs)
	var reports []*cluster.Allocation
	for _, a := range allocs {
		reports = append(reports, &cluster.Allocation{ID: a.ID, ClientStatus: status,
			TaskStates: map[string]*cluster.TaskState{"server": {State: map[string]string{
				cluster.AllocClientRunning: cluster.TaskStateRunning, cluster.AllocClientPending: cluster.TaskStatePending,
			}[status]}}})
	}
	if _, err := asNode(c, node.ID).Nodes().UpdateAllocs(ctx, node.ID, reports); err != nil {
		t.Fatal(err)
	}
	return allocs
}

func TestServiceCatalogAPI(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	ctx := ctxT(t)
	node := serviceNode(t, s.Client)
	if _, err := s.Client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: parseJob(t, apiJob(2))}); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, s.Client, "api")

	// Placed but not yet running: nothing registered, and the list is [].
	regs, meta, err := s.Client.Services().Get(ctx, "api", nil)
	if err != nil || len(regs) != 0 {
		t.Fatalf("before running: %v %v", regs, err)
	}
	allocs := runAllocs(t, s.Client, node, "api", cluster.AllocClientRunning)

	// A blocking query at the old index returned at once with the change.
	regs, meta2, err := s.Client.Services().Get(ctx, "api", &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != 2 || meta2.LastIndex <= meta.LastIndex {
		t.Fatalf("running: %d instances at index %d (was %d)", len(regs), meta2.LastIndex, meta.LastIndex)
	}
	ports := map[int]bool{}
	for _, a := range allocs {
		for _, p := range a.Resources.Ports {
			if p.Label == "http" {
				ports[p.Value] = true
			}
		}
	}
	for _, r := range regs {
		if r.Address != "127.0.0.1" || !ports[r.Port] || r.Namespace != "default" || r.JobID != "api" ||
			!slices.Equal(r.Tags, []string{"v1", "http"}) || r.Meta["team"] != "core" || r.Status != cluster.ServiceHealthPassing {
			t.Errorf("instance %+v (allocated http ports %v)", r, ports)
		}
	}

	// Nomad's list shape, names sorted, tags merged.
	list, _, err := s.Client.Services().List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Namespace != "default" || len(list[0].Services) != 2 ||
		list[0].Services[0].ServiceName != "api" || list[0].Services[1].ServiceName != "api-admin" ||
		!slices.Equal(list[0].Services[0].Tags, []string{"http", "v1"}) || list[0].Services[1].Tags == nil {
		t.Fatalf("list = %s", asJSONT(t, list))
	}
	other, _, err := s.Client.Services().List(ctx, &api.QueryOptions{Params: map[string]string{"namespace": "other"}})
	if err != nil || len(other) != 0 {
		t.Fatalf("namespace other: %v %v", other, err)
	}

	// choose: one instance, the same one for the same key.
	pick := func(key string) string {
		t.Helper()
		r, _, err := s.Client.Services().Get(ctx, "api", &api.QueryOptions{Params: map[string]string{"choose": "1|" + key}})
		if err != nil || len(r) != 1 {
			t.Fatalf("choose 1|%s: %v %v", key, r, err)
		}
		return r[0].ID
	}
	first := pick("web-1")
	for range 5 {
		if got := pick("web-1"); got != first {
			t.Fatalf("choose moved: %s then %s", first, got)
		}
	}
	for _, bad := range []string{"x", "0|k", "2", "2|", "-1|k", "99999999|k", "1|" + strings.Repeat("k", 300)} {
		_, _, err := s.Client.Services().Get(ctx, "api", &api.QueryOptions{Params: map[string]string{"choose": bad}})
		var se *api.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusBadRequest || !strings.Contains(se.Message, "choose=") {
			t.Errorf("choose=%q: %v, want a 400 that names choose", bad, err)
		}
	}

	// One task restarts: critical, hidden by default, shown with all=true.
	if _, err := asNode(s.Client, node.ID).Nodes().UpdateAllocs(ctx, node.ID, []*cluster.Allocation{{ID: allocs[0].ID,
		TaskStates: map[string]*cluster.TaskState{"server": {State: cluster.TaskStatePending}}}}); err != nil {
		t.Fatal(err)
	}
	if regs, _, _ = s.Client.Services().Get(ctx, "api", nil); len(regs) != 1 || regs[0].AllocID != allocs[1].ID {
		t.Fatalf("healthy only: %s", asJSONT(t, regs))
	}
	if regs, _, _ = s.Client.Services().Get(ctx, "api", &api.QueryOptions{Params: map[string]string{"all": "true"}}); len(regs) != 2 {
		t.Fatalf("all: %d", len(regs))
	}

	// Delete one instance; an unknown one is a 404 that says what to run.
	if _, err := s.Client.Services().Delete(ctx, "", "api", regs[0].ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Client.Services().Delete(ctx, "", "api", "nope")
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusNotFound || !strings.Contains(se.Message, "drover service info") {
		t.Fatalf("delete unknown: %v", err)
	}

	// Stopping the job removes every instance.
	if _, err := s.Client.Jobs().Deregister(ctx, "api", false); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, "the catalog to empty", func() bool {
		r, _, err := s.Client.Services().Get(ctx, "api", &api.QueryOptions{Params: map[string]string{"all": "true"}})
		return err == nil && len(r) == 0
	})
}

func asJSONT(t *testing.T, v any) string {
	t.Helper()
	b, _ := json.Marshal(v)
	return string(b)
}

// TestServiceCatalogResyncOnLeadership: an instance whose allocation
// still runs but that is missing from the catalog (deleted by hand here;
// after an upgrade, never derived) is put back by the next leader, with
// no update from the allocation's node.
func TestServiceCatalogResyncOnLeadership(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	ctx := ctxT(t)
	node := serviceNode(t, s.Client)
	if _, err := s.Client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: parseJob(t, apiJob(1))}); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, s.Client, "api")
	runAllocs(t, s.Client, node, "api", cluster.AllocClientRunning)
	regs, _, err := s.Client.Services().Get(ctx, "api", nil)
	if err != nil || len(regs) != 1 {
		t.Fatalf("instances %v %v", regs, err)
	}
	if _, err := s.Client.Services().Delete(ctx, "default", "api", regs[0].ID); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Client.Services().Get(ctx, "api", nil); len(got) != 0 {
		t.Fatalf("after delete: %v", got)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	s2 := servertest.Start(t, s.Config)
	servertest.WaitFor(t, "the instance to be registered again", func() bool {
		got, _, err := s2.Client.Services().Get(ctx, "api", nil)
		return err == nil && len(got) == 1 && got[0].ID == regs[0].ID
	})
}
