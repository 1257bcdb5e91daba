package state

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
	memdb "github.com/hashicorp/go-memdb"
)

// TableNodePools holds the node pools operators created and those nodes
// registered into (Nomad creates a node's pool when the node names one
// that does not exist). The built-in pools "all" and "default" are never
// stored: Snapshot.NodePool answers them from cluster.BuiltInNodePool,
// so they exist on every server from the first index on.
const TableNodePools = "node_pools"

// NodePoolUpsertRequest creates or replaces node pools. A pool keeps its
// CreateIndex across replacements.
type NodePoolUpsertRequest struct {
	NodePools []*cluster.NodePool `json:"node_pools"`
	Now       time.Time           `json:"now"`
}

// NodePoolDeleteRequest deletes node pools by name. It fails, deleting
// none, when one is built in, does not exist, or still has nodes or
// jobs that are not dead.
type NodePoolDeleteRequest struct {
	Names []string `json:"names"`
	// Region names the cluster in the refusal, which uses Nomad's words
	// ("has nodes in regions: [global]").
	Region string    `json:"region,omitempty"`
	Now    time.Time `json:"now"`
}

func nodePoolsTable() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableNodePools,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: keyIndex[*cluster.NodePool](1, func(p *cluster.NodePool) []string {
				return []string{p.Name}
			})},
		},
	}
}

// NodePools returns every node pool by name, the built-in ones included.
func (s *Snapshot) NodePools() []*cluster.NodePool {
	out := list[*cluster.NodePool](s.txn.Get(TableNodePools, "id"))
	out = append(out, cluster.BuiltInNodePool(cluster.NodePoolAll), cluster.BuiltInNodePool(cluster.NodePoolDefault))
	slices.SortFunc(out, func(a, b *cluster.NodePool) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// NodePool returns a node pool, built-in or stored, or nil.
func (s *Snapshot) NodePool(name string) *cluster.NodePool {
	if p := cluster.BuiltInNodePool(name); p != nil {
		return p
	}
	return first[*cluster.NodePool](s.txn.First(TableNodePools, "id", name))
}

// NodesInPool returns the nodes of a pool, by ID: every node for "all",
// and for "default" the nodes that name no pool too.
func (s *Snapshot) NodesInPool(name string) []*cluster.Node {
	var out []*cluster.Node
	for _, n := range s.Nodes() {
		if name == cluster.NodePoolAll || cluster.NodePoolOf(n) == name {
			out = append(out, n)
		}
	}
	return out
}

// JobsInPool returns the latest version of every job whose node_pool is
// name ("default" for a job that names none). A job in "all" is listed
// under "all" only, as Nomad lists it.
func (s *Snapshot) JobsInPool(name string) []*cluster.Job {
	var out []*cluster.Job
	for _, j := range s.Jobs() {
		if j.Spec != nil && j.Spec.JobNodePool() == name {
			out = append(out, j)
		}
	}
	return out
}

// CheckNodePoolDelete says why a pool cannot be deleted, in Nomad's
// words, or nil: a built-in pool, a pool that does not exist, and one
// that still has nodes or jobs that are not dead. The server answers the
// operator with it, and the FSM applies the same rule, so that a node
// that registered into the pool in between is not orphaned.
func (s *Snapshot) CheckNodePoolDelete(name, region string) error {
	if cluster.IsBuiltInNodePool(name) {
		return fmt.Errorf("deleting built-in node pool %q is not allowed", name)
	}
	if s.NodePool(name) == nil {
		return fmt.Errorf("node pool %q not found", name)
	}
	if region == "" {
		region = "global"
	}
	var problems []string
	for _, j := range s.JobsInPool(name) {
		if !jobDead(j, s.AllocsByJob(j.Namespace, j.ID)) {
			problems = append(problems, fmt.Sprintf("node pool %q has non-terminal jobs in regions: [%s]", name, region))
			break
		}
	}
	if len(s.NodesInPool(name)) > 0 {
		problems = append(problems, fmt.Sprintf("node pool %q has nodes in regions: [%s]", name, region))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// jobDead reports whether a job is dead as the API reports it (the
// server's jobStatus): nothing of it runs or is wanted, and it is stopped
// or a batch job that ran.
func jobDead(j *cluster.Job, allocs []*cluster.Allocation) bool {
	for _, a := range allocs {
		if !a.Terminal() {
			return false
		}
	}
	return j.Stop || (len(allocs) > 0 && j.Spec != nil && j.Spec.Type == jobspec.JobTypeBatch)
}

// checkJobNodePool refuses a job whose pool does not exist, with Nomad's
// message. A stopped version is let through: stopping a job must work
// whatever became of its pool.
func (w *writer) checkJobNodePool(j *cluster.Job) error {
	if j.Stop || j.Spec == nil {
		return nil
	}
	pool := j.Spec.JobNodePool()
	if w.read().NodePool(pool) == nil {
		return invalid("job %q is in nonexistent node pool %q", j.ID, pool)
	}
	return nil
}

// ensureNodePool creates a node's pool when it does not exist yet, as
// Nomad does when a node registers in a new pool: the agent's
// configuration is enough to start a pool.
func (w *writer) ensureNodePool(n *cluster.Node) error {
	if err := cluster.ValidateNodeNodePool(n.NodePool); err != nil {
		return invalid("node %s: %v", n.ID, err)
	}
	name := cluster.NodePoolOf(n)
	if w.read().NodePool(name) != nil {
		return nil
	}
	return w.insert(TableNodePools, &cluster.NodePool{Name: name, CreateIndex: w.index, ModifyIndex: w.index})
}

func (w *writer) nodePoolUpsert(req *NodePoolUpsertRequest) (any, error) {
	if len(req.NodePools) == 0 {
		return nil, invalid("must specify at least one node pool")
	}
	seen := map[string]bool{}
	for _, p := range req.NodePools {
		if err := p.Validate(); err != nil {
			return nil, invalid("%v", err)
		}
		if seen[p.Name] {
			return nil, invalid("node pool %q is given twice", p.Name)
		}
		seen[p.Name] = true
	}
	r := w.read()
	for _, p := range req.NodePools {
		p.CreateIndex = w.index
		if prev := r.NodePool(p.Name); prev != nil {
			p.CreateIndex = prev.CreateIndex
		}
		p.ModifyIndex = w.index
		if err := w.insert(TableNodePools, p); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (w *writer) nodePoolDelete(req *NodePoolDeleteRequest) (any, error) {
	if len(req.Names) == 0 {
		return nil, invalid("must specify at least one node pool to delete")
	}
	r := w.read()
	for _, name := range req.Names {
		if name == "" {
			return nil, invalid("node pool name is empty")
		}
		if err := r.CheckNodePoolDelete(name, req.Region); err != nil {
			if r.NodePool(name) == nil {
				return nil, notFound("%v", err)
			}
			return nil, invalid("%v", err)
		}
	}
	for _, name := range req.Names {
		if p := first[*cluster.NodePool](w.txn.First(TableNodePools, "id", name)); p != nil {
			if err := w.delete(TableNodePools, p); err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}
