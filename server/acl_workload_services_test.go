package server_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/server"
	"github.com/droverhq/drover/server/servertest"
)

// inNamespace puts a job's HCL in namespace ns.
func inNamespace(src, ns string) string {
	i := strings.Index(src, "{")
	return src[:i+1] + "\n  namespace = \"" + ns + "\"" + src[i+1:]
}

// nsQuery is the query options of namespace ns.
func nsQuery(ns string) *api.QueryOptions {
	return &api.QueryOptions{Params: map[string]string{"namespace": ns}}
}

// waitLiveAllocs waits until the job in namespace ns has n live
// allocations and returns them.
func waitLiveAllocs(t *testing.T, c *api.Client, ns, jobID string, n int) []*cluster.Allocation {
	t.Helper()
	var live []*cluster.Allocation
	servertest.WaitFor(t, jobID+" placed in "+ns, func() bool {
		allocs, _, err := c.Jobs().Allocations(ctxT(t), jobID, nsQuery(ns))
		live = liveAllocs(allocs)
		return err == nil && len(live) == n
	})
	return live
}

// taskJWT is the default workload identity of the allocation's tasks, as
// the node's agent fetches it.
func taskJWT(t *testing.T, c *api.Client, node *cluster.Node, allocID string) string {
	t.Helper()
	ids, err := asNode(c, node.ID).Allocations().Identities(ctxT(t), allocID, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, si := range ids.Identities {
		if si.Name == "default" {
			return si.JWT
		}
	}
	t.Fatalf("allocation %s has no default identity: %+v", allocID, ids.Identities)
	return ""
}

// TestWorkloadIdentityServiceReads: a task's workload identity reads the
// service catalog of its own namespace (GET /v1/service/NAME and GET
// /v1/services, what nomadService and nomadServices watch) with no
// policy, as Nomad's implicit workload policy allows; it reads no other
// namespace's, and every other route a token needs a capability for
// (jobs, allocations, evaluations, deployments, nodes, writes) still
// refuses it. ACL tokens read services with read-job, as before.
func TestWorkloadIdentityServiceReads(t *testing.T) {
	s := servertest.Single(t, noHeartbeats, func(c *server.Config) {
		c.ACL = true
		c.Token = testMgmtToken
	})
	ctx := ctxT(t)
	addr := "http://" + s.HTTPAddr()
	node := serviceNode(t, s.Client)

	// api registers services api and api-admin in both namespaces; web
	// (no service) runs in both, and its tasks hold the identities.
	apiIDs := map[string]string{}
	jwts := map[string]string{}
	webAlloc := map[string]string{}
	for _, ns := range []string{"default", "other"} {
		for _, src := range []string{apiJob(1), identityJob} {
			if _, err := s.Client.Jobs().Register(ctx, &api.JobRegisterRequest{Job: parseJob(t, inNamespace(src, ns))}); err != nil {
				t.Fatal(err)
			}
		}
		apiAllocs := waitLiveAllocs(t, s.Client, ns, "api", 1)
		apiIDs[ns] = apiAllocs[0].ID
		web := waitLiveAllocs(t, s.Client, ns, "web", 1)
		webAlloc[ns] = web[0].ID
		jwts[ns] = taskJWT(t, s.Client, node, web[0].ID)
		if _, err := asNode(s.Client, node.ID).Nodes().UpdateAllocs(ctx, node.ID, []*cluster.Allocation{{
			ID: apiIDs[ns], ClientStatus: cluster.AllocClientRunning,
			TaskStates: map[string]*cluster.TaskState{"server": {State: cluster.TaskStateRunning}},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	servertest.WaitFor(t, "api registered in both namespaces", func() bool {
		list, _, err := s.Client.Services().List(ctx, nsQuery("*"))
		return err == nil && len(list) == 2
	})

	for _, ns := range []string{"default", "other"} {
		other := map[string]string{"default": "other", "other": "default"}[ns]
		task := s.Client.WithToken(jwts[ns])
		t.Run("workload of "+ns, func(t *testing.T) {
			// Allowed: the two catalog reads of its own namespace, with
			// that namespace's instances and nothing of the other's.
			regs, _, err := task.Services().Get(ctx, "api", nsQuery(ns))
			if err != nil || len(regs) != 1 || regs[0].Namespace != ns || regs[0].AllocID != apiIDs[ns] {
				t.Errorf("nomadService api: %s %v, want the instance of alloc %s in %s", asJSONT(t, regs), err, apiIDs[ns], ns)
			}
			list, _, err := task.Services().List(ctx, nsQuery(ns))
			if err != nil || len(list) != 1 || list[0].Namespace != ns || len(list[0].Services) != 2 ||
				list[0].Services[0].ServiceName != "api" || list[0].Services[1].ServiceName != "api-admin" {
				t.Errorf("nomadServices: %s %v, want api and api-admin of %s only", asJSONT(t, list), err, ns)
			}

			// Refused: everything else, with the identity's own job and
			// allocation IDs (not a 404 in disguise).
			for _, tc := range []struct{ method, path string }{
				{"GET", "/v1/services?namespace=" + other},
				{"GET", "/v1/service/api?namespace=" + other},
				{"GET", "/v1/services?namespace=*"},
				{"DELETE", "/v1/service/api/x?namespace=" + ns},
				{"GET", "/v1/jobs?namespace=" + ns},
				{"GET", "/v1/job/web?namespace=" + ns},
				{"GET", "/v1/job/api?namespace=" + ns},
				{"GET", "/v1/job/web/allocations?namespace=" + ns},
				{"GET", "/v1/allocations?namespace=" + ns},
				{"GET", "/v1/allocation/" + webAlloc[ns] + "?namespace=" + ns},
				{"GET", "/v1/evaluations?namespace=" + ns},
				{"GET", "/v1/deployments?namespace=" + ns},
				{"GET", "/v1/nodes"},
				{"GET", "/v1/node/" + node.ID + "/allocations"},
			} {
				var body []byte
				if tc.method != "GET" {
					body = []byte("{}")
				}
				if code, e := rawRequest(t, tc.method, addr+tc.path, jwts[ns], body); code != http.StatusForbidden {
					t.Errorf("%s %s: %d %q, want 403", tc.method, tc.path, code, e.Error)
				}
			}
		})
	}

	// Every route of the table that needs a capability, but the two
	// catalog reads (and the variable reads and any-token routes a
	// workload identity is known to pass), refuses it and changes
	// nothing: the exception is those two routes, not read-job.
	t.Run("route table", func(t *testing.T) {
		allowed := map[string]bool{"GET /v1/services": true, "GET /v1/service/{name}": true}
		checked := 0
		for _, rt := range s.Routes() {
			switch rt.Capability {
			case server.CapPublic, server.CapWebhook, server.CapJoinToken, server.CapServerProof,
				server.CapAnyToken, server.CapVarRead, server.CapVarList:
				continue
			}
			before := stateIndexes(s)
			code, msg := routeRequest(t, addr, rt, jwts["default"])
			refused := code == http.StatusForbidden && strings.Contains(msg, "permission denied")
			if want := !allowed[rt.Method+" "+rt.Pattern]; refused != want {
				t.Errorf("%s %s (%s) with a workload identity: %d %q, refused=%v, want %v", rt.Method, rt.Pattern, rt.Capability, code, msg, refused, want)
			}
			if after := stateIndexes(s); after != before {
				t.Errorf("%s %s with a workload identity changed the state: %s -> %s", rt.Method, rt.Pattern, before, after)
			}
			checked++
		}
		if checked < 40 {
			t.Fatalf("only %d routes checked", checked)
		}
	})

	// What the identity is told it holds: no namespace capability, since
	// it holds none (read-job routes refuse it); the catalog reads are
	// granted by what it is, like an agent certificate's job reads.
	t.Run("capabilities answer", func(t *testing.T) {
		code, body := capabilitiesGet(t, addr+"/v1/acl/token/self/capabilities?namespace=default&namespace=other", jwts["default"])
		var got api.ACLCapabilities
		if err := json.Unmarshal([]byte(body), &got); code != http.StatusOK || err != nil {
			t.Fatalf("%d %s %v", code, body, err)
		}
		if got.Management || len(got.Namespaces["default"]) != 0 || len(got.Namespaces["other"]) != 0 || got.Node != "" {
			t.Errorf("a workload identity is told %s; want no capability", body)
		}
	})

	// ACL tokens: read (or read-job alone) still reads services; lists
	// across namespaces show only readable ones; list-jobs alone does not.
	t.Run("tokens", func(t *testing.T) {
		read := s.Client.WithToken(mustToken(t, s.Client, "svc-read", `namespace "default" { policy = "read" }`))
		readJob := s.Client.WithToken(mustToken(t, s.Client, "svc-read-job", `namespace "*" { capabilities = ["read-job"] }`))
		notOther := s.Client.WithToken(mustToken(t, s.Client, "svc-not-other", `namespace "*" { policy = "read" }
namespace "other" { policy = "deny" }`))
		listJobs := s.Client.WithToken(mustToken(t, s.Client, "svc-list-jobs", `namespace "*" { capabilities = ["list-jobs"] }`))
		if regs, _, err := read.Services().Get(ctx, "api", nil); err != nil || len(regs) != 1 {
			t.Errorf("read policy, service api: %v %v", regs, err)
		}
		if list, _, err := notOther.Services().List(ctx, nsQuery("*")); err != nil || len(list) != 1 || list[0].Namespace != "default" {
			t.Errorf("read on * but other, namespace=*: %s %v, want default only", asJSONT(t, list), err)
		}
		if _, _, err := read.Services().List(ctx, nsQuery("other")); statusCode(err) != http.StatusForbidden {
			t.Errorf("read policy on default, namespace=other: %v, want 403", err)
		}
		list, _, err := readJob.Services().List(ctx, nsQuery("*"))
		var namespaces []string
		for _, l := range list {
			namespaces = append(namespaces, l.Namespace)
		}
		if err != nil || !slices.Equal(namespaces, []string{"default", "other"}) {
			t.Errorf("read-job on *, namespace=*: %v %v, want default and other", namespaces, err)
		}
		if _, _, err := readJob.Services().Get(ctx, "api", nsQuery("other")); err != nil {
			t.Errorf("read-job on *, service api in other: %v", err)
		}
		for _, q := range []*api.QueryOptions{nil, nsQuery("other")} {
			if _, _, err := listJobs.Services().List(ctx, q); statusCode(err) != http.StatusForbidden {
				t.Errorf("list-jobs only, services %v: %v, want 403", q, err)
			}
			if _, _, err := listJobs.Services().Get(ctx, "api", q); statusCode(err) != http.StatusForbidden {
				t.Errorf("list-jobs only, service api %v: %v, want 403", q, err)
			}
		}
	})
}
