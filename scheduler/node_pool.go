package scheduler

import (
	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/jobspec"
)

// inNodePool reports whether node n is in the job's node pool: "all"
// holds every node, and a job or node that names no pool is in
// "default". As in Nomad, a node outside the pool is not a candidate at
// all: it is neither evaluated nor counted as filtered, nor available in
// its datacenter.
func inNodePool(spec *jobspec.Job, n *cluster.Node) bool {
	pool := spec.JobNodePool()
	return pool == cluster.NodePoolAll || pool == cluster.NodePoolOf(n)
}
