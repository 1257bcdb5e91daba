package state_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/state"
)

func poolNames(ps []*cluster.NodePool) string {
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	return strings.Join(names, ",")
}

func TestNodePoolBuiltInsExistWithoutAWrite(t *testing.T) {
	h := newFSM(t)
	snap := h.snap()
	if got := poolNames(snap.NodePools()); got != "all,default" {
		t.Fatalf("pools of an empty store: %s, want all,default", got)
	}
	for _, name := range []string{"all", "default"} {
		if p := snap.NodePool(name); p == nil || p.Description == "" {
			t.Errorf("built-in pool %q: %+v", name, p)
		}
	}
	if snap.NodePool("edge") != nil {
		t.Error("an unknown pool exists")
	}
}

func TestNodePoolUpsertAndDelete(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgNodePoolUpsert, &state.NodePoolUpsertRequest{Now: t0, NodePools: []*cluster.NodePool{
		{Name: "edge", Description: "edge sites", Meta: map[string]string{"owner": "sre"}},
		{Name: "gpu"},
	}})
	created := h.index
	if got := poolNames(h.snap().NodePools()); got != "all,default,edge,gpu" {
		t.Fatalf("pools: %s", got)
	}
	// A replacement keeps the create index.
	h.must(state.MsgNodePoolUpsert, &state.NodePoolUpsertRequest{Now: t0, NodePools: []*cluster.NodePool{{Name: "edge", Description: "edge v2"}}})
	p := h.snap().NodePool("edge")
	if p.Description != "edge v2" || p.Meta != nil || p.CreateIndex != created || p.ModifyIndex != h.index {
		t.Fatalf("after replace: %+v (created at %d, now %d)", p, created, h.index)
	}
	if got := h.snap().Index(state.TableNodePools); got != h.index {
		t.Fatalf("table index %d, want %d", got, h.index)
	}
	h.must(state.MsgNodePoolDelete, &state.NodePoolDeleteRequest{Names: []string{"gpu"}, Now: t0})
	if got := poolNames(h.snap().NodePools()); got != "all,default,edge" {
		t.Fatalf("after delete: %s", got)
	}
}

func TestNodePoolWritesRefused(t *testing.T) {
	long := strings.Repeat("x", 129)
	for _, tc := range []struct {
		name string
		typ  state.MessageType
		req  any
		want string
	}{
		{"modify all", state.MsgNodePoolUpsert, &state.NodePoolUpsertRequest{NodePools: []*cluster.NodePool{{Name: "all", Description: "x"}}}, `modifying node pool "all" is not allowed`},
		{"modify default", state.MsgNodePoolUpsert, &state.NodePoolUpsertRequest{NodePools: []*cluster.NodePool{{Name: "default"}}}, `modifying node pool "default" is not allowed`},
		{"bad name", state.MsgNodePoolUpsert, &state.NodePoolUpsertRequest{NodePools: []*cluster.NodePool{{Name: "no/slash"}}}, "must match regex ^[a-zA-Z0-9-_]{1,128}$"},
		{"long name", state.MsgNodePoolUpsert, &state.NodePoolUpsertRequest{NodePools: []*cluster.NodePool{{Name: long}}}, "must match regex"},
		{"long description", state.MsgNodePoolUpsert, &state.NodePoolUpsertRequest{NodePools: []*cluster.NodePool{{Name: "a", Description: strings.Repeat("d", 257)}}}, "description longer than 256"},
		{"none", state.MsgNodePoolUpsert, &state.NodePoolUpsertRequest{}, "must specify at least one node pool"},
		{"delete all", state.MsgNodePoolDelete, &state.NodePoolDeleteRequest{Names: []string{"all"}}, `deleting built-in node pool "all" is not allowed`},
		{"delete default", state.MsgNodePoolDelete, &state.NodePoolDeleteRequest{Names: []string{"default"}}, `deleting built-in node pool "default" is not allowed`},
		{"delete unknown", state.MsgNodePoolDelete, &state.NodePoolDeleteRequest{Names: []string{"nope"}}, `node pool "nope" not found`},
		{"delete none", state.MsgNodePoolDelete, &state.NodePoolDeleteRequest{}, "must specify at least one node pool to delete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newFSM(t)
			err, _ := h.apply(tc.typ, tc.req).(error)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if got := poolNames(h.snap().NodePools()); got != "all,default" {
				t.Fatalf("a refused write changed the pools: %s", got)
			}
		})
	}
}

// A node naming a pool that does not exist creates it, as in Nomad; a
// node may not register in "all".
func TestNodeRegisterCreatesItsPool(t *testing.T) {
	h := newFSM(t)
	n := testNode("n1")
	n.NodePool = "edge"
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: n, Now: t0})
	p := h.snap().NodePool("edge")
	if p == nil || p.CreateIndex != h.index {
		t.Fatalf("pool edge after the node registered: %+v", p)
	}
	if got := len(h.snap().NodesInPool("edge")); got != 1 {
		t.Fatalf("edge has %d nodes, want 1", got)
	}
	// A node without a pool is in default, and every node is in all.
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: testNode("n2"), Now: t0})
	if d, a := len(h.snap().NodesInPool("default")), len(h.snap().NodesInPool("all")); d != 1 || a != 2 {
		t.Fatalf("default has %d nodes (want 1), all %d (want 2)", d, a)
	}

	bad := testNode("n3")
	bad.NodePool = "all"
	err, _ := h.apply(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: bad, Now: t0}).(error)
	if err == nil || !strings.Contains(err.Error(), `node is not allowed to register in node pool "all"`) {
		t.Fatalf("node in pool all: %v", err)
	}
	if h.snap().Node("n3") != nil {
		t.Fatal("the refused node was stored")
	}
}

func TestJobRegisterNeedsAnExistingPool(t *testing.T) {
	h := newFSM(t)
	j := testJob("web", "c1", 1)
	j.Spec.NodePool = "edge"
	err, _ := h.apply(state.MsgJobRegister, &state.JobRegisterRequest{Job: j, Now: t0}).(error)
	if err == nil || !errors.Is(err, state.ErrInvalid) || !strings.Contains(err.Error(), `job "web" is in nonexistent node pool "edge"`) {
		t.Fatalf("job in a missing pool: %v", err)
	}
	h.must(state.MsgNodePoolUpsert, &state.NodePoolUpsertRequest{NodePools: []*cluster.NodePool{{Name: "edge"}}, Now: t0})
	j = testJob("web", "c1", 1)
	j.Spec.NodePool = "edge"
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: j, Now: t0})
	for _, pool := range []string{"", "default", "all"} {
		j := testJob("j-"+pool, "c1", 1)
		j.Spec.NodePool = pool
		h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: j, Now: t0})
	}
	if got := len(h.snap().JobsInPool("default")); got != 2 {
		t.Fatalf("default has %d jobs, want 2 (no pool, and default)", got)
	}
	if got := len(h.snap().JobsInPool("edge")); got != 1 {
		t.Fatalf("edge has %d jobs, want 1", got)
	}
}

// A pool in use is not deleted: Nomad's messages name what holds it.
func TestNodePoolDeleteRefusedWhileInUse(t *testing.T) {
	h := newFSM(t)
	h.must(state.MsgNodePoolUpsert, &state.NodePoolUpsertRequest{NodePools: []*cluster.NodePool{{Name: "edge"}, {Name: "batch"}}, Now: t0})
	n := testNode("n1")
	n.NodePool = "edge"
	h.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: n, Now: t0})
	j := testJob("web", "c1", 1)
	j.Spec.NodePool = "batch"
	h.must(state.MsgJobRegister, &state.JobRegisterRequest{Job: j, Now: t0})

	for pool, want := range map[string]string{
		"edge":  `node pool "edge" has nodes in regions: [eu]`,
		"batch": `node pool "batch" has non-terminal jobs in regions: [eu]`,
	} {
		err, _ := h.apply(state.MsgNodePoolDelete, &state.NodePoolDeleteRequest{Names: []string{pool}, Region: "eu", Now: t0}).(error)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("delete %s: %v, want %q", pool, err, want)
		}
		if h.snap().NodePool(pool) == nil {
			t.Errorf("pool %s was deleted", pool)
		}
	}
	// Stopped, with nothing running: the job no longer holds the pool.
	h.must(state.MsgJobDeregister, &state.JobDeregisterRequest{JobID: "web", Now: t0})
	h.must(state.MsgNodePoolDelete, &state.NodePoolDeleteRequest{Names: []string{"batch"}, Now: t0})
	if h.snap().NodePool("batch") != nil {
		t.Fatal("batch survived its delete")
	}
}

func TestNodePoolsSurviveSnapshotRestore(t *testing.T) {
	src := newFSM(t)
	src.must(state.MsgNodePoolUpsert, &state.NodePoolUpsertRequest{NodePools: []*cluster.NodePool{
		{Name: "edge", Description: "edge sites", Meta: map[string]string{"owner": "sre"}},
	}, Now: t0})
	n := testNode("n1")
	n.NodePool = "gpu"
	src.must(state.MsgNodeRegister, &state.NodeRegisterRequest{Node: n, Now: t0})
	want := asJSON(t, src.snap().NodePools())

	var buf bytes.Buffer
	persist(t, src.fsm, &buf)
	dst := newFSM(t)
	if err := dst.fsm.Restore(readCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if got := asJSON(t, dst.snap().NodePools()); got != want {
		t.Fatalf("restored pools:\n%s\nwant:\n%s", got, want)
	}
	if got, w := dst.snap().Index(state.TableNodePools), src.snap().Index(state.TableNodePools); got != w || got == 0 {
		t.Fatalf("restored table index %d, want %d", got, w)
	}
}
