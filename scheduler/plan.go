package scheduler

import (
	"github.com/droverhq/drover/cluster"
)

// Plan is the outcome of one evaluation: what to place, update and stop.
// The leader checks it with EvaluatePlan against the newest state and then
// commits what was accepted; the scheduler itself changes nothing.
type Plan struct {
	EvalID, Namespace, JobID string
	// Job is the version planned; nil when the job is gone.
	Job *cluster.Job
	// NodeAllocation maps a node ID to its new allocations and to
	// updated copies of allocations that stay (in-place updates).
	NodeAllocation map[string][]*cluster.Allocation
	// NodeUpdate maps a node ID to copies of allocations to stop or
	// evict, with DesiredStatus and DesiredDescription set (and
	// ClientStatus "lost" for allocations on a node that is down).
	NodeUpdate map[string][]*cluster.Allocation
	// Deployment is a deployment to create, if any.
	Deployment *cluster.Deployment
	// DeploymentUpdates change the status of existing deployments, for
	// example to cancel the rollout of a version that a newer one
	// replaces.
	DeploymentUpdates []*DeploymentStatusUpdate
	// Annotations count, per group, what the scheduler decided to do.
	Annotations map[string]*DesiredUpdates
	// FailedTGAllocs explains, per group, why allocations could not be
	// placed.
	FailedTGAllocs map[string]*cluster.AllocMetric
	// FollowUpEvals are evaluations to create with the plan: a delayed
	// reschedule (WaitUntil set) or a blocked evaluation that retries
	// placements when the cluster changes.
	FollowUpEvals []*cluster.Evaluation
}

// DesiredUpdates counts a group's changes by kind, as `nomad job plan`
// annotates them.
type DesiredUpdates struct {
	Place             int `json:"place"`
	Stop              int `json:"stop"`
	InPlaceUpdate     int `json:"in_place_update"`
	DestructiveUpdate int `json:"destructive_update"`
	Ignore            int `json:"ignore"`
	Migrate           int `json:"migrate"`
	Canary            int `json:"canary"`
}

// DeploymentStatusUpdate sets the status of an existing deployment.
type DeploymentStatusUpdate struct {
	DeploymentID      string
	Status            string
	StatusDescription string
}

// IsNoOp reports whether committing the plan would change nothing. Failed
// placements and follow-up evaluations are reported, not committed, so
// they do not count.
func (p *Plan) IsNoOp() bool {
	return p == nil || (len(p.NodeAllocation) == 0 && len(p.NodeUpdate) == 0 &&
		p.Deployment == nil && len(p.DeploymentUpdates) == 0)
}

func newPlan(eval *cluster.Evaluation, job *cluster.Job) *Plan {
	return &Plan{
		EvalID:         eval.ID,
		Namespace:      eval.Namespace,
		JobID:          eval.JobID,
		Job:            job,
		NodeAllocation: map[string][]*cluster.Allocation{},
		NodeUpdate:     map[string][]*cluster.Allocation{},
		Annotations:    map[string]*DesiredUpdates{},
		FailedTGAllocs: map[string]*cluster.AllocMetric{},
	}
}

func (p *Plan) annotation(group string) *DesiredUpdates {
	d := p.Annotations[group]
	if d == nil {
		d = &DesiredUpdates{}
		p.Annotations[group] = d
	}
	return d
}

func (p *Plan) appendAlloc(a *cluster.Allocation) {
	p.NodeAllocation[a.NodeID] = append(p.NodeAllocation[a.NodeID], a)
}

// appendStop records a stopped copy of a.
func (p *Plan) appendStop(a *cluster.Allocation, desc, clientStatus string) *cluster.Allocation {
	c := *a
	c.DesiredStatus = cluster.AllocDesiredStop
	c.DesiredDescription = desc
	if clientStatus != "" {
		c.ClientStatus = clientStatus
	}
	p.NodeUpdate[a.NodeID] = append(p.NodeUpdate[a.NodeID], &c)
	return &c
}

// popStop takes back the last stop recorded for a, when the replacement
// that needed it could not be placed.
func (p *Plan) popStop(a *cluster.Allocation) {
	list := p.NodeUpdate[a.NodeID]
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].ID == a.ID {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(p.NodeUpdate, a.NodeID)
		return
	}
	p.NodeUpdate[a.NodeID] = list
}

// Stop descriptions, in Nomad's words.
const (
	descNotNeeded    = "alloc not needed due to job update"
	descJobStopped   = "alloc not needed as job is stopped"
	descGroupGone    = "alloc not needed as task group was removed"
	descMigrating    = "alloc is being migrated"
	descUpdating     = "alloc is being updated due to job update"
	descLost         = "alloc is lost since its node is down"
	descNodeTainted  = "alloc not needed as node is tainted"
	descInfeasible   = "alloc not needed as node is no longer feasible"
	descDuplicate    = "alloc not needed as another has the same name"
	descCanaryFailed = "canary of a failed deployment"
)

// TriggerQueuedAllocs is the trigger of a blocked evaluation that retries
// the placements a plan could not make.
const TriggerQueuedAllocs = "queued-allocs"
