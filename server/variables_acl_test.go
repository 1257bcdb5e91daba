package server_test

import (
	"net/http"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// TestVariablesACL: a policy's variables rules govern each path; a
// task's workload identity reads its job's, group's and task's paths
// and nothing else, and writes nothing.
func TestVariablesACL(t *testing.T) {
	s := servertest.Single(t, noHeartbeats, func(c *server.Config) {
		c.ACL = true
		c.Token = testMgmtToken
	})
	ctx := ctxT(t)
	mgmt := s.Client.Variables()
	for _, p := range []string{"app/x", "app/secret/y", "nomad/jobs/web", "nomad/jobs/web/web/server", "nomad/jobs/other"} {
		if _, err := mgmt.Put(ctx, &api.Variable{Path: p, Items: map[string]string{"k": p}}, nil); err != nil {
			t.Fatal(err)
		}
	}

	tok := mustToken(t, s.Client, "app-reader", `
namespace "default" {
  variables {
    path "app/*" {
      capabilities = ["read"]
    }
    path "app/secret/*" {
      capabilities = ["deny"]
    }
  }
}
`)
	reader := s.Client.WithToken(tok).Variables()
	if v, _, err := reader.Get(ctx, "", "app/x", nil); err != nil || v.Items["k"] != "app/x" {
		t.Fatalf("read app/x: %+v %v", v, err)
	}
	for _, p := range []string{"app/secret/y", "nomad/jobs/web"} {
		if _, _, err := reader.Get(ctx, "", p, nil); statusCode(err) != http.StatusForbidden {
			t.Errorf("read %s: %v, want 403", p, err)
		}
	}
	if _, err := reader.Put(ctx, &api.Variable{Path: "app/x", Items: map[string]string{"k": "v"}}, nil); statusCode(err) != http.StatusForbidden {
		t.Errorf("write with a read rule: %v, want 403", err)
	}
	list, _, err := reader.List(ctx, "", "", nil)
	if err != nil || len(list) != 1 || list[0].Path != "app/x" {
		t.Fatalf("list shows %+v %v, want only app/x", list, err)
	}

	// A task's workload identity.
	nodes := registerNodes(t, s.Client, 1)
	if _, err := s.Client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: parseJob(t, identityJob)}); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, s.Client, "web")
	allocs, _, err := s.Client.Jobs().Allocations(ctx, "web", nil)
	if err != nil || len(liveAllocs(allocs)) != 1 {
		t.Fatalf("allocations %v %v", allocs, err)
	}
	ids, err := asNode(s.Client, nodes[0].ID).Allocations().Identities(ctx, liveAllocs(allocs)[0].ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	var def, named string
	for _, si := range ids.Identities {
		if si.Name == "default" || si.Name == "" {
			def = si.JWT
		} else {
			named = si.JWT
		}
	}
	if def == "" || named == "" {
		t.Fatalf("identities %+v", ids.Identities)
	}
	task := s.Client.WithToken(def).Variables()
	for _, p := range []string{"nomad/jobs/web", "nomad/jobs/web/web/server"} {
		if v, _, err := task.Get(ctx, "", p, nil); err != nil || v.Items["k"] != p {
			t.Errorf("task reads %s: %+v %v", p, v, err)
		}
	}
	for _, p := range []string{"nomad/jobs/other", "app/x"} {
		if _, _, err := task.Get(ctx, "", p, nil); statusCode(err) != http.StatusForbidden {
			t.Errorf("task reads %s: %v, want 403", p, err)
		}
	}
	if _, err := task.Put(ctx, &api.Variable{Path: "nomad/jobs/web", Items: map[string]string{"k": "v"}}, nil); statusCode(err) != http.StatusForbidden {
		t.Errorf("task writes: %v, want 403", err)
	}
	if _, _, err := s.Client.WithToken(def).Jobs().List(ctx, nil); statusCode(err) != http.StatusForbidden {
		t.Errorf("a workload identity lists jobs: %v, want 403", err)
	}
	// Only the default identity is a token; a forged one is refused.
	if _, _, err := s.Client.WithToken(named).Variables().Get(ctx, "", "nomad/jobs/web", nil); statusCode(err) != http.StatusForbidden {
		t.Errorf("named identity: %v, want 403", err)
	}
	forged := def[:len(def)-4] + "AAAA"
	if _, _, err := s.Client.WithToken(forged).Variables().Get(ctx, "", "nomad/jobs/web", nil); statusCode(err) != http.StatusForbidden {
		t.Errorf("forged identity: %v, want 403", err)
	}
}
