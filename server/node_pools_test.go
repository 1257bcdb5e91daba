package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/gitsource/gittest"
	"github.com/droverhq/drover/server/servertest"
)

func poolNamesOf(ps []*cluster.NodePool) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return strings.Join(out, ",")
}

func wantStatus(t *testing.T, err error, code int, substr string) {
	t.Helper()
	se, ok := err.(*api.StatusError)
	if !ok || se.Code != code || !strings.Contains(se.Message, substr) {
		t.Fatalf("got %v, want %d containing %q", err, code, substr)
	}
}

func TestNodePoolRoutes(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	c, ctx := s.Client, ctxT(t)
	addr := "http://" + s.HTTPAddr()

	pools, _, err := c.NodePools().List(ctx, nil)
	if err != nil || poolNamesOf(pools) != "all,default" {
		t.Fatalf("pools of a new cluster: %s, %v", poolNamesOf(pools), err)
	}
	if _, err := c.NodePools().Register(ctx, &api.NodePoolRegisterRequest{Name: "edge", Description: "edge sites", Meta: map[string]string{"owner": "sre"}}); err != nil {
		t.Fatal(err)
	}
	p, _, err := c.NodePools().Info(ctx, "edge", nil)
	if err != nil || p.Description != "edge sites" || p.Meta["owner"] != "sre" {
		t.Fatalf("info edge: %+v, %v", p, err)
	}
	// Nomad's body, with its capitalised keys.
	if code, e := rawRequest(t, http.MethodPost, addr+"/v1/node/pools", "", []byte(`{"Name":"gpu","Description":"GPUs","Meta":{"vendor":"x"}}`)); code != http.StatusOK {
		t.Fatalf("Nomad's body: %d %s", code, e.Error)
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown field", `{"name":"x","descriptoin":"y"}`, `unknown field "descriptoin"`},
		{"built-in all", `{"name":"all","description":"mine"}`, `modifying node pool "all" is not allowed`},
		{"built-in default", `{"name":"default"}`, `modifying node pool "default" is not allowed`},
		{"bad name", `{"name":"a b"}`, "must match regex"},
		{"long description", `{"name":"x","description":"` + strings.Repeat("d", 300) + `"}`, "description longer than 256"},
		{"two values", `{"name":"x"}{}`, "more than one value"},
	} {
		if code, e := rawRequest(t, http.MethodPut, addr+"/v1/node/pools", "", []byte(tc.body)); code != http.StatusBadRequest || !strings.Contains(e.Error, tc.want) {
			t.Errorf("%s: %d %q, want 400 containing %q", tc.name, code, e.Error, tc.want)
		}
	}
	if code, _ := rawRequest(t, http.MethodPost, addr+"/v1/node/pools", "", []byte(`{"name":"big","description":"`+strings.Repeat("x", 2<<20)+`"}`)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 2 MiB body: %d, want 413", code)
	}
	pools, _, _ = c.NodePools().List(ctx, nil)
	if got := poolNamesOf(pools); got != "all,default,edge,gpu" {
		t.Fatalf("pools: %s", got)
	}
	pools, _, _ = c.NodePools().List(ctx, &api.QueryOptions{Prefix: "g"})
	if got := poolNamesOf(pools); got != "gpu" {
		t.Fatalf("pools with prefix g: %s", got)
	}
	_, _, err = c.NodePools().Info(ctx, "nope", nil)
	wantStatus(t, err, http.StatusNotFound, `node pool "nope" not found`)
	if code, _ := rawRequest(t, http.MethodGet, addr+"/v1/node/nopool/edge", "", nil); code != http.StatusNotFound {
		t.Errorf("GET /v1/node/nopool/edge: %d, want 404", code)
	}

	// Nodes: one in edge, one in a pool nobody created (created for it),
	// one in none (default); none may register in "all".
	nodes := []*cluster.Node{testNode(1), testNode(2), testNode(3)}
	nodes[0].NodePool, nodes[1].NodePool = "edge", "fresh"
	for _, n := range nodes {
		if _, err := asNode(c, n.ID).Nodes().Register(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	bad := testNode(4)
	bad.NodePool = "all"
	_, err = asNode(c, bad.ID).Nodes().Register(ctx, bad)
	wantStatus(t, err, http.StatusBadRequest, `node is not allowed to register in node pool "all"`)
	if _, _, err := c.NodePools().Info(ctx, "fresh", nil); err != nil {
		t.Fatalf("the pool a node named was not created: %v", err)
	}
	for pool, want := range map[string]int{"edge": 1, "fresh": 1, "default": 1, "all": 3, "gpu": 0} {
		ns, _, err := c.NodePools().ListNodes(ctx, pool, nil)
		if err != nil || len(ns) != want {
			t.Errorf("nodes of %s: %d, %v; want %d", pool, len(ns), err, want)
		}
		for _, n := range ns {
			if pool != "all" && n.NodePool != pool {
				t.Errorf("node %s listed in %s says pool %q", n.Name, pool, n.NodePool)
			}
		}
	}

	// Jobs: a missing pool is refused with Nomad's message, for a
	// register and a plan alike.
	spec := parseJob(t, webJob("web", 3, ""))
	spec.NodePool = "missing"
	_, err = c.Jobs().Register(ctx, &api.JobRegisterRequest{Job: spec})
	wantStatus(t, err, http.StatusBadRequest, `job "web" is in nonexistent node pool "missing"`)
	_, err = c.Jobs().Plan(ctx, spec)
	wantStatus(t, err, http.StatusBadRequest, `nonexistent node pool "missing"`)

	spec.NodePool = "edge"
	if _, err := c.Jobs().Register(ctx, &api.JobRegisterRequest{Job: spec}); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, c, "web")
	allocs, _, err := c.Jobs().Allocations(ctx, "web", nil)
	if err != nil || len(liveAllocs(allocs)) != 3 {
		t.Fatalf("allocations of web: %d, %v", len(allocs), err)
	}
	for _, a := range allocs {
		if a.NodeID != nodes[0].ID {
			t.Errorf("allocation %s on %s, outside pool edge", a.Name, a.NodeID)
		}
	}
	jobs, _, err := c.NodePools().ListJobs(ctx, "edge", nil)
	if err != nil || len(jobs) != 1 || jobs[0].ID != "web" {
		t.Fatalf("jobs of edge: %+v, %v", jobs, err)
	}
	if jobs, _, _ := c.NodePools().ListJobs(ctx, "default", nil); len(jobs) != 0 {
		t.Fatalf("jobs of default: %d, want 0", len(jobs))
	}

	// Deletes: built-ins never, pools in use not, unknown 404.
	_, err = c.NodePools().Delete(ctx, "default")
	wantStatus(t, err, http.StatusBadRequest, `deleting built-in node pool "default" is not allowed`)
	_, err = c.NodePools().Delete(ctx, "edge")
	wantStatus(t, err, http.StatusBadRequest, `node pool "edge" has non-terminal jobs in regions: [global]; node pool "edge" has nodes in regions: [global]`)
	_, err = c.NodePools().Delete(ctx, "nope")
	wantStatus(t, err, http.StatusNotFound, `node pool "nope" not found`)
	if _, err := c.NodePools().Delete(ctx, "gpu"); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.NodePools().Info(ctx, "gpu", nil)
	wantStatus(t, err, http.StatusNotFound, "not found")
}

func FuzzNodePoolRegister(f *testing.F) {
	fuzzPost(f, "POST", "/v1/node/pools",
		[]byte(`{"name":"edge","description":"edge sites","meta":{"owner":"sre"}}`),
		[]byte(`{"Name":"gpu","Description":"GPUs","Meta":{"vendor":"x"}}`),
		[]byte(`{"name":"all"}`),
		[]byte(`{"name":"","meta":{"":""}}`))
}

// A job file in Git naming a pool that does not exist is refused through
// the same register as the API's, with Nomad's message and the file. The
// reconciler retries it: once the pool exists (an operator applies it, or
// an agent in it registers), the same commit deploys.
func TestNodePoolGitSourcedJob(t *testing.T) {
	r := gittest.New(t)
	src := strings.Replace(gittest.Job("web", 1), "datacenters = [\"dc1\"]", "datacenters = [\"dc1\"]\n  node_pool   = \"edge\"", 1)
	first := r.Commit("Add web in edge", map[string]string{"jobs/web.hcl": src})
	s := servertest.Single(t, noHeartbeats, withSource("apps", r.Dir, ""))
	c := s.Client
	want := `jobs/web.hcl: job "web" is in nonexistent node pool "edge"`
	waitSync(t, c, "apps", "the pass to fail on the missing pool", func(st *cluster.SyncStatus) bool {
		if st.LastApplied == first {
			t.Fatal("a job in a missing pool was applied")
		}
		return strings.Contains(st.Error, want)
	})
	if _, _, err := c.Jobs().Info(ctxT(t), "web", nil); !api.IsNotFound(err) {
		t.Fatalf("web registered in a missing pool: %v", err)
	}
	if _, err := c.NodePools().Register(ctxT(t), &api.NodePoolRegisterRequest{Name: "edge"}); err != nil {
		t.Fatal(err)
	}
	waitSync(t, c, "apps", "the commit once the pool exists", applied(first))
	if j := job(t, c, "web"); j.Spec.JobNodePool() != "edge" {
		t.Fatalf("web is in pool %q", j.Spec.JobNodePool())
	}
}
