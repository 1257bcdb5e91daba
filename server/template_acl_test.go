package server_test

import (
	"net/http"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// TestWorkloadIdentityReadsServices: a task's workload identity reads the
// service catalog of its namespace (what a template's nomadService
// watches), as in Nomad, and no other namespace's, and still lists no
// jobs.
func TestWorkloadIdentityReadsServices(t *testing.T) {
	s := servertest.Single(t, noHeartbeats, func(c *server.Config) {
		c.ACL = true
		c.Token = testMgmtToken
	})
	ctx := ctxT(t)
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
	var def string
	for _, si := range ids.Identities {
		if si.Name == "default" {
			def = si.JWT
		}
	}
	task := s.Client.WithToken(def)
	if _, _, err := task.Services().Get(ctx, "api", nil); err != nil {
		t.Errorf("the task reads service api of its namespace: %v", err)
	}
	if _, _, err := task.Services().Get(ctx, "api", &api.QueryOptions{Params: map[string]string{"namespace": "other"}}); statusCode(err) != http.StatusForbidden {
		t.Errorf("the task reads another namespace's service: %v, want 403", err)
	}
	if _, err := task.Services().Delete(ctx, "", "api", "x"); statusCode(err) != http.StatusForbidden {
		t.Errorf("the task deletes a service: %v, want 403", err)
	}
	if _, _, err := task.Jobs().List(ctx, nil); statusCode(err) != http.StatusForbidden {
		t.Errorf("the task lists jobs: %v, want 403", err)
	}
}
