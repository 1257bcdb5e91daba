// Package scheduler turns evaluations into placement plans. It is Drover's
// embedded scheduler, modelled on Nomad's: Process is a pure function of a
// state snapshot (State), an evaluation and Options (clock, seeded
// randomness, ID source); it returns a Plan and changes nothing. The
// leader re-checks a plan with EvaluatePlan against the newest state and
// commits what was accepted.
//
// # API
//
//	type State interface { Nodes, Node, Job, JobVersion, AllocsByJob, AllocsByNode, LatestDeployment }
//	type Options struct { Now time.Time; Rand *rand.Rand; NewID func() string }
//	func Process(st State, eval *cluster.Evaluation, opts Options) (*Plan, error)
//	func EvaluatePlan(st State, p *Plan) (accepted *Plan, rejectedNodes []string)
//	func Explain(group string, m *cluster.AllocMetric) []string
//	func (p *Plan) IsNoOp() bool
//
// Process returns ErrInvalidOptions when Options lack Now, Rand or NewID.
// Allocation metrics of one evaluation share one read-only NodesAvailable
// map, as in Nomad.
//
// Plan carries NodeAllocation (new and in-place updated allocations),
// NodeUpdate (stopped copies), an optional new Deployment and
// DeploymentUpdates (an older version's deployment cancelled), per-group
// Annotations (DesiredUpdates), FailedTGAllocs and FollowUpEvals (a
// delayed reschedule with WaitUntil, or a blocked evaluation with
// TriggeredBy TriggerQueuedAllocs). A plan's stops and placements are
// consistent per node: EvaluatePlan accepts or rejects a node whole.
//
// # Job types
//
// Service and batch jobs (generic.go, reconcile.go) keep Count allocations
// per group named "<job>.<group>[<i>]"; scaling down stops the highest
// indexes, placements fill the lowest free ones. Allocations on a node
// that is down are stopped as lost and replaced; on a draining node they
// are migrated; failed ones are rescheduled per the group's policy (now,
// or by a follow-up evaluation when the delay has not passed); a batch
// allocation that completed holds its index and is not replaced. A running
// allocation of an older version is updated in place or replaced
// (destructive) as diff.GroupUpdate decides, the rules `drover plan` shows;
// an in-place update that no longer fits its node or satisfies the
// constraints becomes destructive. A destructive replacement stops its
// predecessor only when it is placed.
//
// System and sysbatch jobs (system.go) get one allocation per group on
// every ready node in their datacenters that satisfies them; a node
// filtered by a constraint is not a failure, a node without room is.
//
// # Placement
//
// Candidates are the ready nodes (status ready, eligible, not draining) in
// the job's datacenters (globs with '*'), shuffled once per evaluation by
// Options.Rand. Each selection scans from where the previous one stopped,
// filters nodes (drivers, then job, group and task constraints, cached
// per node and group; then distinct_hosts and distinct_property, which
// depend on placements), checks ports, cpu and memory, and scores only
// `limit` feasible nodes: 2, or ceil(log2(candidates)) when the group has
// affinities or spreads, skipping up to 3 nodes that score 0 or less, as
// Nomad's LimitIterator does. A placement therefore costs O(log n) node
// visits, not O(n). Scores are Nomad's: bin packing (BestFit v3 on cpu and
// memory), job anti-affinity, a penalty on nodes a rescheduled allocation
// failed on, node affinity and allocation spread, averaged over the
// scorers that apply. Spread keeps per-value counts and their histogram,
// updated on every placement and stop, so scoring is O(1) per node.
//
// # Deployments
//
// A service job version with an update strategy (max_parallel > 0) gets a
// Deployment when the plan places or destructively updates its groups and
// the version has none yet; an older version's active deployment is
// cancelled. Destructive updates per evaluation are capped at max_parallel
// less the allocations of the active deployment whose health is unknown;
// the rest wait for later evaluations (counted as Ignore). A group's
// rollout block picks which go first (rollout_order.go): allocations on
// nodes whose order_by value (or name) is listed in rollout.order, in that
// order, then the rest by node name; not for groups with canaries, and
// for system jobs too. RolloutOrder computes the same order for display.
// A failed or cancelled deployment stops further destructive updates of
// its version.
// Canaries are not implemented yet: DesiredCanaries stays 0 and updates
// roll as if canary = 0. A delayed reschedule does not mark its failed
// allocation with the follow-up evaluation's ID (Allocation has no such
// field), so an evaluation that runs before the delay passes creates
// another follow-up for the same time; whichever runs first places the
// replacement and the others find nothing to do.
//
// # Cost
//
// BenchmarkServiceScheduler (bench_test.go) has the shape of Nomad's
// scheduler benchmarks; it reports wall and CPU time per op because the
// development machines are shared.
package scheduler
