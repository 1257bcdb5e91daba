// Package cluster holds the records of a running cluster that are not job
// specifications: nodes, allocations, evaluations, deployments, and the
// versions of jobs as the cluster stores them (a jobspec.Job plus where it
// came from). The state store replicates these records through Raft and
// the scheduler reads them; neither owns them, so they live here, below
// both, and import only jobspec.
package cluster
