package state

import (
	"fmt"

	"github.com/droverhq/drover/cluster"
	memdb "github.com/hashicorp/go-memdb"
)

// Snapshot is a consistent read-only view of the store at one point in
// time. Its methods return records shared with the store and with other
// snapshots: callers must not modify them (use Copy, or copy the struct,
// before changing anything). Lists are in key order unless stated
// otherwise. A Snapshot is safe for concurrent use.
type Snapshot struct {
	txn      *memdb.Txn
	abandonC <-chan struct{}
}

// Index returns the Raft index of the newest write to any of the tables,
// or to any table when none is named. It is the X-Drover-Index of a read.
func (s *Snapshot) Index(tables ...string) uint64 {
	var max uint64
	if len(tables) == 0 {
		for _, e := range list[*indexEntry](s.txn.Get(tableIndex, "id")) {
			max = maxIndex(max, e.Index)
		}
		return max
	}
	for _, t := range tables {
		if e := first[*indexEntry](s.txn.First(tableIndex, "id", t)); e != nil {
			max = maxIndex(max, e.Index)
		}
	}
	return max
}

func maxIndex(a, b uint64) uint64 {
	if b > a {
		return b
	}
	return a
}

// Jobs returns the latest version of every job.
func (s *Snapshot) Jobs() []*cluster.Job {
	return list[*cluster.Job](s.txn.Get(TableJobs, "id"))
}

// Job returns the latest version of a job, or nil.
func (s *Snapshot) Job(namespace, id string) *cluster.Job {
	return first[*cluster.Job](s.txn.First(TableJobs, "id", namespace, id))
}

// JobVersion returns one version of a job, or nil.
func (s *Snapshot) JobVersion(namespace, id string, version uint64) *cluster.Job {
	return first[*cluster.Job](s.txn.First(TableJobVersions, "id", namespace, id, version))
}

// JobVersions returns every stored version of a job, newest first.
func (s *Snapshot) JobVersions(namespace, id string) []*cluster.Job {
	return list[*cluster.Job](s.txn.GetReverse(TableJobVersions, "id_prefix", namespace, id))
}

// Nodes returns every node.
func (s *Snapshot) Nodes() []*cluster.Node {
	return list[*cluster.Node](s.txn.Get(TableNodes, "id"))
}

// Node returns a node, or nil.
func (s *Snapshot) Node(id string) *cluster.Node {
	return first[*cluster.Node](s.txn.First(TableNodes, "id", id))
}

// Allocs returns every allocation.
func (s *Snapshot) Allocs() []*cluster.Allocation {
	return list[*cluster.Allocation](s.txn.Get(TableAllocs, "id"))
}

// Alloc returns an allocation, or nil.
func (s *Snapshot) Alloc(id string) *cluster.Allocation {
	return first[*cluster.Allocation](s.txn.First(TableAllocs, "id", id))
}

// AllocsByJob returns the allocations of a job, of every version.
func (s *Snapshot) AllocsByJob(namespace, jobID string) []*cluster.Allocation {
	return list[*cluster.Allocation](s.txn.Get(TableAllocs, "job", namespace, jobID))
}

// AllocsByNode returns the allocations placed on a node.
func (s *Snapshot) AllocsByNode(nodeID string) []*cluster.Allocation {
	return list[*cluster.Allocation](s.txn.Get(TableAllocs, "node", nodeID))
}

// AllocsByEval returns the allocations an evaluation placed or updated.
func (s *Snapshot) AllocsByEval(evalID string) []*cluster.Allocation {
	return list[*cluster.Allocation](s.txn.Get(TableAllocs, "eval", evalID))
}

// AllocsByDeployment returns the allocations of a deployment.
func (s *Snapshot) AllocsByDeployment(deploymentID string) []*cluster.Allocation {
	return list[*cluster.Allocation](s.txn.Get(TableAllocs, "deployment", deploymentID))
}

// Evals returns every evaluation.
func (s *Snapshot) Evals() []*cluster.Evaluation {
	return list[*cluster.Evaluation](s.txn.Get(TableEvals, "id"))
}

// Eval returns an evaluation, or nil.
func (s *Snapshot) Eval(id string) *cluster.Evaluation {
	return first[*cluster.Evaluation](s.txn.First(TableEvals, "id", id))
}

// EvalsByJob returns the evaluations of a job.
func (s *Snapshot) EvalsByJob(namespace, jobID string) []*cluster.Evaluation {
	return list[*cluster.Evaluation](s.txn.Get(TableEvals, "job", namespace, jobID))
}

// Deployments returns every deployment.
func (s *Snapshot) Deployments() []*cluster.Deployment {
	return list[*cluster.Deployment](s.txn.Get(TableDeployments, "id"))
}

// Deployment returns a deployment, or nil.
func (s *Snapshot) Deployment(id string) *cluster.Deployment {
	return first[*cluster.Deployment](s.txn.First(TableDeployments, "id", id))
}

// DeploymentsByJob returns the deployments of a job.
func (s *Snapshot) DeploymentsByJob(namespace, jobID string) []*cluster.Deployment {
	return list[*cluster.Deployment](s.txn.Get(TableDeployments, "job", namespace, jobID))
}

// LatestDeployment returns the most recently created deployment of a job,
// or nil.
func (s *Snapshot) LatestDeployment(namespace, jobID string) *cluster.Deployment {
	var latest *cluster.Deployment
	for _, d := range s.DeploymentsByJob(namespace, jobID) {
		if latest == nil || d.CreateIndex > latest.CreateIndex {
			latest = d
		}
	}
	return latest
}

// SyncStatuses returns the sync status of every Git source.
func (s *Snapshot) SyncStatuses() []*cluster.SyncStatus {
	return list[*cluster.SyncStatus](s.txn.Get(TableSyncStatus, "id"))
}

// SyncStatus returns the sync status of the named source, or nil.
func (s *Snapshot) SyncStatus(source string) *cluster.SyncStatus {
	return first[*cluster.SyncStatus](s.txn.First(TableSyncStatus, "id", source))
}

// first and list unwrap memdb results. memdb fails only when a query does
// not match the schema (wrong table, index or argument types): a bug in
// this package, which the tests exercise, so it panics rather than make
// every reader handle an error that cannot happen.
func first[T any](raw any, err error) T {
	if err != nil {
		panic(fmt.Sprintf("state: query: %v", err))
	}
	v, _ := raw.(T)
	return v
}

func list[T any](it memdb.ResultIterator, err error) []T {
	if err != nil {
		panic(fmt.Sprintf("state: query: %v", err))
	}
	var out []T
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(T))
	}
	return out
}
