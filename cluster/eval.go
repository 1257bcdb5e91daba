package cluster

import (
	"time"

	"github.com/droverhq/drover/jobspec"
)

// Evaluation statuses.
const (
	EvalStatusPending  = "pending"
	EvalStatusComplete = "complete"
	EvalStatusFailed   = "failed"
	EvalStatusBlocked  = "blocked"
	EvalStatusCanceled = "canceled"
)

// What triggers an evaluation.
const (
	EvalTriggerJobRegister   = "job-register"
	EvalTriggerJobDeregister = "job-deregister"
	EvalTriggerNodeUpdate    = "node-update"
	EvalTriggerAllocFailure  = "alloc-failure"
	EvalTriggerDeployment    = "deployment-watcher"
	EvalTriggerRetryFailed   = "retry-failed"
	EvalTriggerPeriodicJob   = "periodic-job"
)

// Evaluation asks the scheduler to reconcile one job with the cluster.
type Evaluation struct {
	ID                string          `json:"id"`
	Namespace         string          `json:"namespace"`
	JobID             string          `json:"job_id"`
	Type              jobspec.JobType `json:"type"`
	Priority          int             `json:"priority"`
	TriggeredBy       string          `json:"triggered_by"`
	NodeID            string          `json:"node_id,omitempty"`
	DeploymentID      string          `json:"deployment_id,omitempty"`
	JobModifyIndex    uint64          `json:"job_modify_index"`
	Status            string          `json:"status"`
	StatusDescription string          `json:"status_description,omitempty"`
	// FailedTGAllocs explains, per group, why allocations could not be
	// placed.
	FailedTGAllocs map[string]*AllocMetric `json:"failed_tg_allocs,omitempty"`
	// QueuedAllocations counts, per group, allocations still unplaced.
	QueuedAllocations map[string]int `json:"queued_allocations,omitempty"`
	PreviousEval      string         `json:"previous_eval,omitempty"`
	BlockedEval       string         `json:"blocked_eval,omitempty"`
	// WaitUntil delays a reschedule evaluation.
	WaitUntil time.Time `json:"wait_until,omitempty"`

	CreateIndex uint64    `json:"create_index"`
	ModifyIndex uint64    `json:"modify_index"`
	CreateTime  time.Time `json:"create_time"`
	ModifyTime  time.Time `json:"modify_time"`
}

// AllocMetric explains a placement decision, or why there was none, the
// way Nomad's "Constraint ... filtered N nodes" does.
type AllocMetric struct {
	NodesEvaluated int            `json:"nodes_evaluated"`
	NodesFiltered  int            `json:"nodes_filtered"`
	NodesAvailable map[string]int `json:"nodes_available,omitempty"` // per datacenter
	// ConstraintFiltered counts nodes filtered per constraint, keyed by
	// its text, e.g. `${attr.kernel.name} = windows`.
	ConstraintFiltered map[string]int `json:"constraint_filtered,omitempty"`
	ClassFiltered      map[string]int `json:"class_filtered,omitempty"`
	NodesExhausted     int            `json:"nodes_exhausted"`
	// DimensionExhausted counts exhausted nodes per resource: "cpu",
	// "memory", "network: port collision", ...
	DimensionExhausted map[string]int `json:"dimension_exhausted,omitempty"`
	// CoalescedFailures counts further allocations of the group that
	// failed for the same reasons.
	CoalescedFailures int `json:"coalesced_failures,omitempty"`
	// Scores of the chosen node, by scorer name, for placements.
	Scores map[string]float64 `json:"scores,omitempty"`
}
