package cluster

import "time"

// Deployment statuses.
const (
	DeploymentRunning    = "running"
	DeploymentPaused     = "paused"
	DeploymentSuccessful = "successful"
	DeploymentFailed     = "failed"
	DeploymentCancelled  = "cancelled"
)

// Deployment tracks the rollout of one job version.
type Deployment struct {
	ID                string                      `json:"id"`
	Namespace         string                      `json:"namespace"`
	JobID             string                      `json:"job_id"`
	JobVersion        uint64                      `json:"job_version"`
	Status            string                      `json:"status"`
	StatusDescription string                      `json:"status_description,omitempty"`
	TaskGroups        map[string]*DeploymentGroup `json:"task_groups"`

	CreateIndex uint64    `json:"create_index"`
	ModifyIndex uint64    `json:"modify_index"`
	CreateTime  time.Time `json:"create_time"`
	ModifyTime  time.Time `json:"modify_time"`
}

// Active reports whether the deployment is still in progress.
func (d *Deployment) Active() bool {
	return d.Status == DeploymentRunning || d.Status == DeploymentPaused
}

// DeploymentGroup is one task group's progress in a deployment.
type DeploymentGroup struct {
	AutoRevert        bool          `json:"auto_revert,omitempty"`
	AutoPromote       bool          `json:"auto_promote,omitempty"`
	Promoted          bool          `json:"promoted,omitempty"`
	DesiredCanaries   int           `json:"desired_canaries"`
	DesiredTotal      int           `json:"desired_total"`
	PlacedCanaries    []string      `json:"placed_canaries,omitempty"`
	PlacedAllocs      int           `json:"placed_allocs"`
	HealthyAllocs     int           `json:"healthy_allocs"`
	UnhealthyAllocs   int           `json:"unhealthy_allocs"`
	ProgressDeadline  time.Duration `json:"progress_deadline"`
	RequireProgressBy time.Time     `json:"require_progress_by"`
}
